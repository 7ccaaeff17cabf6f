"""From a CloudTrail event to the IAM action(s) the call needed, checked against the IAM reference data.

An event names an endpoint (``eventSource``) and an API operation (``eventName``); a policy names IAM
actions. They usually agree, and where they do not, public tools guess. Here every action returned exists
in AWS's IAM reference data (:mod:`trailsmith.actions.reference`); an event that no checked rule
(:mod:`trailsmith.actions.rules`) and no same-named action explains is reported ``unmapped``, never given a
plausible-looking name.

The IAM prefix of an eventSource: a checked override (``rules.HOST_PREFIXES``), else the host itself when
it is an IAM prefix, else what botocore's service models say of the host (:mod:`trailsmith.actions.sources`:
``application-insights`` -> ``applicationinsights``).

Resolution order, first hit wins: no-permission calls; explicit rules; request-dependent rules; the
same-named action; an operation the reference data says another action "also supports"
(``GetLayerVersionByArn`` -> ``lambda:GetLayerVersion``); HTTP-verb services (API Gateway); then the same
steps again with an API-version suffix removed (``UpdateFunctionConfiguration20150331v2``), only when the
name as recorded found nothing.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from trailsmith.actions import reference as iamref
from trailsmith.actions import rules, sources
from trailsmith.actions.reference import ActionInfo, ResourceType, action_info

__all__ = [
    "ActionInfo",
    "ActionMapping",
    "Coverage",
    "ResourceType",
    "action_info",
    "coverage",
    "event_host",
    "iam_prefix",
    "map_event",
    "mapping_table",
]

Status = Literal["mapped", "no_permission", "unmapped"]

#: An API version appended to the operation name: ``20150331``, ``20150331v2``, ``2020_05_31``.
VERSION_SUFFIX = re.compile(r"^(?P<base>[A-Za-z]+?)(?:19|20)\d\d(?:_?\d\d){2}(?:v\d+)?$")

_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")


@dataclass(frozen=True)
class ActionMapping:
    """The IAM actions one (eventSource, eventName) needed, and which rule said so.

    ``actions`` is empty unless ``status`` is ``"mapped"``. With ``request_dependent`` the call needs one
    or more of ``actions`` depending on its request (a PartiQL statement's verb, a transaction's items).
    """

    actions: tuple[str, ...]
    status: Status
    rule: str
    reason: str
    request_dependent: bool = False


@dataclass(frozen=True)
class Coverage:
    """How much of AWS's API surface (every operation of every botocore service model) maps to actions."""

    operations: int
    mapped: int
    no_permission: int
    unmapped: int
    by_rule: Mapping[str, int] = field(default_factory=dict)
    #: A deterministic sample of unmapped ``(eventSource, eventName)`` pairs.
    unmapped_sample: tuple[tuple[str, str], ...] = ()
    iam_data_version: str = ""

    @property
    def mapped_share(self) -> float:
        return self.mapped / self.operations if self.operations else 0.0

    @property
    def unmapped_share(self) -> float:
        return self.unmapped / self.operations if self.operations else 0.0

    def summary(self) -> str:
        """One line for a report."""
        return (
            f"{self.operations} operations: {self.mapped_share:.1%} mapped to existing IAM actions, "
            f"{self.no_permission / max(self.operations, 1):.1%} need no permission, "
            f"{self.unmapped_share:.1%} unmapped (IAM reference data {self.iam_data_version})"
        )


def event_host(event_source: str) -> str:
    """The endpoint part of an eventSource: ``runtime.lex.amazonaws.com`` -> ``runtime.lex``."""
    host = event_source.strip().lower()
    for suffix in _HOST_SUFFIXES:
        if host.endswith(suffix):
            return host[: -len(suffix)]
    return host


def iam_prefix(event_source: str) -> str | None:
    """The IAM service prefix of an eventSource, or None when the reference data has no such service.

    >>> iam_prefix("monitoring.amazonaws.com")
    'cloudwatch'
    >>> iam_prefix("application-insights.amazonaws.com")  # botocore names the endpoint so
    'applicationinsights'
    """
    host = event_host(event_source)
    override = rules.HOST_PREFIXES.get(host)
    if override is not None:
        return override if iamref.service_exists(override) else None
    if iamref.service_exists(host):
        return host
    known = _botocore_host(host)
    return known.prefix if known is not None else None


def _botocore_host(host: str) -> sources.HostService | None:
    """botocore's word on a host that is neither an override nor an IAM prefix (only then are models read)."""
    if not host or host in rules.HOST_PREFIXES or host in rules.KNOWN_UNMAPPED or iamref.service_exists(host):
        return None
    return sources.host_service(host)


@functools.lru_cache(maxsize=1 << 16)
def map_event(event_source: str, event_name: str) -> ActionMapping:
    """The IAM actions a call recorded as ``(eventSource, eventName)`` needed.

    Cached: a warehouse holds a few thousand distinct pairs at most.

    >>> map_event("s3.amazonaws.com", "ListObjectsV2").actions
    ('s3:ListBucket',)
    >>> map_event("sts.amazonaws.com", "GetCallerIdentity").status
    'no_permission'
    """
    host = event_host(event_source)
    if not host or not event_name:
        return ActionMapping((), "unmapped", "missing-field", "the event has no eventSource or no eventName")
    prefix = iam_prefix(event_source)
    known = _botocore_host(host)
    # A second spelling of an endpoint (botocore's name ``s3control``) gets the rules of the endpoint itself.
    endpoint = known.endpoint if known is not None else None
    keys = tuple(dict.fromkeys(k for k in (host, endpoint, prefix) if k))
    found = _resolve(keys, prefix, event_name)
    if found is not None:
        return found
    match = VERSION_SUFFIX.match(event_name)
    if match:
        stripped = _resolve(keys, prefix, match["base"])
        if stripped is not None and stripped.status == "mapped":
            return ActionMapping(
                stripped.actions,
                "mapped",
                f"api-version-suffix+{stripped.rule}",
                f"{event_name} is {match['base']} with an API version appended; {stripped.reason}",
                stripped.request_dependent,
            )
    return _unmapped(host, known, prefix, event_name)


def _resolve(keys: tuple[str, ...], prefix: str | None, name: str) -> ActionMapping | None:
    """Apply every rule kind to one event name; None when none applies."""
    for key in keys:
        why = rules.NO_PERMISSION.get(key, {}).get(name)
        if why is not None:
            reason = rules.NO_PERMISSION_REASONS[why]
            return ActionMapping((), "no_permission", f"no-permission:{why}", reason)
    for table, kind, dependent in ((rules.RULES, "rule", False), (rules.REQUEST_DEPENDENT, "request", True)):
        for key in keys:
            spec = table.get(key, {}).get(name)
            if spec is not None:
                return _checked(spec.split(), f"{kind}:{key}", f"checked rule for {key} {name}", dependent)
    if prefix is None:
        return None
    same = iamref.canonical_action(prefix, name)
    if same is not None:
        return ActionMapping((same,), "mapped", "same-name", f"{same} exists in the IAM reference data")
    # Exact spelling only: the note names the operation as the API spells it.
    alias = sources.operation_aliases(prefix).get(name)
    if alias is not None:
        note = f"the IAM reference data's description of {alias.action}: {alias.note!r}"
        return _checked([alias.action], "reference-alias", note, False)
    services = rules.HTTP_VERB_SERVICES.get(prefix)
    if services:
        verbs = _http_verbs(services).get(name)
        if verbs:
            return _checked(
                [f"{prefix}:{verb}" for verb in verbs],
                "http-verb",
                f"{prefix} authorises calls by HTTP verb; botocore gives {name} as {'/'.join(verbs)}",
                len(verbs) > 1,
            )
    return None


def _checked(actions: Iterable[str], rule: str, reason: str, dependent: bool) -> ActionMapping:
    """A mapping whose every action exists in the installed reference data, in its spelling; else unmapped."""
    canonical: list[str] = []
    for action in actions:
        prefix, _, name = action.partition(":")
        found = iamref.canonical_action(prefix, name)
        if found is None:
            absent = f"{rule} names {action}, absent from the IAM reference data"
            return ActionMapping((), "unmapped", rule, absent)
        canonical.append(found)
    return ActionMapping(tuple(dict.fromkeys(canonical)), "mapped", rule, reason, dependent)


def _unmapped(host: str, known: sources.HostService | None, prefix: str | None, name: str) -> ActionMapping:
    for key in (host, known.endpoint if known is not None else None):
        checked = rules.KNOWN_UNMAPPED.get(key or "")
        if checked is not None:
            return ActionMapping((), "unmapped", "known-unmapped", checked)
    if prefix is None:
        unknown = f"no IAM service prefix for endpoint {host!r}"
        if known is not None:
            unknown = f"{unknown}: {known.reason}"
        return ActionMapping((), "unmapped", "unknown-service", unknown)
    rejected = sources.rejected_aliases(prefix).get(name)
    if rejected is not None:
        return ActionMapping((), "unmapped", "ambiguous-alias", f"no {prefix}:{name} rule; {rejected}")
    why = f"no {prefix}:{name} in the IAM reference data and no rule"
    return ActionMapping((), "unmapped", "no-action", why)


@functools.cache
def _http_verbs(services: tuple[str, ...]) -> Mapping[str, tuple[str, ...]]:
    """Operation -> HTTP verb(s) from botocore's models; an operation with different verbs keeps all."""
    from botocore.loaders import create_loader  # heavy import, only for the services that need it

    loader = create_loader()
    verbs: dict[str, set[str]] = {}
    for service in services:
        model = loader.load_service_model(service, "service-2")
        for name, operation in model["operations"].items():
            method = operation.get("http", {}).get("method")
            if method:
                verbs.setdefault(name, set()).add(method.upper())
    return {name: tuple(sorted(found)) for name, found in verbs.items()}


_TABLE_SCHEMA = pa.schema(
    [
        ("eventSource", pa.string()),
        ("eventName", pa.string()),
        ("action", pa.string()),
        ("status", pa.string()),
        ("rule", pa.string()),
    ]
)


def mapping_table(pairs: Iterable[tuple[str, str]]) -> pa.Table:
    """One row per (eventSource, eventName, action), to join with a warehouse's events in SQL.

    Distinct pairs only, sorted, so the table does not depend on input order. ``action`` is null for
    ``no_permission`` and ``unmapped`` pairs, which still get a row so a join can report them.
    """
    columns: dict[str, list[str | None]] = {name: [] for name in _TABLE_SCHEMA.names}
    for source, name in sorted(set(pairs)):
        mapping = map_event(source, name)
        for action in mapping.actions or (None,):
            columns["eventSource"].append(source)
            columns["eventName"].append(name)
            columns["action"].append(action)
            columns["status"].append(mapping.status)
            columns["rule"].append(mapping.rule)
    return pa.table(columns, schema=_TABLE_SCHEMA)


def botocore_operations() -> list[tuple[str, str]]:
    """Every (``<endpointPrefix>.amazonaws.com``, operation) of the installed botocore's latest models."""
    from botocore.loaders import create_loader

    loader = create_loader()
    pairs: set[tuple[str, str]] = set()
    for service in loader.list_available_services("service-2"):
        model = loader.load_service_model(service, "service-2")
        source = f"{model['metadata']['endpointPrefix']}.amazonaws.com"
        pairs.update((source, operation) for operation in model["operations"])
    return sorted(pairs)


def coverage(pairs: Iterable[tuple[str, str]] | None = None, *, sample: int = 40) -> Coverage:
    """Share of API operations mapped to existing actions; all of botocore's operations by default.

    Takes a few seconds for botocore's ~20,000 operations (reading ~450 service models).
    """
    todo = sorted(set(pairs)) if pairs is not None else botocore_operations()
    statuses: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    unmapped: list[tuple[str, str]] = []
    for source, name in todo:
        mapping = map_event(source, name)
        statuses[mapping.status] += 1
        by_rule[mapping.rule] += 1
        if mapping.status == "unmapped":
            unmapped.append((source, name))
    step = max(len(unmapped) // sample, 1) if sample else 0
    return Coverage(
        operations=len(todo),
        mapped=statuses["mapped"],
        no_permission=statuses["no_permission"],
        unmapped=statuses["unmapped"],
        by_rule=dict(sorted(by_rule.items())),
        unmapped_sample=tuple(unmapped[::step][:sample]) if step else (),
        iam_data_version=iamref.data_version(),
    )
