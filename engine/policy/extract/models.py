"""The botocore side of the generic resolver: each operation's request members as CloudTrail records them.

CloudTrail's ``eventSource`` is ``<endpointPrefix>.amazonaws.com`` of the service model (``monitoring`` for
CloudWatch, ``es`` for OpenSearch), and several models may share one host (API Gateway v1 and v2, RDS with
DocumentDB and Neptune), so a host maps to every model whose ``endpointPrefix`` or ``signingName`` it is.
``requestParameters`` holds the input members with their first letter lowered (``FunctionName`` is
``functionName``), nested structures as objects; :class:`Member` gives each leaf its dotted path.

Nothing is loaded at import time; the host index reads every service model once (a few seconds).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from trailsmith.actions.mapping import VERSION_SUFFIX
from trailsmith.actions.sources import model_metadata

#: Nested structures deeper than this are configuration, not names of the resource the call acts on.
MAX_DEPTH = 3

#: An API version appended to the operation name in ``eventName``: ``GetDistribution2020_05_31``,
#: ``UpdateFunctionConfiguration20150331v2``.

#: A leading version segment of a request URI (``/2015-03-31/functions/...``, API Gateway v2's ``/v2``),
#: which path-shaped ARNs do not carry.
_URI_VERSION = re.compile(r"^/(?:v\d+|\d{4}-\d\d-\d\d)(?=/)")

_LEAF_TYPES = frozenset({"string", "integer", "long", "boolean"})


@dataclass(frozen=True)
class Member:
    """One leaf of an operation's input: a scalar, or a list of scalars."""

    #: dotted path as CloudTrail records it (``functionName``, ``distributionConfig.callerReference``)
    path: str
    #: the botocore member name of the leaf (``FunctionName``)
    name: str
    depth: int
    is_list: bool
    #: the request URI placeholder this member fills (``restapi_id``), or ""
    uri: str = ""
    #: whether the model's shape of the value says it is an ARN (``ChimeBearer`` is a ``ChimeArn``)
    arn: bool = False
    #: the opening of the member's documentation, lower-cased, when it says the member may hold an ARN
    #: (Bedrock's ``modelId``: "the ARN of an inference profile, or a model ID"); else ""
    arn_doc: str = ""
    #: the first value the model allows, for members whose shape is an enumeration (WAFv2's ``Scope``:
    #: ``CLOUDFRONT``); else ""
    enum: str = ""


@dataclass(frozen=True)
class Operation:
    """One botocore operation's input, reduced to what naming a resource needs."""

    service: str
    name: str
    members: tuple[Member, ...]
    #: the HTTP request URI without its query and version segment (``/restapis/{restapi_id}``); "" for
    #: services that POST every call to ``/``
    request_uri: str


def lower_first(name: str) -> str:
    """CloudTrail's spelling of a request member.

    >>> lower_first("DBClusterIdentifier")
    'dBClusterIdentifier'
    """
    return name[:1].lower() + name[1:]


def operation_name(event_name: str) -> str:
    """The SDK operation of an ``eventName`` without its API version suffix.

    >>> operation_name("GetDistribution2020_05_31")
    'GetDistribution'
    """
    match = VERSION_SUFFIX.match(event_name)
    return match["base"] if match else event_name


@functools.cache
def _loader() -> Any:
    from botocore.loaders import create_loader  # heavy import, only when the resolver runs

    return create_loader()


@functools.cache
def hosts() -> Mapping[str, tuple[str, ...]]:
    """CloudTrail host -> botocore service names whose endpoint prefix (or signing name) it is."""
    loader = _loader()
    table: dict[str, list[str]] = {}
    for service in sorted(loader.list_available_services("service-2")):
        metadata = model_metadata(service)
        names = {metadata.get("endpointPrefix"), metadata.get("signingName")}
        for name in sorted(n for n in names if n):
            table.setdefault(name, []).append(service)
    return {host: tuple(services) for host, services in table.items()}


def endpoint_hosts() -> tuple[str, ...]:
    """Every host that is some model's endpoint prefix: the eventSources botocore's operations have."""
    found = {
        model_metadata(service)["endpointPrefix"]
        for service in _loader().list_available_services("service-2")
    }
    return tuple(sorted(found))


class _Operations(Mapping[str, tuple[Operation, ...]]):
    """Operation name -> its input in each model that has it, each flattened when first asked for: a probe
    of the few operations a warehouse holds does not pay for a service's every one (EC2 has hundreds)."""

    def __init__(self, models: list[tuple[str, Mapping[str, Any]]]) -> None:
        self._models = models
        self._names = list(dict.fromkeys(name for _, model in models for name in model["operations"]))
        self._known = frozenset(self._names)
        self._done: dict[str, tuple[Operation, ...]] = {}

    def __getitem__(self, name: str) -> tuple[Operation, ...]:
        found = self._done.get(name)
        if found is None:
            if name not in self._known:
                raise KeyError(name)
            found = self._done[name] = tuple(
                _operation(service, name, model["operations"][name], model["shapes"])
                for service, model in self._models
                if name in model["operations"]
            )
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@functools.cache
def operations(host: str) -> Mapping[str, tuple[Operation, ...]]:
    """Operation name -> its input in each model of ``host`` that has it."""
    loader = _loader()
    return _Operations([(s, loader.load_service_model(s, "service-2")) for s in hosts().get(host, ())])


def find(host: str, event_name: str) -> tuple[Operation, ...]:
    """The operations an event of ``host`` may be (one per model that has that name)."""
    table = operations(host)
    return table.get(event_name) or table.get(operation_name(event_name), ())


def _operation(service: str, name: str, spec: Mapping[str, Any], shapes: Mapping[str, Any]) -> Operation:
    uri = str(spec.get("http", {}).get("requestUri", "")).split("?", 1)[0]
    uri = _URI_VERSION.sub("", uri)
    members: list[Member] = []
    shape = spec.get("input", {}).get("shape")
    if shape:
        _flatten(shapes, shape, "", 0, frozenset(), members)
    return Operation(service, name, tuple(members), "" if uri == "/" else uri)


def _flatten(
    shapes: Mapping[str, Any],
    shape_name: str,
    prefix: str,
    depth: int,
    seen: frozenset[str],
    out: list[Member],
) -> None:
    shape = shapes[shape_name]
    for name, ref in shape.get("members", {}).items():
        target = shapes[ref["shape"]]
        kind = target.get("type")
        path = prefix + lower_first(name)
        uri = str(ref.get("locationName", name)) if ref.get("location") == "uri" else ""
        if kind in _LEAF_TYPES:
            first = str(next(iter(target.get("enum", ())), ""))
            out.append(
                Member(path, name, depth, False, uri, _arn_shape(ref["shape"]), _arn_doc(ref, target), first)
            )
        elif kind == "list" and shapes[target["member"]["shape"]].get("type") in _LEAF_TYPES:
            element = target["member"]["shape"]
            out.append(Member(path, name, depth, True, uri, _arn_shape(element), _arn_doc(ref, target)))
        elif kind == "structure" and depth < MAX_DEPTH and ref["shape"] not in seen:
            _flatten(shapes, ref["shape"], path + ".", depth + 1, seen | {ref["shape"]}, out)


#: How a member's documentation says it takes an ARN.
_SAYS_ARN = re.compile(r"\bARNs?\b|amazon resource names?\b", re.IGNORECASE)

#: How much of a member's documentation is kept: its opening says what the member holds.
_DOC_OPENING = 400


def _arn_doc(ref: Mapping[str, Any], shape: Mapping[str, Any]) -> str:
    """The opening of a member's documentation (its own, else its shape's), lower-cased and without markup,
    when it says the member takes an ARN; else "".

    >>> _arn_doc({"documentation": "<p>The ARN or name of the <b>table</b>.</p>"}, {})
    'the arn or name of the table.'
    >>> _arn_doc({"documentation": "<p>The name of the table.</p>"}, {})
    ''
    """
    text = str(ref.get("documentation") or shape.get("documentation") or "")[: _DOC_OPENING * 2]
    if not ("ARN" in text or "esource Name" in text or "esource name" in text) or not _SAYS_ARN.search(text):
        return ""  # most members (a substring test first: this runs for every member a probe loads)
    opening = re.sub(r"<[^>]*>", "", text)[:_DOC_OPENING]
    return " ".join(opening.split()).lower() if _SAYS_ARN.search(opening) else ""


def _arn_shape(shape_name: str) -> bool:
    """Whether a shape's name says its values are ARNs (``ChimeArn``, ``ResourceARN``, ``RoleArnList``).

    >>> _arn_shape("ChimeArn"), _arn_shape("ArnString"), _arn_shape("Name")
    (True, True, False)
    """
    lowered = shape_name.lower()
    return lowered.endswith(("arn", "arnlist", "arnstring", "arntype")) or lowered.startswith("arn")
