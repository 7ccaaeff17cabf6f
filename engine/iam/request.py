"""What IAM would decide for one request, from a principal's identity-based policies and its boundary.

:mod:`trailsmith.iam.evaluate` answers "which actions may this principal call, somewhere"; this module answers
"was *this* call, on *this* resource, with *this* request context, allowed". It is what ``trailsmith check``
holds the calls of a trail against, so it must be exact where the trail is, and say so where it is not: a
decision is three-valued, and a condition key the trail cannot tell (a resource tag, say) makes the
statements that test it match neither surely nor surely not.

The rules, from the IAM User Guide (policy evaluation logic, policy elements, condition operators, policy
variables):

- A statement applies when its ``Action`` (or ``NotAction``), its ``Resource`` (or ``NotResource``) and its
  ``Condition`` all match. An explicit ``Deny`` wins; otherwise the request is allowed only if an ``Allow``
  matches, and, with a permissions boundary, an ``Allow`` of the boundary matches too (its ``Deny``
  statements count like any other).
- Actions: ``service:pattern`` or ``*``, with ``*`` and ``?`` wildcards, case-insensitive.
- Resources: an ARN's six colon-separated parts (the last, the resource, may hold colons itself) are matched
  part by part, case-sensitively; ``*`` and ``?`` stay inside a part, except in the pattern's last part,
  which runs to the end of the ARN. ``"*"`` matches anything; a request on ``"*"`` (an action that takes
  no resource) is matched only by ``"*"``, or by a ``NotResource`` that does not list it.
- Policy variables, in resources and in String, Arn and Bool condition values: ``${key}`` for any context
  key, ``${key, 'default'}``, and ``${*}``, ``${?}``, ``${$}`` for the literal characters. A variable whose
  key is absent (or has several values) and has no default makes that entry match nothing.
- Conditions: operators are ANDed, the keys of an operator are ANDed, the values of a key are ORed, and a
  negated operator (``StringNotEquals``, ``NotIpAddress``, ...) is true when no value matches (NOR). A key
  absent from the request (or present with no values) makes an operator false, a negated one true, an
  ``...IfExists`` one true; ``ForAllValues:`` is true and ``ForAnyValue:`` false on it. ``Null`` tests
  absence. Without a set qualifier, a key with several values matches when any of them does.
- Keys and operator names are case-insensitive; values are case-sensitive except with ``IgnoreCase`` and
  ``Bool``. Dates are ISO 8601 or epoch seconds (UTC when no zone is given); IP ranges are IPv4 or IPv6
  CIDRs; ``BinaryEquals`` compares base-64 decoded bytes.

Patterns and condition operators are compiled once, by their text, in :mod:`trailsmith.iam.matching`; a
policy's statements once per policy object, and the statements an action can reach once per action.

A context key listed in :attr:`Request.unknown` (or in a family such as ``aws:resourcetag/*``) and not in
the context makes every test of it undetermined (``None``); a statement that might match leaves the
decision ``"unknown"`` unless the rest of the policies settle it either way.

Policies come from files nobody vetted: a condition block that IAM would refuse (an unknown operator, a
value that is not a number for ``NumericEquals``, an object where a string belongs) makes its statement
match nothing, and :attr:`Outcome.problems` says which and why, should the statement have mattered.

Left out: resource-based policies, service control and resource control policies, session policies, the
``Principal`` element, and the rule that an ``Allow`` in a resource-based policy can grant on its own.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from trailsmith.iam.export import Policy, Statement
from trailsmith.iam.matching import (
    UNKNOWN,
    Clause,
    Looked,
    Patterns,
    Tri,
    all_of,
    condition,
    everything,
    negation,
    patterns,
)

Decision = Literal["allow", "implicit-deny", "explicit-deny", "unknown"]


@dataclass(frozen=True)
class Request:
    """One authorisation request as the trail shows it.

    ``context`` maps condition keys (any case) to the values the request carries; ``unknown`` names, in
    lower case, the keys the trail cannot tell, or key families ending in ``/*``. A key in ``context`` is
    known even when its family is listed as unknown.
    """

    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unknown: frozenset[str] = frozenset()
    _values: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _unknown: frozenset[str] = field(init=False, repr=False, compare=False)
    _families: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        values = {
            key.lower(): (value,) if isinstance(value, str) else tuple(_text(v) for v in value)
            for key, value in self.context.items()
        }
        unknown = frozenset(k.lower() for k in self.unknown)
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_unknown", unknown)
        object.__setattr__(self, "_families", tuple(k[:-1] for k in unknown if k.endswith("/*")))

    def lookup(self, key: str) -> Looked:
        """The values of ``key`` (lower case); ``None`` if absent, :data:`UNKNOWN` if the trail cannot tell.

        >>> unknown = frozenset({"aws:resourcetag/*"})
        >>> r = Request("s3:GetObject", "*", {"aws:SourceIp": ("10.0.0.1",)}, unknown)
        >>> r.lookup("aws:sourceip"), r.lookup("aws:username"), r.lookup("aws:resourcetag/env")
        (('10.0.0.1',), None, <Unknown.KEY: 'unknown'>)
        """
        found = self._values.get(key)
        if found is not None:
            return found
        if key in self._unknown or any(key.startswith(family) for family in self._families):
            return UNKNOWN
        return None


def _text(value: object) -> str:
    """A context value as policies compare it: booleans spelled as JSON spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Outcome:
    """IAM's decision on one request, and the statements behind it."""

    decision: Decision
    #: (policy label, statement index) of the identity-policy Allow statements that matched
    allowed_by: tuple[tuple[str, int], ...] = ()
    #: Deny statements that matched, in the identity policies or the boundary
    denied_by: tuple[tuple[str, int], ...] = ()
    #: condition keys whose unknown value left the decision open (only when it is ``"unknown"``)
    undetermined: tuple[str, ...] = ()
    #: boundary Allow statements that matched
    boundary_allowed_by: tuple[tuple[str, int], ...] = ()
    #: statements that would have applied but for a malformed Condition, and why
    problems: tuple[str, ...] = ()


# --- statements ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compiled:
    statement: Statement
    actions: Patterns
    resources: Patterns
    #: the statement lists ``"*"`` (or ``"**"``...) as a resource
    star: bool
    clauses: tuple[Clause, ...]
    #: why the Condition block cannot be read ("" when it can): the statement then matches nothing
    problem: str


@functools.lru_cache(maxsize=1 << 14)
def _compile(statement: Statement) -> _Compiled:
    actions = patterns([p.strip() for p in statement.actions], "action")
    clauses, problem = condition(statement.condition) if statement.condition else ((), "")
    return _Compiled(
        statement,
        actions,
        patterns(statement.resources, "arn"),
        any(everything(r) for r in statement.resources),
        clauses,
        problem,
    )


#: how many compiled policies, and actions per policy, are remembered before starting afresh
_REMEMBERED = 1 << 12


class _Policy:
    """A policy's compiled statements, and which of them each action reaches (remembered per action).

    ``check`` asks about the same few hundred actions millions of times: the statements whose Action
    cannot match are skipped without looking at them, which is most of them in a large policy.
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.statements = tuple(_compile(s) for s in policy.statements)
        self._reaching: dict[str, tuple[tuple[int, _Compiled], ...]] = {}

    def reaching(self, action: str) -> tuple[tuple[int, _Compiled], ...]:
        found = self._reaching.get(action)
        if found is None:
            if len(self._reaching) >= _REMEMBERED:
                self._reaching.clear()
            found = tuple((i, c) for i, c in enumerate(self.statements) if _acts(c, action))
            self._reaching[action] = found
        return found


#: compiled policies by ``id``; each entry holds its policy, so the id cannot be reused while it is here
_POLICIES: dict[int, _Policy] = {}


def _policy(policy: Policy) -> _Policy:
    compiled = _POLICIES.get(id(policy))
    if compiled is None or compiled.policy is not policy:
        if len(_POLICIES) >= _REMEMBERED:
            _POLICIES.clear()
        compiled = _POLICIES[id(policy)] = _Policy(policy)
    return compiled


def _acts(compiled: _Compiled, action: str) -> bool:
    return compiled.actions.plain(action) != compiled.statement.not_action


def _resource(compiled: _Compiled, request: Request, keys: list[str]) -> Tri:
    if request.resource == "*":
        found: Tri = compiled.star
    else:
        found = compiled.star or compiled.resources.match(request.resource, request, keys)
    return negation(found) if compiled.statement.not_resource else found


def _applies(compiled: _Compiled, request: Request, keys: list[str], problems: list[str]) -> Tri:
    """Whether a statement whose Action matches applies: its resources, then its condition."""
    applies = _resource(compiled, request, keys)
    if applies is False:
        return False
    if compiled.problem:
        problems.append(compiled.problem)
        return False
    return all_of([applies, all_of(c.evaluate(request, keys) for c in compiled.clauses)])


def matches(statement: Statement, request: Request) -> bool | None:
    """Whether ``statement`` applies to ``request``; ``None`` when that depends on keys the trail cannot tell.

    >>> from trailsmith.iam.export import parse_document
    >>> [s] = parse_document({"Statement": {"Effect": "Allow", "Action": "s3:Get*",
    ...     "Resource": "arn:aws:s3:::logs/*", "Condition": {"Bool": {"aws:SecureTransport": True}}}},
    ...     "p").statements
    >>> matches(s, Request("s3:GetObject", "arn:aws:s3:::logs/a:b", {"aws:SecureTransport": ("true",)}))
    True
    >>> matches(s, Request("s3:GetObject", "arn:aws:s3:::logs/a", unknown=frozenset({"aws:securetransport"})))
    >>> matches(s, Request("s3:PutObject", "arn:aws:s3:::logs/a", {"aws:SecureTransport": ("true",)}))
    False
    """
    compiled = _compile(statement)
    return _acts(compiled, request.action) and _applies(compiled, request, [], [])


# --- decisions -------------------------------------------------------------------------------------------


@dataclass
class _Scan:
    """What one set of policies says about a request."""

    allows: list[tuple[str, int]] = field(default_factory=list)
    denies: list[tuple[str, int]] = field(default_factory=list)
    #: keys of the Allow / Deny statements that might match
    maybe_allow: list[str] | None = None
    maybe_deny: list[str] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> Tri:
        return True if self.allows else None if self.maybe_allow is not None else False


def _scan(policies: Sequence[Policy], request: Request) -> _Scan:
    scan = _Scan()
    keys: list[str] = []
    problems: list[str] = []
    for policy in policies:
        for index, compiled in _policy(policy).reaching(request.action):
            seen = len(keys)
            found = _applies(compiled, request, keys, problems)
            deny = compiled.statement.effect == "Deny"
            if found:
                (scan.denies if deny else scan.allows).append((policy.label, index))
            elif found is None and deny:
                scan.maybe_deny = (scan.maybe_deny or []) + keys[seen:]
            elif found is None:
                scan.maybe_allow = (scan.maybe_allow or []) + keys[seen:]
            if problems:
                sid = f" ({compiled.statement.sid})" if compiled.statement.sid else ""
                scan.problems += [f"{policy.label} statement {index}{sid}: {p}" for p in problems]
                problems.clear()
    return scan


def decide(
    policies: Sequence[Policy], request: Request, *, boundary: Sequence[Policy] | None = None
) -> Outcome:
    """IAM's decision on ``request`` given the principal's identity-based policies and permissions boundary.

    >>> from trailsmith.iam.export import parse_document
    >>> allow = parse_document({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}, "p")
    >>> deny = parse_document({"Statement": {"Effect": "Deny", "Action": "s3:Delete*", "Resource": "*",
    ...     "Condition": {"StringNotEquals": {"aws:ResourceTag/env": "dev"}}}}, "d")
    >>> decide([allow, deny], Request("s3:GetObject", "arn:aws:s3:::b/k")).decision
    'allow'
    >>> decide([allow, deny], Request("s3:DeleteObject", "arn:aws:s3:::b/k")).denied_by
    (('d', 0),)
    >>> out = decide([allow, deny], Request("s3:DeleteObject", "arn:aws:s3:::b/k",
    ...     unknown=frozenset({"aws:resourcetag/*"})))
    >>> out.decision, out.undetermined
    ('unknown', ('aws:resourcetag/env',))
    >>> decide([allow], Request("s3:GetObject", "arn:aws:s3:::b/k"), boundary=[]).decision
    'implicit-deny'
    """
    scan = _scan(policies, request)
    bound = _scan(boundary, request) if boundary is not None else None
    denies = scan.denies + (bound.denies if bound else [])
    problems = tuple(dict.fromkeys(scan.problems + (bound.problems if bound else [])))
    allowed = all_of([scan.allowed, bound.allowed if bound else True])
    decision: Decision = "unknown"
    open_keys: list[str] = []
    if denies:
        decision = "explicit-deny"
    elif allowed is False:
        decision = "implicit-deny"
    else:
        scans = (scan, bound) if bound else (scan,)
        open_keys = [key for one in scans for key in one.maybe_deny or ()]
        if allowed is None:
            open_keys += [key for one in scans if one.allowed is None for key in one.maybe_allow or ()]
        elif scan.maybe_deny is None and (bound is None or bound.maybe_deny is None):
            decision = "allow"
    return Outcome(
        decision,
        allowed_by=tuple(scan.allows),
        denied_by=tuple(denies),
        undetermined=tuple(sorted(set(open_keys))),
        boundary_allowed_by=tuple(bound.allows) if bound else (),
        problems=problems,
    )
