"""Which resources a call named: the vocabulary shared by the per-service extractors.

A usage row (one group of identical calls, see :mod:`trailsmith.policy.usage`) carries the few request
fields the SQL pulled out of ``requestParameters`` for its service, the ``resources[]`` ARNs CloudTrail
recorded, and the ids a service's ``id_pattern`` found in the request (EC2's). An *extractor* turns that
into :class:`Ref` candidates: ARNs (or bounded ARN patterns) each tagged with the reference-data ARN format
it was built for. Which candidates apply to which action is decided later
(:mod:`trailsmith.policy.resources`), by format. :mod:`trailsmith.policy.extract.registry` gathers the
extractors.

Every request field an extractor reads is declared in its :class:`ServiceSpec`, with the field names taken
from botocore's service models (CloudTrail writes the member names with a lower-case first letter) and
from CloudTrail's own record shapes (S3 ``bucketName``/``key``, EC2's ``...Set.items`` lists). The SQL
reads exactly those fields, so adding a field is one line here and nothing else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from trailsmith.actions.reference import ResourceType
from trailsmith.policy.arns import arn_format, build, literal, matches_format, split_arn


@dataclass(frozen=True)
class Known:
    """ARNs the warehouse already knows, to put paths back on names: IAM ``GetRole`` names a role by
    name, its ARN has the role's path (``role/service-role/name``)."""

    roles: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    users: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    #: (account, instance profile name) -> role names added to it (``iam:AddRoleToInstanceProfile``)
    profile_roles: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_arns(
        cls, arns: Iterable[str], profile_roles: Mapping[tuple[str, str], tuple[str, ...]] | None = None
    ) -> Known:
        roles: dict[tuple[str, str], set[str]] = {}
        users: dict[tuple[str, str], set[str]] = {}
        for arn in arns:
            parts = split_arn(arn)
            if parts is None or parts[1] != "iam":
                continue
            kind, _, rest = parts[4].partition("/")
            name = rest.rsplit("/", 1)[-1]
            table = roles if kind == "role" else users if kind == "user" else None
            if table is not None and name:
                table.setdefault((parts[3], name), set()).add(arn)
        return cls(
            {k: tuple(sorted(v)) for k, v in roles.items()},
            {k: tuple(sorted(v)) for k, v in users.items()},
            dict(profile_roles or {}),
        )


@dataclass(frozen=True)
class Call:
    """What extractors see of one usage row."""

    source: str
    name: str
    partition: str
    account: str
    region: str
    principal: str
    #: request field (dotted path) -> value as text; objects and lists stay JSON text
    fields: Mapping[str, str]
    #: ``resources[]`` as (ARN, type, ARNPrefix)
    resources: tuple[tuple[str | None, str | None, str | None], ...] = ()
    #: EC2 ids (``i-...``, ``subnet-...``) found anywhere in the request
    ids: tuple[str, ...] = ()
    known: Known = field(default_factory=Known)

    def get(self, path: str) -> str | None:
        value = self.fields.get(path)
        return value if value not in (None, "") else None

    def values(self, path: str) -> list[str]:
        """A field that holds one string or a JSON list of strings, as a list."""
        value = self.get(path)
        if value is None:
            return []
        if value.startswith("["):
            parsed = loads(value)
            return (
                [str(v) for v in parsed if isinstance(v, (str, int)) and str(v)]
                if isinstance(parsed, list)
                else []
            )
        return [value]

    def context(self, account: str | None = None, region: str | None = None) -> dict[str, str]:
        return {
            "Partition": self.partition,
            "Account": self.account if account is None else account,
            "Region": self.region if region is None else region,
        }


@dataclass(frozen=True)
class Ref:
    """A resource a call used: an ARN or a bounded ARN pattern, policy-escaped.

    ``fmt`` is the reference-data ARN format the ARN was built for ("" when it came from ``resources[]``
    or a request field holding a full ARN: then its shape decides). ``actions`` restricts it to some of
    the call's actions (``CopyObject`` writes the target and reads the source); empty means all.
    """

    arn: str
    fmt: str = ""
    actions: frozenset[str] = frozenset()
    note: str = ""


Extractor = Callable[[Call], Iterator[Ref]]


@dataclass(frozen=True)
class ServiceSpec:
    """How to find the resources of one service's calls.

    ``fields`` are the dotted ``requestParameters`` paths the extractor reads. ``covers`` lists the IAM
    resource types (``prefix:type``) whose naming fields are all among them: when a call names none of
    them, it named none at all, so the call created one or acted on all of that type in its account and
    region (:mod:`trailsmith.policy.resources` then scopes to those). ``resources`` says for which calls
    the SQL keeps ``resources[]`` (True: all, False: none, or a set of event names): S3, DynamoDB item
    calls and Lambda repeat their request there, and skipping it keeps the biggest data-event sources cheap
    to aggregate.
    Extractors use ``resources[]`` explicitly (:func:`from_resources`), never implicitly.
    """

    fields: tuple[str, ...]
    extract: Extractor
    covers: frozenset[str] = frozenset()
    resources: bool | frozenset[str] = True
    #: fields only some calls carry: path -> event name prefixes (other calls' values are ignored)
    only: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: a regular expression the SQL runs over the whole request (group 1: an id), for services that name
    #: resources by id in more fields than can be listed (EC2); the matches reach the
    #: extractor as ``Call.ids``
    id_pattern: str | None = None
    #: groups of resource types (``prefix:type``) of which a call names one, though the reference marks
    #: each as required (Bedrock's kinds of model, a listener of each kind of load balancer): once one of a
    #: group is named, the others are not needed
    alternatives: tuple[frozenset[str], ...] = ()
    #: whether CloudTrail records this service's requests with botocore's member names, so that the generic
    #: resolver may fill in what the extractor leaves (:mod:`trailsmith.policy.extract.layered`); False for
    #: EC2's query shapes (``instancesSet.items``) and S3's ``bucketName``/``key``
    models_match: bool = True
    #: the required resource types of an action a call did not need, beyond ``alternatives``: given the
    #: call, the action and the types it named (the resolver's ``generic.waived``)
    waive: Callable[[Call, str, set[str]], set[str]] | None = None


def loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def ref(
    call: Call,
    prefix: str,
    resource_type: str,
    *,
    note: str = "",
    actions: Iterable[str] = (),
    account: str | None = None,
    region: str | None = None,
    **values: str,
) -> Ref:
    """A reference built from the reference's format; ``values`` are raw names (escaped here)."""
    fmt = arn_format(prefix, resource_type)
    if not fmt:
        raise KeyError(f"{prefix}:{resource_type} is not a resource type in the IAM reference data")
    context = (
        call.partition,
        call.account if account is None else account,
        call.region if region is None else region,
    )
    return Ref(_built(fmt, context, tuple(sorted(values.items()))), fmt, frozenset(actions), note)


@functools.lru_cache(maxsize=1 << 16)
def _built(fmt: str, context: tuple[str, str, str], values: tuple[tuple[str, str], ...]) -> str:
    """Cached: the same bucket, table or function is named by thousands of groups of calls."""
    filled = dict(zip(("Partition", "Account", "Region"), context, strict=True)) | {
        k: literal(v) for k, v in values
    }
    return build(fmt, filled)


def pattern_ref(
    call: Call,
    prefix: str,
    resource_type: str,
    *,
    note: str = "",
    actions: Iterable[str] = (),
    **patterns: str,
) -> Ref:
    """Like :func:`ref`, but ``patterns`` are already policy text (they may hold ``*`` on purpose)."""
    fmt = arn_format(prefix, resource_type)
    return Ref(build(fmt, call.context() | dict(patterns)), fmt, frozenset(actions), note)


def arn_ref(arn: str, *, note: str = "", actions: Iterable[str] = ()) -> Ref:
    """A full ARN as AWS wrote it; its shape decides its resource type."""
    return Ref(literal(arn), "", frozenset(actions), note)


def is_arn(value: str | None) -> bool:
    return bool(value) and value.startswith("arn:")  # type: ignore[union-attr]


def arns_in(call: Call, *paths: str) -> Iterator[Ref]:
    """The ARNs held by request fields (one value or a list each), as AWS wrote them."""
    for path in paths:
        for value in call.values(path):
            if is_arn(value):
                yield arn_ref(value)


def role_refs(call: Call, name: str, account: str | None = None, *, actions: Iterable[str] = ()) -> list[Ref]:
    """A role named without its path: the one role of that name the warehouse knows, else the name under
    any path (``role/name`` and ``role/*/name``), said so in the note."""
    return _iam_named(
        call, "role", "RoleNameWithPath", name, account or call.account, call.known.roles, actions
    )


def user_refs(call: Call, name: str, account: str | None = None) -> list[Ref]:
    return _iam_named(call, "user", "UserNameWithPath", name, account or call.account, call.known.users, ())


def _iam_named(
    call: Call,
    kind: str,
    variable: str,
    name: str,
    account: str,
    table: Mapping[tuple[str, str], tuple[str, ...]],
    actions: Iterable[str],
) -> list[Ref]:
    if "/" in name:  # already a path and name
        return [ref(call, "iam", kind, account=account, actions=actions, **{variable: name.lstrip("/")})]
    found = table.get((account, name), ())
    if len(found) == 1:
        return [
            Ref(
                literal(found[0]),
                arn_format("iam", kind),
                frozenset(actions),
                f"{kind} {name}: path taken from the warehouse's principals",
            )
        ]
    note = f"{kind} {name} named without its path: allowed under any path"
    return [
        ref(call, "iam", kind, account=account, actions=actions, note=note, **{variable: name}),
        pattern_ref(
            call, "iam", kind, note=note, actions=actions, Account=account, **{variable: "*/" + literal(name)}
        ),
    ]


def from_resources(call: Call, types: Iterable[str] | None = None) -> Iterator[Ref]:
    """``resources[]`` ARNs (optionally of some CloudTrail types only), untagged."""
    wanted = set(types) if types is not None else None
    for arn, kind, _prefix in call.resources:
        if arn and (wanted is None or kind in wanted):
            yield arn_ref(arn)


def type_of(ref: Ref, types: Iterable[ResourceType]) -> ResourceType | None:
    """The resource type ``ref`` is of: the one it was built for, or for an ARN AWS wrote, the first whose
    format it has."""
    for resource_type in types:
        if not resource_type.arn:
            continue
        if ref.fmt == resource_type.arn or (not ref.fmt and matches_format(ref.arn, resource_type.arn)):
            return resource_type
    return None
