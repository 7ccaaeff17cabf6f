"""Committed policies held against the trail: the calls they would deny, the grants nobody used, a patch.

:func:`check` takes the policies :mod:`trailsmith.check.sources` read, finds their principals in the
warehouse, and runs the same usage aggregation policy generation runs (either engine). Every group of calls
becomes what IAM authorised for it (the generator's grants and passed roles: one action on one resource),
and each is decided by the request evaluator (:mod:`trailsmith.iam.request`) with the context the trail
recorded for it:

- ``aws:RequestedRegion``, ``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:PrincipalType``,
  ``aws:ViaAWSService``, ``iam:PassedToService`` (for ``iam:PassRole``), and, when a policy has
  conditions or policy variables, ``aws:SourceIp`` (only when the caller's address is an address: an AWS
  service calling on the principal's behalf has none), ``aws:SourceVpce``, ``aws:MultiFactorAuthPresent``,
  ``aws:username`` and ``aws:userid``;
- every other key a condition tests (tags, ``aws:CurrentTime`` of a group that spans a time range,
  service-specific keys) is unknown: a statement that depends on it neither surely matches nor surely does
  not, and a decision that depends on it is ``unknown``, reported, never a failure.

A call whose resource the trail does not name (the generator's ``"*"`` fallback) or names only as a pattern
(``internet-gateway/*`` for a gateway being created) is allowed for sure only by a statement that covers
every resource; a policy that names resources leaves it ``unknown``.

What is unused is decided per source, over every principal it applies to (a managed policy attached to two
roles is used if either uses it): a whole ``Allow`` statement that allowed nothing, and in a statement
that did, each ``Action`` and ``Resource`` entry that no allowed call matched. ``Deny`` statements are
guardrails, never unused.

The patch of a source drops what is unused and, in the principal's first source, adds one statement per
set of resources with the actions its implicitly denied calls needed; applying it and checking again
finds nothing (explicit denies are left to a human: removing a ``Deny`` is a decision).
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from typing import Any, Literal

import orjson

from trailsmith.check.findings import (
    CheckReport,
    Decision,
    Denied,
    Patch,
    Place,
    PrincipalCheck,
    Unused,
    UnusedKind,
)
from trailsmith.check.patch import terraform_document
from trailsmith.check.sources import PolicySource, Sources, unassigned
from trailsmith.engines import DEFAULT_MASTER, Engine, usage_source
from trailsmith.errors import TrailsmithError
from trailsmith.iam.export import Policy, Statement
from trailsmith.iam.matching import entry
from trailsmith.iam.request import Outcome, Request, decide, matches
from trailsmith.policy.arns import plain
from trailsmith.policy.extract.base import Known
from trailsmith.policy.generator import authorizations
from trailsmith.policy.usage import Filters, Window, generated_hosts, parse_time


class CheckError(TrailsmithError):
    """Options of a check that cannot work (a window that ends before it starts, a principal no source
    holds); exit code 2, as ``check`` gives every usage error (1 means findings)."""

    exit_code = 2


#: Condition keys the trail tells for every call (lower case); any other key a policy tests is unknown.
TOLD = frozenset(
    {
        "aws:requestedregion",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principaltype",
        "aws:viaawsservice",
        "aws:sourceip",
        "aws:sourcevpce",
        "aws:multifactorauthpresent",
        "aws:username",
        "aws:userid",
        "iam:passedtoservice",
    }
)

#: The note on a principal the warehouse has never seen.
ABSENT = "not in this warehouse (is its account's trail ingested?): nothing to hold its policies against"

#: The aggregation's context columns (``trailsmith.policy.usage.CONTEXT_COLUMNS``) and the condition keys
#: each tells: a column is grouped by only when some policy tests one of its keys (each makes more groups).
CONTEXT_KEYS: dict[str, frozenset[str]] = {
    "sourceIPAddress": frozenset({"aws:sourceip"}),
    "vpcEndpointId": frozenset({"aws:sourcevpce"}),
    "mfaAuthenticated": frozenset({"aws:multifactorauthpresent"}),
    "userName": frozenset({"aws:username"}),
    "principalId": frozenset({"aws:userid"}),
}

#: At most this many sample event ids per finding.
SAMPLES = 3

#: The forms whose patch is a diff of the source file that ``git apply`` takes; the others (a policy inside
#: ``jsonencode``, a heredoc, an export) give the policy's JSON before and after, for a reviewer.
APPLICABLE = frozenset({"json", "terraform"})

#: The Sid of the statement a patch adds for calls the policy would deny.
ADDED_SID = "ObservedInTrail"


@dataclass(frozen=True)
class _Need:
    """One authorisation a group of calls needed: an action on a resource, with the request context."""

    action: str
    resource: str
    #: how the generator chose the resource: "resource" (named), "any" (no resource-level permissions),
    #: "fallback" (not named), or a pattern kind ("pattern", "created", "implied")
    kind: str
    context: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass
class _Tally:
    calls: int = 0
    first: datetime | None = None
    last: datetime | None = None
    samples: set[str] = field(default_factory=set)

    def add(self, calls: int, first: datetime, last: datetime, samples: Iterable[str]) -> None:
        self.calls += calls
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)
        self.samples.update(samples)


@dataclass
class _Use:
    """What of one source's Allow statements allowed some call (over all its principals)."""

    statements: set[int] = field(default_factory=set)
    actions: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    resources: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: (statement, action, resource) already marked
    seen: set[tuple[int, str, str]] = field(default_factory=set)


def check(
    sources: Sources,
    warehouse: str | os.PathLike[str] | None = None,
    *,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    principals: Sequence[str] = (),
    engine: Engine | str = Engine.duckdb,
    spark_master: str = DEFAULT_MASTER,
) -> CheckReport:
    """Hold every principal's committed policies (``sources``) against its calls in the window.

    ``principals`` limits the check to these ARNs (or ``role/NAME``, ``user/NAME`` as the sources name
    them); ``since``/``until`` as for policy generation (a date, an ISO time, or ``90d``).
    """
    window = Window(parse_time(since), parse_time(until, end=True))
    if window.since and window.until and window.since >= window.until:
        raise CheckError("--since is not before --until", hint="Give a window that ends after it starts")
    keyed = _keyed(sources)
    with usage_source(warehouse, engine=engine, spark_master=spark_master) as source:
        holders = source.known_principals()
        known = Known.from_arns(holders, source.instance_profile_roles())
        assigned = _assign(keyed, holders)
        if principals:
            assigned = {p: s for p, s in assigned.items() if _wanted(p, s, principals)}
            if not assigned:
                raise CheckError(
                    f"no source holds a policy of {', '.join(principals)}",
                    hint="Name a principal as the sources do (an ARN, role/NAME or user/NAME), or use --map",
                )
        present = tuple(sorted(p for p in assigned if p in set(holders)))
        keys = _keys(s.policy for listed in assigned.values() for s in listed)
        context = tuple(column for column, told in CONTEXT_KEYS.items() if told & keys)
        rows = (
            source.aggregate(
                Filters(present, window, generated=generated_hosts(source.event_calls()), context=context)
            )
            if present
            else None
        )
    needs: dict[str, dict[_Need, _Tally]] = defaultdict(lambda: defaultdict(_Tally))
    if rows is not None:
        for row, evidence, grants, passed in authorizations(rows, known):
            principal = row["principalArn"]
            base = _context(row, principal)
            for grant in grants:
                needs[principal][_Need(grant.action, grant.resource, grant.kind, base)].add(
                    evidence.events, evidence.first_seen, evidence.last_seen, evidence.sample_event_ids
                )
            for role in passed:
                with_service = (*base, ("iam:passedtoservice", (role.service,)))
                needs[principal][_Need("iam:PassRole", role.role, "resource", with_service)].add(
                    evidence.events, evidence.first_seen, evidence.last_seen, evidence.sample_event_ids
                )
    uses: dict[int, _Use] = defaultdict(_Use)
    results: dict[str, tuple[int, list[Denied], list[str]]] = {}
    for principal in present:
        listed = assigned[principal]
        boundary = sources.boundaries.get(principal)
        results[principal] = _decide_all(principal, listed, boundary, needs.get(principal, {}), uses)
    return _report(sources, assigned, results, uses, window)


# --- principals ------------------------------------------------------------------------------------------


def _keyed(sources: Sources) -> dict[str, list[PolicySource]]:
    keyed: dict[str, list[PolicySource]] = defaultdict(list)
    for item in sources.policies:
        for key in item.principals:
            keyed[key].append(item)
    return keyed


def _assign(keyed: Mapping[str, list[PolicySource]], holders: Sequence[str]) -> dict[str, list[PolicySource]]:
    """Warehouse principal (or the sources' key, when none matches) -> every source that applies to it."""
    out: dict[str, list[PolicySource]] = defaultdict(list)
    for key, listed in keyed.items():
        found = [h for h in holders if _same(key, h)] or [key]
        for holder in found:
            for item in listed:
                if item not in out[holder]:
                    out[holder].append(item)
    return {p: sorted(s, key=_order) for p, s in out.items()}


def _same(key: str, holder: str) -> bool:
    """Whether a source's principal key names the warehouse's principal ``holder``: the same ARN, or
    ``role/NAME`` / ``user/NAME`` for a role or user of that name (any path, any account)."""
    if key.startswith("arn:"):
        return key == holder
    kind, _, name = key.partition("/")
    parts = holder.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam":
        return False
    resource = parts[5]
    return resource.startswith(kind + "/") and resource.rsplit("/", 1)[-1] == name


def _wanted(principal: str, listed: Sequence[PolicySource], wanted: Sequence[str]) -> bool:
    return any(w == principal or _same(w, principal) or w in s.principals for w in wanted for s in listed)


def _order(item: PolicySource) -> tuple[str, int, str]:
    return (item.location.path, item.location.line, item.address)


# --- deciding --------------------------------------------------------------------------------------------


def _context(row: Mapping[str, Any], principal: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The condition keys the trail tells for a group of calls (see the module's docstring)."""
    parts = principal.split(":", 5)
    out: dict[str, tuple[str, ...]] = {
        "aws:principalarn": (principal,),
        "aws:viaawsservice": ("true" if row.get("invokedBy") else "false",),
    }
    if len(parts) == 6:
        out["aws:principalaccount"] = (parts[4],)
        out["aws:principaltype"] = ("User",) if parts[5].startswith("user/") else ("AssumedRole",)
    if row.get("awsRegion"):
        out["aws:requestedregion"] = (row["awsRegion"],)
    address = row.get("sourceIPAddress")
    if address and _is_address(address):
        out["aws:sourceip"] = (address,)
    if row.get("vpcEndpointId"):
        out["aws:sourcevpce"] = (row["vpcEndpointId"],)
    if row.get("mfaAuthenticated") in ("true", "false"):
        out["aws:multifactorauthpresent"] = (row["mfaAuthenticated"],)
    if row.get("userName") and parts[-1].startswith("user/"):
        out["aws:username"] = (row["userName"],)
    if row.get("principalId"):
        out["aws:userid"] = (row["principalId"],)
    return tuple(sorted(out.items()))


@functools.lru_cache(maxsize=4096)
def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _keys(policies: Iterable[Policy]) -> frozenset[str]:
    """Every condition key (lower case) the policies test, and the keys of their policy variables."""
    found: set[str] = set()
    for policy in policies:
        for statement in policy.statements:
            found |= _statement_keys(statement)
    return frozenset(found)


@functools.lru_cache(maxsize=4096)
def _statement_keys(statement: Statement) -> frozenset[str]:
    found: set[str] = set()
    if statement.condition:
        try:
            block = orjson.loads(statement.condition)
        except orjson.JSONDecodeError:
            block = {}
        for tests in block.values() if isinstance(block, dict) else ():
            found.update(k.lower() for k in tests if isinstance(tests, dict))
    for text in (*statement.resources, statement.condition):
        start = text.find("${")
        while start != -1:
            end = text.find("}", start)
            if end == -1:
                break
            found.add(text[start + 2 : end].split(",", 1)[0].strip().lower())
            start = text.find("${", end)
    return frozenset(k for k in found if k not in ("*", "?", "$"))


def _decide_all(
    principal: str,
    listed: Sequence[PolicySource],
    boundary: Policy | None,
    needs: Mapping[_Need, _Tally],
    uses: dict[int, _Use],
) -> tuple[int, list[Denied], list[str]]:
    """(calls checked, the denied, notes) for one principal; marks what allowed something in ``uses``."""
    policies = [s.policy for s in listed]
    by_label = {s.policy.label: s for s in listed}
    tested = _keys([*policies, *([boundary] if boundary else [])])
    unknown = tested - TOLD
    denied: list[Denied] = []
    calls = 0
    undetermined: set[str] = set()
    places = tuple(dict.fromkeys(_place(s) for s in listed))
    for need, tally in sorted(_relevant(needs, tested).items(), key=lambda i: (i[0].action, i[0].resource)):
        calls += tally.calls
        request = Request(need.action, _requested(need), dict(need.context), unknown)
        outcome = decide(policies, request, boundary=[boundary] if boundary else None)
        decision, reason = _judged(outcome, need, policies, request)
        if decision == "allow":
            for label, index in outcome.allowed_by:
                _mark(uses, by_label[label], index, request)
            continue
        undetermined.update(outcome.undetermined)
        denied.append(
            Denied(
                principal,
                need.action,
                need.resource,
                tally.calls,
                tally.first or datetime.min.replace(tzinfo=timezone.utc),
                tally.last or datetime.min.replace(tzinfo=timezone.utc),
                tuple(sorted(tally.samples))[:SAMPLES],
                decision,
                tuple(_statement_place(by_label, label, index) for label, index in outcome.denied_by),
                places,
                reason,
            )
        )
    notes = []
    if not needs:
        notes.append("made no call in the window: everything its policies grant is unused")
    if undetermined:
        notes.append(f"conditions on {', '.join(sorted(undetermined))} cannot be decided from the trail")
    return calls, _merged(denied), notes


def _relevant(needs: Mapping[_Need, _Tally], tested: frozenset[str]) -> dict[_Need, _Tally]:
    """``needs`` with only the context keys the policies test: the calls of one action on one resource
    that differ only in what no policy looks at (their region, say, when no statement tests it) are one
    decision."""
    out: dict[_Need, _Tally] = defaultdict(_Tally)
    for need, tally in needs.items():
        context = tuple(item for item in need.context if item[0] in tested)
        merged = out[replace(need, context=context)]
        merged.add(tally.calls, tally.first or _NEVER, tally.last or _NEVER, tally.samples)
    return out


_NEVER = datetime.min.replace(tzinfo=timezone.utc)


def _requested(need: _Need) -> str:
    """The resource IAM authorised: the ARN the generator's policy text spells (``[${$}LATEST]`` is
    ``[$LATEST]``), ``"*"`` for an action without resources or a resource the trail does not name."""
    return "*" if need.kind in ("any", "fallback") else plain(need.resource)


def _judged(
    outcome: Outcome, need: _Need, policies: Sequence[Policy], request: Request
) -> tuple[Decision | Literal["allow"], str]:
    """The decision on a need and one sentence why; an implicit deny of a call whose resource the trail
    does not name (or names as a pattern) is ``unknown`` when some Allow names the action on resources."""
    if outcome.decision == "allow":
        return "allow", ""
    if outcome.decision == "explicit-deny":
        return "explicit-deny", "a Deny statement matches the call"
    if outcome.decision == "unknown":
        keys = ", ".join(outcome.undetermined) or "values the trail does not record"
        return "unknown", f"the decision depends on {keys}"
    vague = need.kind == "fallback" or (need.kind != "any" and "*" in need.resource)
    if vague and _names_action(policies, request):
        what = "does not name the resource" if need.kind == "fallback" else "names the resource as a pattern"
        return "unknown", f"the trail {what}; a statement allows {need.action} on some resources"
    return "implicit-deny", f"no statement allows {need.action} on this resource"


def _names_action(policies: Sequence[Policy], request: Request) -> bool:
    """Whether an Allow statement that names resources (not ``"*"``) may allow the request on one of them:
    its action and condition match; which resource the call was on, the trail does not say."""
    anywhere = replace(request, resource="*")
    for policy in policies:
        for statement in policy.statements:
            if statement.effect != "Allow" or (not statement.not_resource and "*" in statement.resources):
                continue  # a statement on every resource was decided whatever the resource
            if matches(replace(statement, resources=("*",), not_resource=False), anywhere) is not False:
                return True
    return False


def _mark(uses: dict[int, _Use], item: PolicySource, index: int, request: Request) -> None:
    """Record which Action and Resource entries of an allowing statement matched the request."""
    use = uses[id(item)]
    use.statements.add(index)
    seen = (index, request.action, request.resource)
    if seen in use.seen:
        return  # the same call in another context: the same entries
    use.seen.add(seen)
    statement = item.policy.statements[index]
    entries = _entries(statement)
    if not statement.not_action:
        actions = use.actions[index]
        actions.update(entries.actions.get(request.action.lower(), ()))
        wild = [p for p in entries.wild_actions if p not in actions]
        actions.update(p for p in wild if entry(p, "action").plain(request.action))
    if not statement.not_resource:
        resources = use.resources[index]
        resources.update(entries.resources.get(request.resource, ()))
        wild = [p for p in entries.wild_resources if p not in resources]
        resources.update(p for p in wild if entry(p, "arn").match(request.resource, request, []) is True)


@dataclass(frozen=True)
class _Entries:
    """A statement's Action and Resource entries: plain text by what it matches, and the others."""

    actions: Mapping[str, tuple[str, ...]]
    wild_actions: tuple[str, ...]
    resources: Mapping[str, tuple[str, ...]]
    wild_resources: tuple[str, ...]


@functools.lru_cache(maxsize=1 << 14)
def _entries(statement: Statement) -> _Entries:
    """A generated statement lists hundreds of exact ARNs: which one a call matched is a lookup."""
    actions: dict[str, list[str]] = defaultdict(list)
    resources: dict[str, list[str]] = defaultdict(list)
    wild_actions, wild_resources = [], []
    for pattern in statement.actions:
        if any(c in pattern for c in "*?"):
            wild_actions.append(pattern)
        else:
            actions[pattern.strip().lower()].append(pattern)
    for pattern in statement.resources:
        if any(c in pattern for c in "*?$"):
            wild_resources.append(pattern)
        else:
            resources[pattern].append(pattern)
    return _Entries(
        {k: tuple(v) for k, v in actions.items()},
        tuple(wild_actions),
        {k: tuple(v) for k, v in resources.items()},
        tuple(wild_resources),
    )


def _merged(denied: list[Denied]) -> list[Denied]:
    """One finding per (action, resource, decision): groups that differ only in context add up."""
    merged: dict[tuple[str, str, str], Denied] = {}
    for item in denied:
        key = (item.action, item.resource, item.decision)
        seen = merged.get(key)
        if seen is None:
            merged[key] = item
            continue
        merged[key] = replace(
            seen,
            calls=seen.calls + item.calls,
            first_seen=min(seen.first_seen, item.first_seen),
            last_seen=max(seen.last_seen, item.last_seen),
            sample_event_ids=tuple(sorted({*seen.sample_event_ids, *item.sample_event_ids}))[:SAMPLES],
            denied_by=tuple(dict.fromkeys((*seen.denied_by, *item.denied_by))),
        )
    return sorted(merged.values(), key=lambda d: (-d.calls, d.action, d.resource))


# --- places ----------------------------------------------------------------------------------------------


def _place(item: PolicySource) -> Place:
    return Place(item.location.path, item.location.line, item.address)


def _statement_place(by_label: Mapping[str, PolicySource], label: str, index: int) -> Place:
    item = by_label.get(label)
    if item is None:
        return Place(label, 0, label)  # a boundary's statement
    lines = item.statement_lines
    line = lines[index] if index < len(lines) and lines[index] else item.location.line
    return Place(item.location.path, line, item.address)


# --- unused and the patch --------------------------------------------------------------------------------


def _unused(item: PolicySource, use: _Use | None) -> list[tuple[UnusedKind, str, int, str]]:
    """(kind, value, statement index, reason) of what ``item`` grants that allowed nothing."""
    out: list[tuple[UnusedKind, str, int, str]] = []
    for index, statement in enumerate(item.policy.statements):
        if statement.effect != "Allow":
            continue
        name = statement.sid or f"#{index + 1}"
        if use is None or index not in use.statements:
            out.append(("statement", name, index, "no call in the window needed this statement"))
            continue
        if not statement.not_action:
            for pattern in statement.actions:
                if pattern not in use.actions[index]:
                    out.append(("action", pattern, index, f"no call of statement {name} matched this action"))
        if not statement.not_resource:
            for pattern in statement.resources:
                if pattern not in use.resources[index]:
                    why = f"no call allowed by statement {name} was on this resource"
                    out.append(("resource", pattern, index, why))
    return out


def tightened(document: Mapping[str, Any], policy: Policy, use: _Use | None) -> dict[str, Any]:
    """``document`` without the Allow statements, actions and resources ``use`` did not need.

    The document's statements are the policy's, in order (as :func:`trailsmith.iam.export.parse_document`
    reads them); single values stay single.
    """
    out = copy.deepcopy(dict(document))
    written = out.get("Statement")
    statements = written if isinstance(written, list) else [written]
    kept: list[Any] = []
    for index, (raw, statement) in enumerate(zip(statements, policy.statements, strict=False)):
        if statement.effect != "Allow":
            kept.append(raw)
            continue
        if use is None or index not in use.statements:
            continue
        entry = dict(raw)
        if not statement.not_action and "Action" in entry:
            entry["Action"] = _kept(entry["Action"], use.actions[index])
        if not statement.not_resource and "Resource" in entry:
            entry["Resource"] = _kept(entry["Resource"], use.resources[index])
        kept.append(entry)
    out["Statement"] = kept[0] if not isinstance(written, list) and len(kept) == 1 else kept
    return out


def _kept(value: Any, used: set[str]) -> Any:
    if isinstance(value, list):
        remaining = [v for v in value if v in used]
        return remaining[0] if len(remaining) == 1 else remaining
    return value


def _added(denied: Sequence[Denied]) -> list[dict[str, Any]]:
    """Statements that allow the implicitly denied calls: actions grouped by the resources they need."""
    by_action: dict[str, set[str]] = defaultdict(set)
    for item in denied:
        if item.decision == "implicit-deny":
            by_action[item.action].add(item.resource)
    by_resources: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for action, needed in sorted(by_action.items()):
        by_resources[tuple(sorted(needed))].append(action)
    out = []
    for number, (resources, actions) in enumerate(sorted(by_resources.items(), key=lambda x: x[1])):
        out.append(
            {
                "Sid": ADDED_SID if number == 0 else f"{ADDED_SID}{number + 1}",
                "Effect": "Allow",
                "Action": actions[0] if len(actions) == 1 else actions,
                "Resource": resources[0] if len(resources) == 1 else list(resources),
            }
        )
    return out


def _patch(item: PolicySource, document: dict[str, Any]) -> Patch | None:
    """The source rewritten with ``document``, in its own form; None when nothing changes."""
    if document == item.document:
        return None
    place = _place(item)
    if item.form == "json" and _whole_file(item):
        before = _read(item.location.path)
        return Patch(place, "json", before, _json_file(before, document))
    if item.form == "terraform-document" and item.location.line and item.location.end_line:
        before = _read(item.location.path)
        lines = before.split("\n")
        name = item.address.rsplit(".", 1)[-1]
        block = terraform_document(document, name).rstrip("\n").split("\n")
        after = lines[: item.location.line - 1] + block + lines[item.location.end_line :]
        return Patch(place, "terraform", before, "\n".join(after))
    # a policy inside a larger document (jsonencode, a heredoc, an export): its JSON, for a reviewer
    return Patch(place, item.form, _pretty(item.document), _pretty(document))


def _whole_file(item: PolicySource) -> bool:
    return os.path.isfile(item.location.path) and item.location.path == item.address


def _read(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def _json_file(before: str, document: dict[str, Any]) -> str:
    """The file's JSON with its policy document replaced: the document itself, or inside the wrappers the
    AWS CLI writes (``PolicyDocument``, ``PolicyVersion.Document``)."""
    data = orjson.loads(before)
    if isinstance(data, dict) and isinstance(data.get("PolicyVersion"), dict):
        data["PolicyVersion"]["Document"] = document
    elif isinstance(data, dict) and "PolicyDocument" in data:
        data["PolicyDocument"] = document
    else:
        data = document
    return _pretty(data)


def _pretty(data: Any) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"


def _report(
    sources: Sources,
    assigned: Mapping[str, list[PolicySource]],
    results: Mapping[str, tuple[int, list[Denied], list[str]]],
    uses: Mapping[int, _Use],
    window: Window,
) -> CheckReport:
    # a principal the warehouse never saw (its account's trail is not here, or a name that matches no one)
    # has nothing to hold its policies against: it is listed, its grants are not called unused
    holders: dict[int, list[str]] = defaultdict(list)
    every: dict[int, PolicySource] = {}
    for principal, listed in sorted(assigned.items()):
        if principal not in results:
            continue
        for item in listed:
            holders[id(item)].append(principal)
            every[id(item)] = item
    # the statements for a principal's denied calls go into its first source no other principal has
    extras: dict[int, list[Denied]] = defaultdict(list)
    for principal, listed in sorted(assigned.items()):
        if listed and principal in results:
            home = next((i for i in listed if len(holders[id(i)]) == 1), listed[0])
            extras[id(home)].extend(results[principal][1])
    patches: dict[str, list[Patch]] = defaultdict(list)
    for key, item in sorted(every.items(), key=lambda pair: _order(pair[1])):
        document = tightened(item.document, item.policy, uses.get(key))
        added = _added(extras[key])
        if added:
            kept = document["Statement"]
            document["Statement"] = [*(kept if isinstance(kept, list) else [kept]), *added]
        patch = _patch(item, document)
        if patch is not None:
            patches[holders[key][0]].append(patch)  # a shared source's patch goes with its first principal
    checks = []
    for principal, listed in sorted(assigned.items()):
        if principal not in results:
            checks.append(PrincipalCheck(principal, 0, (), (), (), (ABSENT,)))
            continue
        calls, denied, notes = results[principal]
        unused = [
            Unused(principal, kind, value, _statement_place({i.policy.label: i}, i.policy.label, index), why)
            for i in listed
            for kind, value, index, why in _unused(i, uses.get(id(i)))
        ]
        if any(len(holders[id(i)]) > 1 for i in listed):
            notes.append("some of its policies apply to other principals too: unused means unused by all")
        checks.append(
            PrincipalCheck(
                principal, calls, tuple(denied), tuple(unused), tuple(patches[principal]), tuple(notes)
            )
        )
    unresolved = tuple(
        (Place(gap.path, gap.line, gap.address), f"{gap.what}: {gap.why}") for gap in sources.unresolved
    ) + tuple(
        (_place(item), "names no principal: give --map FILE with the role or user it is for")
        for item in unassigned(sources)
    )
    return CheckReport(tuple(checks), _window_text(window), unresolved, ())


def _window_text(window: Window) -> str:
    since = window.since.date().isoformat() if window.since else "the first event"
    until = window.until.date().isoformat() if window.until else "the last event"
    return f"{since} .. {until}"
