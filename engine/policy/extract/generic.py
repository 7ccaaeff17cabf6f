"""A resolver driven by data for every service: from a request as CloudTrail records it to the ARNs it named.

For each IAM action a call needed, the reference data lists resource types with ARN formats
(``arn:${Partition}:lambda:${Region}:${Account}:layer:${LayerName}:${LayerVersion}``); botocore's model of
the operation lists the request members (:mod:`trailsmith.policy.extract.models`). A *plan* binds each
format's variables to members, once per (host, operation, action):

- a member that holds a whole ARN of the format stands as written (``GetLayerVersionByArn``'s ``Arn``);
- a member named like the variable fills it: the same name (``LayerName``), the same stem with a suffix
  of the same kind (``ClusterIdentifier`` for ``ClusterName``, ``VersionNumber`` for ``LayerVersion``),
  or the variable without the resource's own name when the operation is about that resource
  (``Id`` for ``DistributionId`` in ``GetDistribution``);
- a member holding an ARN where a name is expected (``FunctionName`` may be a full ARN) gives the
  variable by matching that ARN against the service's formats, and its account and region with it: the
  resource may be in another account;
- ``${Partition}``, ``${Region}`` and ``${Account}`` come from the event;
- formats shaped like paths (API Gateway's ``/restapis/${RestApiId}/stages/${StageName}``) follow the
  operation's HTTP request URI, whose ``{placeholders}`` are members.

Nothing is invented: every ARN returned matches a format the reference lists for the action (asserted),
and a variable no member fills means no ARN for that type, with the reason, so the caller falls back to
``"*"``: a wrong ARN denies the call, ``"*"`` only over-grants.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from trailsmith.actions.mapping import map_event
from trailsmith.actions.reference import ResourceType, action_info
from trailsmith.actions.reference import arn_formats as reference_formats
from trailsmith.policy.arns import (
    CONTEXT_VARIABLES,
    build,
    format_groups,
    literal,
    matches_format,
    split_arn,
    variables,
)
from trailsmith.policy.extract.base import Call, Ref, ServiceSpec, from_resources, loads
from trailsmith.policy.extract.models import Member, Operation, find, operations

#: At most this many ARNs per format and call: lists of names multiply (``AlarmNames`` x ...). A call that
#: names more gets none (``"*"``, reported), never a cut list: a policy missing some of them would deny.
MAX_ARNS = 64

#: Member name endings that say what kind of identifier a member holds; compared between a variable and a
#: member so that ``ClusterIdentifier`` fills ``ClusterName`` but ``DistributionId`` never fills a name.
_SUFFIXES = (
    ("identifiers", "identifier"),
    ("identifier", "identifier"),
    ("names", "name"),
    ("name", "name"),
    ("ids", "id"),
    ("id", "id"),
    ("arns", "arn"),
    ("arn", "arn"),
    ("numbers", "number"),
    ("number", "number"),
)

#: Kinds of identifier that name the same thing: AWS calls user-chosen names "identifiers" (RDS, Redshift)
#: and assigned ids too (EFS, Route 53); a version is a number.
_SAME_KIND = frozenset(
    {
        frozenset({"name", "identifier"}),
        frozenset({"id", "identifier"}),
        frozenset({"", "number"}),
    }
)

#: Members that hold the ARN of any resource (tagging, resource policies, RDS's ``ResourceName``).
_ARN_HOLDERS = frozenset(
    {"resource", "resourcename", "resourceid", "resourceidentifier", "identifier", "id", "name", "arn"}
)

#: Resource types whose ARN a request's names cannot build, though a member is named like the variable;
#: only an ARN the request holds names them. Facts from the services' documentation.
NOT_BY_NAME: dict[str, str] = {
    "secretsmanager:secret": "a secret's ARN ends in a random suffix its name does not carry",
    "ssm:document": "documents AWS owns (AWS-RunShellScript) have ARNs without an account",
}

#: Resource types whose ARN ends in the name the request gives (or an id the caller chose), though the
#: reference calls the variable ``${ResourceId}``, ``${ResourcePath}`` or ``${VehicleId}``: facts from the
#: services' documentation of their ARNs (``arn:aws:databrew:...:dataset/my-dataset``). Types whose ARN is
#: a path of several names (Fraud Detector's ``detector-version``, MediaTailor's ``prefetchSchedule``)
#: are not here: a name alone would be a wrong ARN.
BY_NAME = frozenset(
    {
        *(f"databrew:{t}" for t in ("dataset", "job", "project", "recipe", "ruleset", "schedule")),
        *(
            f"route53-recovery-readiness:{t}"
            for t in ("cell", "readinesscheck", "recoverygroup", "resourceset")
        ),
        *(
            f"frauddetector:{t}"
            for t in (
                "batch-import",
                "batch-prediction",
                "detector",
                "entity-type",
                "event-type",
                "label",
                "list",
                "outcome",
                "rule",
                "variable",
            )
        ),
        "mediatailor:playbackconfiguration",
        "iotfleetwise:vehicle",
    }
)

#: Variables whose ARN spelling differs from the request's: request value -> ARN text (others: no ARN).
SPELLING: dict[tuple[str, str], dict[str, str]] = {
    # WAFv2's request says REGIONAL or CLOUDFRONT, its ARNs regional/ or global/
    ("wafv2", "Scope"): {"REGIONAL": "regional", "CLOUDFRONT": "global"},
}

#: Services that keep identifiers in lower case in their ARNs whatever case the request used; both
#: spellings are allowed, as the hand-written RDS extractor does, so neither reading can deny the call.
LOWER_CASED = frozenset({"rds"})

_PLACEHOLDER = re.compile(r"\{([^}]+?)\+?\}")
_VARIABLE = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class Slot:
    """A format variable and the members that may fill it (``arn_only``: only from an ARN they hold)."""

    variable: str
    paths: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class Shape:
    """One ARN format (one alternative of a resource type's) and how a request fills it."""

    fmt: str
    slots: tuple[Slot, ...]
    #: variables no member names (the type cannot be resolved by name)
    missing: tuple[str, ...]
    #: for formats shaped like paths: the request URI as (literal text, member path) pieces
    uri: tuple[tuple[str, str], ...] = ()
    #: why names cannot build this format (see :data:`NOT_BY_NAME`), or ""
    refused: str = ""
    #: whether the resource may be a parent of the URI's (``/greengrass/groups/{GroupId}/deployments``
    #: acts in the group): for a type the action requires, never for an optional one
    parents: bool = False
    #: whether the operation makes a resource of this type (:func:`creates`): its ids are the service's
    creates: bool = False


@dataclass(frozen=True)
class Target:
    """One resource type of one action, with every way a request of the operation can name it."""

    action: str
    resource_type: ResourceType
    shapes: tuple[Shape, ...]
    #: members whose value may be a whole ARN of the type
    arn_paths: tuple[str, ...]

    def paths(self) -> set[str]:
        found = set(self.arn_paths)
        for shape in self.shapes:
            found.update(path for slot in shape.slots for path, _ in slot.paths)
            found.update(path for _, path in shape.uri if path)
        return found


@dataclass(frozen=True)
class Resolved:
    """The ARNs of one resource type of one action a request named, or why there are none."""

    action: str
    resource_type: str
    #: the reference's format string (alternatives joined by ", "), as :class:`Ref.fmt` wants it
    fmt: str
    required: bool
    arns: tuple[str, ...]
    reason: str
    #: the request members whose values made ``arns``
    paths: tuple[str, ...] = ()


def alternatives(fmt: str) -> tuple[str, ...]:
    """The formats of a resource type: the reference joins alternatives with ``", "``.

    >>> alternatives("arn:${Partition}:apigateway:${Region}::/apis/${ApiId}, arn:x")
    ('arn:${Partition}:apigateway:${Region}::/apis/${ApiId}', 'arn:x')
    """
    return tuple(part.strip() for part in fmt.split(", ") if part.strip())


def named(fmt: str) -> tuple[str, ...]:
    """A format's variables beyond partition, region and account (however the format spells those).

    >>> named("arn:${Partition}:chime:${Region}:${AccountId}:app-instance/${AppInstanceId}")
    ('AppInstanceId',)
    """
    aliases = context_aliases(fmt)
    return tuple(v for v in variables(fmt) if v not in CONTEXT_VARIABLES and v not in aliases)


@functools.lru_cache(maxsize=8192)
def context_aliases(fmt: str) -> Mapping[str, str]:
    """Variables that stand where an ARN has its region or account (Chime's ``${AccountId}``): the
    event's, like ``${Region}`` and ``${Account}``."""
    parts = fmt.split(":", 5)
    out: dict[str, str] = {}
    for index, context in ((3, "Region"), (4, "Account")):
        whole = _VARIABLE.fullmatch(parts[index]) if len(parts) == 6 else None
        if whole is not None and whole.group(1) != context:
            out[whole.group(1)] = context
    return out


def parse(arn: str, fmt: str) -> dict[str, str] | None:
    """The variables of ``arn`` read with format ``fmt``, or None when it does not have that shape.

    >>> parse("arn:aws:lambda:eu-west-1:111122223333:layer:geo:7",
    ...       "arn:${Partition}:lambda:${Region}:${Account}:layer:${LayerName}:${LayerVersion}")["LayerName"]
    'geo'
    """
    pattern, names = format_groups(fmt)
    match = pattern.match(arn)
    if match is None:
        return None
    out: dict[str, str] = {}
    for index, name in enumerate(names):
        value = match.group(f"v{index}")
        if out.setdefault(name, value) != value:
            return None
    return out


def _split(name: str) -> tuple[str, str]:
    """(what a name identifies, its kind of identifier); "application" is spelt "app" as often."""
    lowered = name.lower().replace("-", "").replace("_", "").replace("application", "app")
    stem, kind = lowered, ""
    for suffix, found in _SUFFIXES:
        if lowered.endswith(suffix):
            stem, kind = lowered[: -len(suffix)], found
            break
    # RDS and its kin prefix members with ``DB`` that their ARN variables do not have
    # (``DBClusterSnapshotIdentifier`` for ``${ClusterSnapshotName}``)
    return (stem[2:] if stem.startswith("db") and len(stem) > 2 else stem), kind


def _score(
    variable: str, member: Member, operation: str, kind_of: str, alone: bool = False, service: str = ""
) -> tuple[int, bool]:
    """How well ``member`` names ``variable`` (0: not at all), and whether only an ARN in it can.

    ``kind_of`` is the resource type's name (normalised); ``alone``: the variable is its format's only one;
    ``service``: the botocore service's name, normalised.
    A variable that says nothing of what it names
    (``${Name}``, ``${Id}``) is filled by a bare member only when the operation is about that type (its
    name is in the operation's): ``CreateCampaign``'s ``name`` is the campaign's, not that of the signal
    catalog it also uses.
    """
    v_stem, v_kind = _split(variable)
    m_stem, m_kind = _split(member.name)
    if not m_stem and member.depth:
        return 0, False  # a bare ``Name`` inside a structure is that structure's
    if v_stem in ("", "resource"):
        # ``${ResourceId}``, ``${Id}``: the member that names the resource type (``DashboardId`` of a
        # dashboard, ``HostedZoneId`` of a hosted zone), else a bare ``Id``/``Name`` of its own operation
        if m_stem and m_stem == kind_of and member.depth == 0:
            if m_kind == "arn":
                return 4, True
            if not m_kind or _same_kind(v_kind, m_kind):
                return 5, False
        # the type's last word, in an operation about the type: ``ListId`` of ``GetProtocolsList``
        last_word = m_stem and kind_of.endswith(m_stem) and kind_of in operation and member.depth == 0
        if last_word and m_kind and _same_kind(v_kind, m_kind):
            return 3, False
        if v_stem or not (kind_of and kind_of in operation):
            return 0, False
    arn_only = m_kind == "arn" and v_kind != "arn"
    if member.depth and not arn_only and (member.depth > 1 or variable.lower() != member.name.lower()):
        # inside structures, names belong to other things (``domainSettings...domainId`` is a DataZone
        # domain, ``codeConfiguration.runtime`` a language): an ARN there shows its type, a name only
        # one level down and spelt exactly as the variable (``budget.budgetName``)
        return 0, False
    if variable.lower() == member.name.lower():
        return 6, False
    if m_stem == v_stem:
        if arn_only:
            return 4, True
        if _same_kind(v_kind, m_kind):
            return 5, False
        # ``Bucket`` names the bucket of ``${BucketName}``, ``AliasName`` the ``${Alias}``
        return (4, False) if "" in (m_kind, v_kind) else (0, False)
    if alone and v_stem == kind_of and m_stem.endswith(v_stem) and m_stem in operation and not m_kind:
        # the type with a qualifier, in an operation about it: SES's ``EmailIdentity`` of
        # ``GetEmailIdentity`` is the ``${IdentityName}`` of an ``identity``
        return 3, False
    named_kind = m_kind == "name" and not v_kind  # ``TemplateName`` for ``${ProvisioningTemplate}``
    if member.depth or not (arn_only or named_kind or _same_kind(v_kind, m_kind)):
        return 0, False  # nested configuration: only its exact names count
    if m_stem and v_stem.endswith(m_stem) and v_stem[: -len(m_stem)] in operation:
        # ``VersionNumber`` of ``GetLayerVersion`` is the ``${LayerVersion}``
        return 3, arn_only
    alone_same = alone and bool(v_kind) and _same_kind(v_kind, m_kind)
    if alone_same and v_stem == kind_of and m_stem.endswith(v_stem) and m_stem[: -len(v_stem)] in service:
        # the type's name behind the service's own: ``AgentRuntimeId`` of Bedrock AgentCore's ``runtime``
        return 3, arn_only
    if m_stem == kind_of and v_stem and (m_stem.endswith(v_stem) or alone_same):
        # the member names the resource type in full: ``EvaluationFormId`` is a form's ``${FormId}``, and
        # ``AgentSpaceId`` the ``${AgentId}`` of an ``agent-space`` whose format has no other variable
        return 3, arn_only
    if not m_stem and v_kind and v_stem in operation:
        # ``Id`` of ``GetDistribution`` is the distribution's ``${DistributionId}``; never the resource
        # type's name alone: ``UpdateNotebookMetadata`` names a notebook by ``Name``, not its work group
        return 2, arn_only
    return 0, False


#: Verbs of operations that make a resource whose id the service assigns and returns (never ``Copy``: the
#: copy's source is a resource of the same type, perhaps in another region).
_MAKERS = ("create", "allocate", "import", "run", "request", "purchase", "provision", "register", "start")


def creates(operation: str, type_name: str) -> bool:
    """Whether ``operation`` makes a resource of the type: its name is a maker verb and the type's name, no
    more (``CreateInternetGateway`` for an ``internet-gateway``; ``CreateNetworkAclEntry`` changes a
    ``network-acl``). The new resource's id is not in the request, so its ARN is the type's with ``*`` there:
    the tightest pattern that holds it, as the services' documentation writes it (``instance/*`` for
    ``RunInstances``).

    >>> creates("CreateInternetGateway", "internet-gateway"), creates("CreateNetworkAclEntry", "network-acl")
    (True, False)
    """
    subject = _split(type_name)[0].removesuffix("resource")
    lowered = operation.lower()
    return bool(subject) and any(lowered == verb + subject for verb in _MAKERS)


def _same_kind(v_kind: str, m_kind: str) -> bool:
    return v_kind == m_kind or frozenset({v_kind, m_kind}) in _SAME_KIND


def _by_name(member: Member, operation: str, kind_of: str) -> tuple[int, bool]:
    """How well ``member`` names a resource of a :data:`BY_NAME` type: the type's own name or id at the top
    of the request (``DatasetName``, Fraud Detector's ``detectorId``), else a bare ``Name``/``Id`` of an
    operation about the type; an ARN it holds counts as well."""
    m_stem, m_kind = _split(member.name)
    if member.depth or m_kind not in ("name", "id", "identifier", "arn"):
        return 0, False
    if m_stem == kind_of:
        return (4, True) if m_kind == "arn" else (5, False)
    if not m_stem and kind_of in operation:
        return (2, True) if m_kind == "arn" else (3, False)
    return 0, False


def _slots(
    names: Iterable[str],
    members: tuple[Member, ...],
    operation: str,
    kind_of: str,
    service: str = "",
    *,
    by_name: bool = False,
) -> tuple[Slot, ...]:
    """Each variable's best members; a member that fits several variables (a bare ``Name`` in a format
    with a name and a version) stays with the one it fits best, or with none on a tie. ``by_name``: the
    format's one variable holds the name of a :data:`BY_NAME` type."""
    best: dict[str, tuple[tuple[int, int], list[tuple[str, bool]]]] = {}
    claims: dict[str, list[tuple[int, str]]] = {}
    wanted = tuple(names)
    for variable in wanted:
        top: tuple[int, int] = (0, 0)
        chosen: list[tuple[str, bool]] = []
        for member in members:
            score, arn_only = (
                _by_name(member, operation, kind_of)
                if by_name
                else _score(variable, member, operation, kind_of, len(wanted) == 1, service)
            )
            if not score:
                continue
            key = (score, -member.depth)
            if key > top:
                top, chosen = key, []
            if key == top:
                chosen.append((member.path, arn_only))
        best[variable] = (top, chosen)
        for path, _ in chosen:
            claims.setdefault(path, []).append((top[0], variable))
    slots: list[Slot] = []
    for variable, (top, chosen) in best.items():
        kept = []
        for path, arn_only in chosen:
            rivals = [score for score, other in claims[path] if other != variable]
            if all(score < top[0] for score in rivals):
                kept.append((path, arn_only))
        slots.append(Slot(variable, tuple(kept)))
    return tuple(slots)


def _uri_pieces(operation: Operation) -> tuple[tuple[str, str], ...] | None:
    """The request URI as (text, member path) pieces, or None when a placeholder has no member."""
    by_uri = {m.uri: m.path for m in operation.members if m.uri}
    pieces: list[tuple[str, str]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(operation.request_uri):
        path = by_uri.get(match.group(1))
        if path is None:
            return None
        pieces.append((operation.request_uri[position : match.start()], path))
        position = match.end()
    pieces.append((operation.request_uri[position:], ""))
    return tuple(pieces)


def path_shaped(fmt: str) -> bool:
    parts = split_arn(fmt)
    return parts is not None and parts[4].startswith("/")


def _shape(fmt: str, operation: Operation, type_name: str, required: bool) -> Shape:
    pieces = _uri_pieces(operation) if path_shaped(fmt) and operation.request_uri else None
    if pieces and not required:
        # an optional type of a path-shaped service (API Gateway's every type for apigateway:GET) is the
        # one the URI is, never one whose variables merely have members (the RestApi of a GetStage)
        return Shape(fmt, (), (), pieces, parents=False)
    kind_of = _split(type_name)[0].removesuffix("resource")
    service = operation.service.lower().replace("-", "")
    by_name = f"{fmt.split(':')[2]}:{type_name}".lower() in BY_NAME and len(named(fmt)) == 1
    variables = dict.fromkeys(named(fmt))
    slots = _slots(variables, operation.members, operation.name.lower(), kind_of, service, by_name=by_name)
    return Shape(
        fmt,
        slots,
        tuple(s.variable for s in slots if not s.paths),
        pieces or (),
        parents=required,
        creates=required and creates(operation.name, type_name),
    )


def _arn_paths(operation: Operation, shapes: Iterable[Shape]) -> tuple[str, ...]:
    found = {
        m.path
        for m in operation.members
        if m.arn or m.arn_doc or _split(m.name)[1] == "arn" or m.name.lower().replace("_", "") in _ARN_HOLDERS
    }
    for shape in shapes:
        found.update(path for slot in shape.slots for path, _ in slot.paths)
    return tuple(sorted(found))


@functools.lru_cache(maxsize=1 << 14)
def plan(host: str, event_name: str, actions: tuple[str, ...]) -> tuple[Target, ...]:
    """How requests of one operation name the resources of each of ``actions``' resource types."""
    targets: list[Target] = []
    found = find(host, event_name)
    for action in actions:
        try:
            info = action_info(action)
        except KeyError:
            continue
        for resource_type in info.resource_types:
            if not resource_type.arn:
                continue
            shapes: list[Shape] = []
            arn_paths: set[str] = set()
            refused = NOT_BY_NAME.get(f"{info.action.split(':')[0]}:{resource_type.name}".lower(), "")
            for operation in found:
                here = [
                    _shape(fmt, operation, resource_type.name, resource_type.required)
                    for fmt in alternatives(resource_type.arn)
                ]
                arn_paths.update(_arn_paths(operation, here))
                shapes.extend(Shape(x.fmt, (), (), refused=refused) if refused else x for x in here)
            targets.append(Target(info.action, resource_type, tuple(shapes), tuple(sorted(arn_paths))))
    return tuple(targets)


def actions_of(host: str, event_name: str) -> tuple[str, ...]:
    return map_event(host, event_name).actions


def request_paths(host: str) -> Mapping[str, tuple[str, ...]]:
    """Operation -> the request fields (dotted, as CloudTrail records them) the resolver reads for it."""
    out: dict[str, tuple[str, ...]] = {}
    for name in operations(host):
        paths: set[str] = set()
        for target in plan(host, name, actions_of(host, name)):
            paths |= target.paths()
        if paths:
            out[name] = tuple(sorted(paths))
    return out


def flat(request: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A ``requestParameters`` object as dotted paths -> text, as the usage SQL gives them to a :class:`Call`.

    >>> flat({"a": {"b": "x"}, "c": ["y"], "d": 3})
    {'a.b': 'x', 'c': '["y"]', 'd': '3'}
    """
    out: dict[str, str] = {}
    for key, value in request.items():
        if isinstance(value, Mapping):
            out |= flat(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            out[prefix + key] = json.dumps(value)
        elif value is not None:
            out[prefix + key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _values(fields: Mapping[str, str], path: str) -> list[str]:
    value = fields.get(path)
    if value in (None, ""):
        return []
    assert value is not None
    if value.startswith("["):
        parsed = loads(value)
        if isinstance(parsed, list):
            return [str(v) for v in parsed if isinstance(v, (str, int)) and str(v)]
    return [value]


@functools.cache
def _service_formats(prefix: str) -> tuple[str, ...]:
    return tuple(alt for fmt in reference_formats(prefix).values() for alt in alternatives(fmt))


def _from_arn(arn: str, variable: str, fmt: str) -> tuple[str, str, str] | None:
    """(value, region, account) of ``variable`` read from an ARN of some format of the same service.

    Only formats that name no more than ``fmt`` count (a layer's ARN for a layer version's name): an ARN of
    something finer (a function alias ``function:f:prod`` where a function is wanted) names another
    resource, whose policy ARN this is not.
    """
    service = fmt.split(":", 3)[2]
    wanted = set(named(fmt))
    for other in (fmt, *_service_formats(service)):
        if variable not in variables(other) or not set(named(other)) <= wanted:
            continue
        parsed = parse(arn, other)
        if parsed is not None:
            return parsed[variable], parsed.get("Region", ""), parsed.get("Account", "")
    return None


@dataclass(frozen=True)
class _Event:
    partition: str
    region: str
    account: str


def _fill(
    shape: Shape, fields: Mapping[str, str], event: _Event, *, assigned: bool = False
) -> tuple[list[str], str]:
    """ARNs of one format by URI or by name, and where they came from (or why there are none).

    With ``assigned``, variables no member names (ids the service assigns: a stack's ``${Id}``, the
    ``${GroupId}`` of an Auto Scaling group) are ``*`` when the request names the others, or when the
    operation makes the resource (:func:`creates`): the ARN is then a pattern that holds the named resource
    whatever id AWS gave it, and never one that denies the call.
    """
    if shape.uri:
        by_uri, reason = _fill_uri(shape, fields, event)
        if by_uri or not shape.slots:
            return by_uri, reason
    if shape.refused:
        return [], shape.refused
    some_named = len(shape.missing) < len(shape.slots)
    wildcards = shape.missing if assigned and (some_named or shape.creates) else ()
    if shape.missing and not wildcards:
        return [], f"no request member names ${{{shape.missing[0]}}}"
    # per slot: (value, region, account); region/account empty when the event's apply
    options: list[list[tuple[str, str, str]]] = []
    for slot in shape.slots:
        if slot.variable in wildcards:
            options.append([("*", "", "")])
            continue
        found: list[tuple[str, str, str]] = []
        foreign = ""
        for path, arn_only in slot.paths:
            for value in _values(fields, path):
                if value.startswith("arn:"):
                    parsed = _from_arn(value, slot.variable, shape.fmt)
                    if parsed is not None:
                        found.append(parsed)
                    else:
                        foreign = path
                elif not arn_only:
                    found.extend((v, "", "") for v in _spellings(shape.fmt, slot.variable, value))
        if not found:
            if foreign:
                return [], f"the ARN in {foreign} is not of this resource type (nor of one that names it)"
            names = ", ".join(path for path, _ in slot.paths)
            return [], f"the request has no value for ${{{slot.variable}}} ({names})"
        options.append(list(dict.fromkeys(found)))
    if math.prod(len(found) for found in options) > MAX_ARNS:
        return [], f"the request names more than {MAX_ARNS} resources of this type"
    out: list[str] = []
    for combination in itertools.product(*options):
        regions = {r for _, r, a in combination if a or r}
        accounts = {a for _, r, a in combination if a or r}
        if len(regions) > 1 or len(accounts) > 1:
            continue  # names read from ARNs of different places: no one resource
        filled = {
            "Partition": event.partition,
            "Region": regions.pop() if regions else event.region,
            "Account": accounts.pop() if accounts else event.account,
        }
        filled |= {alias: filled[context] for alias, context in context_aliases(shape.fmt).items()}
        filled |= {
            slot.variable: v if slot.variable in wildcards else literal(v)
            for slot, (v, _, _) in zip(shape.slots, combination, strict=True)
        }
        arn = build(shape.fmt, filled)
        if not matches_format(arn, shape.fmt):
            # all or nothing: the call needed every resource it named, and this one has no valid ARN
            return [], f"{arn} does not fit the ARN format {shape.fmt}"
        out.append(arn)
    if out:
        named_by = "from " + ", ".join(path for slot in shape.slots for path, _ in slot.paths)
        if wildcards:
            named_by += "; " + ", ".join(f"${{{v}}}" for v in wildcards) + " not in the request: *"
        return out, named_by
    return out, "the request's values do not fit the ARN format"


def _spellings(fmt: str, variable: str, value: str) -> list[str]:
    """How an ARN of ``fmt`` may spell a request's ``value`` of ``variable`` (see :data:`SPELLING`,
    :data:`LOWER_CASED`)."""
    service = fmt.split(":", 3)[2]
    table = SPELLING.get((service, variable))
    if table is not None:
        return [table[value]] if value in table else []
    return list(dict.fromkeys((value, value.lower()))) if service in LOWER_CASED else [value]


def _fill_uri(shape: Shape, fields: Mapping[str, str], event: _Event) -> tuple[list[str], str]:
    path = []
    for text, member in shape.uri:
        path.append(text)
        if member:
            values = _values(fields, member)
            if len(values) != 1:
                return [], f"the request has no single value for the URI's {member}"
            path.append(literal(values[0]))
    head = shape.fmt[: shape.fmt.index(":/") + 1]
    head = build(head, {"Partition": event.partition, "Region": event.region, "Account": event.account})
    full = "".join(path)
    # the path itself, then (for a required type) its parents, nearest first
    tried = [full]
    if shape.parents:
        cuts = [i for i, c in enumerate(full) if c == "/" and i > 0]
        tried += [full[:i] for i in reversed(cuts)]
    for candidate in tried:
        if matches_format(head + candidate, shape.fmt):
            return [head + candidate], "from the request URI " + full
    return [], "the request URI is not this resource's path"


def resolve_target(
    target: Target, fields: Mapping[str, str], partition: str, region: str, account: str
) -> Resolved:
    """The ARNs a request names for one target."""
    event = _Event(partition, region, account)
    formats = tuple(shape.fmt for shape in target.shapes) or alternatives(target.resource_type.arn)
    arns: list[str] = []
    sources: list[str] = []
    used: list[str] = []
    for path in target.arn_paths:
        for value in _values(fields, path):
            if value.startswith("arn:") and any(matches_format(literal(value), f) for f in formats):
                arns.append(literal(value))
                sources.append(f"the ARN in {path}")
                used.append(path)
    reasons: list[str] = []
    for shape in target.shapes:
        built, reason = _fill(shape, fields, event)
        arns.extend(built)
        (sources if built else reasons).append(reason)
        if built:
            used.extend(_members(shape, fields))
    if not arns and target.resource_type.required:
        # only when no format resolved whole (a pattern beside an exact ARN would widen it for nothing), and
        # for a type the action needs: an optional one the request does not name may not be involved at all
        for shape in target.shapes:
            if shape.missing:
                built, reason = _fill(shape, fields, event, assigned=True)
                arns.extend(built)
                if built:
                    sources.append(reason)
                    used.extend(_members(shape, fields))
    found = tuple(dict.fromkeys(arns))
    # the promise of this module: every ARN has a shape the reference lists for the action
    assert all(any(matches_format(arn, f) for f in formats) for arn in found), (target.action, found)
    name = target.resource_type.name
    if found:
        reason = f"{target.action} {name}: " + "; ".join(dict.fromkeys(sources))
    elif not target.shapes:
        reason = f"{target.action} {name}: no botocore operation for this event"
    else:
        reason = f"{target.action} {name}: {reasons[0] if reasons else 'not named by the request'}"
    return Resolved(
        target.action,
        name,
        target.resource_type.arn,
        target.resource_type.required,
        found,
        reason,
        tuple(dict.fromkeys(used)) if found else (),
    )


def _members(shape: Shape, fields: Mapping[str, str]) -> list[str]:
    """The members of ``shape`` that hold a value in the request."""
    paths = [path for slot in shape.slots for path, _ in slot.paths] + [path for _, path in shape.uri if path]
    return [path for path in paths if fields.get(path) not in (None, "")]


def _skeleton(fmt: str) -> tuple[str, int]:
    """A format's service and the number of parts of its resource (``app-instance/${Id}/user/${Id}``: 4)."""
    parts = fmt.split(":", 5)
    return (parts[2], len(re.split(r"[/:]", parts[5]))) if len(parts) == 6 else (fmt, 0)


def siblings(one: str, other: str) -> bool:
    """Whether two resource types' formats are kinds of one thing: the same service and shape, told apart
    by a literal (``app-instance/${AppInstanceId}/user/...`` and ``.../bot/...``; Bedrock's
    ``foundation-model/...`` and ``inference-profile/...``), so that one request value names one or the other.

    >>> siblings("arn:${Partition}:chime:${Region}:${Account}:app-instance/${AppInstanceId}/user/${UserId}",
    ...          "arn:${Partition}:chime:${Region}:${Account}:app-instance/${AppInstanceId}/bot/${BotId}")
    True
    >>> siblings("arn:${Partition}:chime:${Region}:${Account}:app-instance/${AppInstanceId}",
    ...          "arn:${Partition}:chime:${Region}:${Account}:app-instance/${AppInstanceId}/bot/${BotId}")
    False
    """
    return any(
        _skeleton(a) == _skeleton(b) and a != b for a in alternatives(one) for b in alternatives(other)
    )


def waived(call: Call, action: str, matched: set[str]) -> set[str]:
    """The required resource types of ``action`` that this call did not need: each could only have been named
    by members whose values named a sibling type instead (:func:`siblings`: the ``ChimeBearer`` of a message
    is an app instance user *or* bot; a Bedrock ``modelId`` is a foundation model *or* an inference
    profile). A type some member could still name, or that no sibling explains, stays needed.

    >>> arn = "arn:aws:chime:us-east-1:111122223333:app-instance/ai-1/"
    >>> call = Call("messaging-chime", "SendChannelMessage", "aws", "111122223333", "us-east-1", "",
    ...             {"channelArn": arn + "channel/c-1", "chimeBearer": arn + "user/u-1"})
    >>> sorted(waived(call, "chime:SendChannelMessage", {"channel", "app-instance-user"}))
    ['app-instance-bot']
    >>> waived(Call("messaging-chime", "SendChannelMessage", "aws", "111122223333", "us-east-1", "",
    ...             {"channelArn": arn + "channel/c-1"}), "chime:SendChannelMessage", {"channel"})
    set()
    """
    targets = [
        t for t in plan(call.source, call.name, actions_of(call.source, call.name)) if t.action == action
    ]
    found = {
        t.resource_type.name: resolve_target(t, call.fields, call.partition, call.region, call.account)
        for t in targets
    }
    out: set[str] = set()
    for target in targets:
        name = target.resource_type.name
        if name in matched or not target.resource_type.required or found[name].arns:
            continue
        valued = {path for path in target.paths() if call.fields.get(path) not in (None, "")}
        named_instead = {
            other.resource_type.name
            for other in targets
            if other.resource_type.name in matched
            and found[other.resource_type.name].arns
            and valued & set(found[other.resource_type.name].paths)
            and siblings(target.resource_type.arn, other.resource_type.arn)
        }
        used = {path for other in named_instead for path in found[other].paths}
        # the evidence: a member that could hold either (``chimeBearer``, ``modelId``) held the sibling; one
        # named for the sibling (``channelArn``) says nothing of whether this type was needed too
        either = {path for path in valued & used if not _names_a_type(path, named_instead)}
        if valued and either and valued <= used:
            out.add(name)
    return out


def _names_a_type(path: str, types: Iterable[str]) -> bool:
    """Whether the member at ``path`` is named for one of ``types`` (``channelArn`` for a channel)."""
    stem = _split(path.rsplit(".", 1)[-1])[0]
    return any(stem == _split(name)[0] for name in types)


def resolve(
    host: str,
    event_name: str,
    fields: Mapping[str, str],
    partition: str,
    region: str,
    account: str,
    actions: tuple[str, ...] | None = None,
) -> list[Resolved]:
    """Every resource type of every action of one call, with the ARNs its request named.

    ``fields`` are dotted request paths -> text (see :func:`flat`); ``actions`` default to the call's mapping.

    >>> [r.arns for r in resolve("cloudfront", "GetDistribution2020_05_31", {"id": "E2QWRUHEXAMPLE"},
    ...                          "aws", "us-east-1", "111122223333")]
    [('arn:aws:cloudfront::111122223333:distribution/E2QWRUHEXAMPLE',)]
    """
    wanted = actions_of(host, event_name) if actions is None else actions
    return [
        resolve_target(target, fields, partition, region, account)
        for target in plan(host, event_name, tuple(wanted))
    ]


def extract(call: Call) -> Iterator[Ref]:
    """The generic extractor: the resolver's ARNs as :class:`Ref` tagged with their format, restricted to
    the action they were resolved for, then ``resources[]`` as written."""
    by_ref: dict[tuple[str, str], set[str]] = {}
    notes: dict[tuple[str, str], str] = {}
    resolved = resolve(call.source, call.name, call.fields, call.partition, call.region, call.account)
    for item in resolved:
        for arn in item.arns:
            key = (arn, item.fmt)
            by_ref.setdefault(key, set()).add(item.action)
            notes.setdefault(key, item.reason)
    for (arn, fmt), actions in sorted(by_ref.items()):
        yield Ref(arn, fmt, frozenset(actions), notes[(arn, fmt)])
    yield from from_resources(call)


def spec(host: str) -> ServiceSpec:
    """A :class:`ServiceSpec` for any host: the fields each operation's plan reads, pulled only for it."""
    paths = request_paths(host)
    only: dict[str, set[str]] = {}
    for name, fields in paths.items():
        for path in fields:
            only.setdefault(path, set()).add(name)
    return ServiceSpec(
        fields=tuple(sorted(only)),
        extract=extract,
        only={path: tuple(sorted(names)) for path, names in only.items()},
        waive=waived,
    )
