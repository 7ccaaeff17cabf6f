"""What the mapping derives from data, not from hand lists: botocore's models and the reference's prose.

Two derivations, both conservative: where the data leaves a doubt, nothing is derived and the reason is kept,
so that :mod:`trailsmith.actions.mapping` reports the event ``unmapped`` with it.

- **Endpoint hosts -> IAM prefixes.** botocore's service models give, for every API, the endpoint host
  (``endpointPrefix``), the SDK's name for it, its SigV4 signing name and its ``serviceId``. A host stands
  for the endpoint of the models it names (an endpoint prefix, or else a botocore service name:
  ``application-insights`` is the endpoint ``applicationinsights``); the endpoint's IAM prefix is the
  checked override of :data:`trailsmith.actions.rules.HOST_PREFIXES` if there is one, else the endpoint
  itself when it is an IAM prefix, else what its models' names match among the reference's prefixes,
  exactly or but for ``-``, spaces and case (:func:`reference_prefix`). The signing name decides when the
  model has one: SigV4 signs for the IAM namespace that authorises the call. Every model at one endpoint
  must agree.
- **Operation aliases.** Some actions authorise an API operation of another name, and the reference data
  says so in the action's description: lambda:GetLayerVersion "Note this action also supports
  GetLayerVersionByArn API". Only that wording is read (:data:`_ALSO_SUPPORTS`); a name claimed by two
  actions, or that is an action itself, is rejected with the reason.

Everything is loaded on first use and kept: botocore's ~450 models are indexed from the heads of their
files (:func:`model_metadata`, well under a second), and only for hosts that are neither IAM prefixes nor
overrides. The policy resolver (:mod:`trailsmith.policy.extract.models`) reads the same index.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trailsmith.actions import reference as iamref
from trailsmith.actions import rules

__all__ = [
    "Alias",
    "BotocoreService",
    "HostService",
    "botocore_services",
    "host_service",
    "model_metadata",
    "operation_aliases",
    "reference_prefix",
    "rejected_aliases",
    "service_operations",
]

#: The one wording of an alias note: "also supports GetLayerVersionByArn API", "also supports the A and B
#: APIs". Operation names are CamelCase identifiers; anything looser is prose, not a claim about an API.
_ALSO_SUPPORTS = re.compile(
    r"\balso supports (?:the )?"
    r"(?P<names>[A-Z][A-Za-z0-9]+(?:(?:, and |, or |, | and | or )[A-Z][A-Za-z0-9]+)*)"
    r" (?:API|APIs|operations?)\b"
)
_OPERATION = re.compile(r"[A-Z][A-Za-z0-9]+")

#: Signing names that are not the signer's own IAM namespace: ``execute-api`` is API Gateway's invoke
#: namespace, and a model that signs as it (Connect's participant API) is fronted by API Gateway and
#: authorised by its own tokens.
_FRONTED_SIGNING = frozenset({"execute-api"})


@dataclass(frozen=True)
class BotocoreService:
    """The names botocore's latest model gives one API, and its operations."""

    #: botocore's (the SDK's) name: ``application-insights``, ``s3control``.
    name: str
    endpoint_prefix: str
    #: The SigV4 signing name; empty when the model names none (it then signs as its endpoint prefix).
    signing_name: str
    service_id: str


@dataclass(frozen=True)
class HostService:
    """What botocore's models say of one endpoint host: the endpoint it is, its IAM prefix or why none."""

    #: The endpoint prefix the host stands for (the host itself, or the endpoint of the model it names).
    endpoint: str
    prefix: str | None
    reason: str


@dataclass(frozen=True)
class Alias:
    """An API operation the reference data says an action of another name authorises."""

    operation: str
    #: ``prefix:Action`` in the reference's spelling.
    action: str
    #: The description's words that say so.
    note: str


@functools.cache
def _loader() -> Any:
    from botocore.loaders import create_loader  # heavy import, only when a host needs it

    return create_loader()


@functools.cache
def botocore_services() -> tuple[BotocoreService, ...]:
    """Every service model of the installed botocore (latest API version), by botocore name."""
    found: list[BotocoreService] = []
    for name in sorted(_loader().list_available_services("service-2")):
        metadata = model_metadata(name)
        found.append(
            BotocoreService(
                name=name,
                endpoint_prefix=str(metadata["endpointPrefix"]).lower(),
                signing_name=str(metadata.get("signingName") or ""),
                service_id=str(metadata.get("serviceId") or ""),
            )
        )
    return tuple(found)


def service_operations(name: str) -> frozenset[str]:
    """The operations of botocore's model ``name`` (its latest API version); loads the whole model."""
    return frozenset(_loader().load_service_model(name, "service-2")["operations"])


def model_metadata(service: str) -> dict[str, Any]:
    """The ``metadata`` object of a service's latest model, read from the head of its file.

    Every model file starts with its metadata, so reading a few kilobytes of each is enough to index all
    ~450 models in a fraction of a second, where loading them whole takes seconds and keeps them all in
    memory (botocore's loader caches what it loads). A file whose head does not hold the whole object is
    loaded the ordinary way.

    >>> model_metadata("efs")["endpointPrefix"]
    'elasticfilesystem'
    """
    loader = _loader()
    version = loader.determine_latest_version(service, "service-2")
    for root in loader.search_paths:
        base = os.path.join(root, service, version, "service-2.json")
        for path, opener in ((base + ".gz", gzip.open), (base, open)):
            if os.path.exists(path):
                with opener(path, "rb") as handle:
                    head = handle.read(_HEAD_BYTES).decode("utf-8", "replace")
                found = _METADATA.search(head)
                if found is not None:
                    with contextlib.suppress(ValueError):
                        value, _ = json.JSONDecoder().raw_decode(head, found.end() - 1)
                        if isinstance(value, dict):
                            return value
                break
    metadata: dict[str, Any] = loader.load_service_model(service, "service-2")["metadata"]
    return metadata


_HEAD_BYTES = 8192
_METADATA = re.compile(r'"metadata"\s*:\s*\{')


_HEAD_BYTES = 8192
_METADATA = re.compile(r'"metadata"\s*:\s*\{')


def _spelling(name: str) -> str:
    return re.sub(r"[-\s]", "", name).lower()


@functools.cache
def _prefixes_by_spelling() -> Mapping[str, str | None]:
    """Spelling-free key -> the one reference prefix with it; None where two prefixes share one key."""
    found: dict[str, str | None] = {}
    for prefix in sorted(iamref.service_prefixes()):
        key = _spelling(prefix)
        found[key] = None if key in found else prefix
    return found


def reference_prefix(name: str) -> str | None:
    """The reference's service prefix spelled ``name``, exactly or but for ``-``, spaces and case.

    None when there is none, or when two prefixes differ only so (then the spelling cannot tell them apart).

    >>> reference_prefix("Application Insights"), reference_prefix("application-insights")
    ('applicationinsights', 'applicationinsights')
    >>> reference_prefix("no-such-service") is None
    True
    """
    if iamref.service_exists(name):
        return name.lower()
    return _prefixes_by_spelling().get(_spelling(name))


def _model_prefix(service: BotocoreService) -> tuple[str | None, str]:
    """The IAM prefix one model's names give, with why; None with why not."""
    if service.signing_name and service.signing_name not in _FRONTED_SIGNING:
        prefix = reference_prefix(service.signing_name)
        if prefix is None:
            return None, f"botocore's {service.name} signs as {service.signing_name!r}, no IAM service prefix"
        return prefix, f"botocore's {service.name} signs as {service.signing_name!r}"
    names = (service.endpoint_prefix, service.name, service.service_id)
    found = sorted({p for p in map(reference_prefix, names) if p})
    if len(found) == 1:
        return found[0], f"botocore's {service.name} is named {found[0]!r} in the IAM reference data"
    if not found:
        return None, f"none of botocore's names for {service.name} ({', '.join(names)}) is an IAM service"
    return None, f"botocore's names for {service.name} match several IAM services ({', '.join(found)})"


def _endpoint_service(endpoint: str, services: Iterable[BotocoreService]) -> HostService:
    """The IAM prefix of one endpoint: checked override, the endpoint itself, or what all its models say."""
    known = rules.KNOWN_UNMAPPED.get(endpoint)
    if known is not None:
        return HostService(endpoint, None, known)
    override = rules.HOST_PREFIXES.get(endpoint)
    if override is not None:
        return HostService(endpoint, reference_prefix(override), "checked rule (rules.HOST_PREFIXES)")
    if iamref.service_exists(endpoint):
        return HostService(endpoint, endpoint, "the endpoint is an IAM service prefix")
    derived = {_model_prefix(service) for service in services}
    prefixes = {prefix for prefix, _ in derived}
    reasons = "; ".join(sorted(why for _, why in derived))
    if len(prefixes) == 1:  # every model at the endpoint agrees (on a prefix, or that there is none)
        return HostService(endpoint, prefixes.pop(), reasons)
    listed = ", ".join(sorted(f"{p or 'none'} ({why})" for p, why in derived))
    return HostService(endpoint, None, f"the models at endpoint {endpoint!r} disagree: {listed}")


@functools.cache
def _hosts() -> Mapping[str, HostService]:
    by_endpoint: dict[str, list[BotocoreService]] = {}
    for service in botocore_services():
        by_endpoint.setdefault(service.endpoint_prefix, []).append(service)
    hosts = {endpoint: _endpoint_service(endpoint, found) for endpoint, found in by_endpoint.items()}
    # A botocore name is a second spelling of its endpoint, unless it is some endpoint itself.
    for service in botocore_services():
        hosts.setdefault(service.name.lower(), hosts[service.endpoint_prefix])
    return hosts


def host_service(host: str) -> HostService | None:
    """The endpoint and IAM prefix botocore's models give an endpoint host; None for a host they do not name.

    >>> host_service("application-insights")
    HostService(endpoint='applicationinsights', prefix='applicationinsights', ...)
    >>> host_service("no-such-endpoint") is None  # botocore has no model of it
    True
    """
    return _hosts().get(host.lower())


@functools.cache
def _aliases(prefix: str) -> tuple[Mapping[str, Alias], Mapping[str, str]]:
    """Accepted aliases and rejected names (with why) of one service's action descriptions."""
    claims: dict[str, list[Alias]] = {}
    for action, description in sorted(iamref.action_descriptions(prefix).items()):
        for match in _ALSO_SUPPORTS.finditer(description):
            for operation in _OPERATION.findall(match["names"]):
                claims.setdefault(operation, []).append(Alias(operation, f"{prefix}:{action}", match[0]))
    accepted: dict[str, Alias] = {}
    rejected: dict[str, str] = {}
    for operation, found in claims.items():
        actions = sorted({alias.action for alias in found})
        if iamref.canonical_action(prefix, operation) is not None:
            rejected[operation] = (
                f"{prefix}:{operation} is an action itself; {', '.join(actions)} also names it"
            )
        elif len(actions) > 1:
            rejected[operation] = f"the IAM reference data says {', '.join(actions)} all support {operation}"
        else:
            accepted[operation] = found[0]
    return accepted, rejected


def operation_aliases(prefix: str) -> Mapping[str, Alias]:
    """Operation -> the action whose reference description says it "also supports" that API.

    >>> operation_aliases("lambda")["GetLayerVersionByArn"].action
    'lambda:GetLayerVersion'
    """
    return _aliases(prefix.lower())[0] if iamref.service_exists(prefix) else {}


def rejected_aliases(prefix: str) -> Mapping[str, str]:
    """Operation names an "also supports" note gives, not used (ambiguous, or an action itself), with why."""
    return _aliases(prefix.lower())[1] if iamref.service_exists(prefix) else {}
