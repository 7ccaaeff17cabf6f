"""Least-privilege IAM policies from what principals really did, for one principal or all of them at once.

>>> import trailsmith.policy.generator as policy
>>> [p] = policy.generate("warehouse", ["arn:aws:iam::123456789012:role/app"])   # doctest: +SKIP
>>> print(p.to_json())                                                           # doctest: +SKIP

The work is split so that it scales: one SQL aggregation over the warehouse (:mod:`trailsmith.policy.usage`)
returns a few thousand groups of identical calls; each group's IAM actions come from the checked event
mapping (:mod:`trailsmith.actions.mapping`), its resources from the request
(:mod:`trailsmith.policy.resources`), its passed roles from the request too
(:mod:`trailsmith.policy.passrole`); then grants become merged, sorted, size-limited documents
(:mod:`trailsmith.policy.document`). Which events count, and why the others do not, is decided here
(:func:`classify`), and every decision is kept for ``--explain``. Asked for condition keys, it proposes a
condition per action from what its calls recorded (:mod:`trailsmith.policy.conditions`), attached once the
resources are chosen; :mod:`trailsmith.iam.replay` replays them before they are written.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from trailsmith.actions.mapping import event_host, map_event
from trailsmith.engines import DEFAULT_MASTER, Engine, usage_source
from trailsmith.policy.abac import Abac
from trailsmith.policy.arns import covers
from trailsmith.policy.conditions import (
    Context,
    Observed,
    Options,
    Seen,
    Tally,
    context,
    propose,
    readings,
    whole,
)
from trailsmith.policy.document import Entry, build_documents, passrole_condition
from trailsmith.policy.extract.base import Call, Known
from trailsmith.policy.generalize import Widened, drop_covered, fit
from trailsmith.policy.model import (
    DEFAULT_ATTACHED_POLICIES,
    DEFAULT_RESOURCE_MODE,
    GROUP_MODES,
    MAX_DOCUMENT_CHARS,
    RESOURCE_MODES,
    SAMPLES,
    Condition,
    ConditionNote,
    Evidence,
    Exclusion,
    ExclusionReason,
    GroupMode,
    PolicyDocument,
    PolicyError,
    PrincipalPolicy,
    Replayed,
    ResourceMode,
    Statement,
    Widening,
    merge_all,
)
from trailsmith.policy.passrole import PassedRole, passed_roles
from trailsmith.policy.resources import Grant, grants_for
from trailsmith.policy.source import UsageSource
from trailsmith.policy.usage import Filters, Window, fields, generated_hosts, parse_time

__all__ = [
    "Evidence",
    "Exclusion",
    "PolicyDocument",
    "PolicyError",
    "PrincipalPolicy",
    "Statement",
    "classify",
    "generate",
    "group_key",
    "usage",
    "usage_frame",
]

#: Event types whose calls were authorised by the caller's policies.
_API_TYPES = frozenset({"AwsApiCall", "AwsConsoleAction"})
_SSO_ROLE = re.compile(
    r"^arn:[^:]+:iam::\d+:role/aws-reserved/sso\.amazonaws\.com/(?:[^/]+/)?AWSReservedSSO_(.+)_[0-9a-f]{16}$"
)


def group_key(principal: str, group: GroupMode = "role") -> str:
    """The policy a principal's calls go into: itself, or its IAM Identity Center permission set.

    >>> sso = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/"
    >>> group_key(sso + "AWSReservedSSO_Admin_0123456789abcdef", "permission-set")
    'permission-set/Admin'
    """
    if group == "permission-set":
        match = _SSO_ROLE.match(principal)
        if match:
            return f"permission-set/{match.group(1)}"
    return principal


def classify(
    event_type: str | None, outcome: str, source: str, name: str
) -> tuple[ExclusionReason | None, str]:
    """Whether a group of calls counts, and if not, why (reason, detail).

    Counted: API calls (and console actions that map to IAM actions) that passed authorisation, including
    those that failed afterwards (throttled, not found). Calls made for the principal by a service through
    forward access sessions (``invokedBy`` set, the principal's own identity) count too: AWS checks the
    principal's permissions for them (IAM User Guide, "Forward access sessions"). Calls by AWS services
    under their own identity have no principal ARN and never get here.
    """
    if event_type == "AwsServiceEvent":
        return "service-event", "an event AWS services record about themselves, not a call by the principal"
    if event_type == "AwsConsoleSignIn":
        return "sign-in", "a console sign-in, not an API call authorised by IAM"
    if event_type is not None and event_type not in _API_TYPES:
        # A record without eventType (some exports drop it) is taken as the API call it almost always is:
        # leaving out a permission that was used would break the workload.
        return "not-an-api-call", f"event type {event_type}"
    mapping = map_event(source, name)
    if outcome == "denied":
        return "denied", ", ".join(mapping.actions) or mapping.reason
    if outcome == "unauthenticated":
        return "unauthenticated", "the request failed authentication before any authorisation"
    if mapping.status == "no_permission":
        return "no-permission", mapping.reason
    if mapping.status == "unmapped":
        return "unmapped", mapping.reason
    return None, ""


def _partition(arn: str) -> str:
    parts = arn.split(":", 2)
    return parts[1] if len(parts) > 2 and parts[1] else "aws"


class _Accumulator:
    """Everything derived for one policy (a principal or a permission set), order-independent."""

    def __init__(self) -> None:
        self.members: set[str] = set()
        self.grants: dict[tuple[str, str, str, str], list[Evidence]] = defaultdict(list)
        self.notes: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
        self.excluded: dict[tuple[ExclusionReason, str, str, str], list[Evidence]] = defaultdict(list)
        self.fallbacks: set[str] = set()
        self.events = 0
        self.invoked: dict[str, int] = defaultdict(int)
        #: with ``--conditions``: action -> condition key -> what its calls showed; the action's calls; and
        #: (action, resource, kind, context) -> (calls, the smallest sample event id), for the replay
        self.tallies: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
        self.calls: dict[str, int] = defaultdict(int)
        self.observed: dict[tuple[str, str, str, Context], tuple[int, str, datetime, datetime]] = {}

    def grant(
        self, action: str, resource: str, fmt: str, service: str, evidence: Evidence, note: str
    ) -> None:
        key = (action, resource, fmt, service)
        self.grants[key].append(evidence)
        if note:
            self.notes[key].add(note)


def _row_evidence(row: dict[str, Any]) -> Evidence:
    samples = tuple(sorted({row["firstEventId"], row["lastEventId"]} - {None}))[:SAMPLES]
    return Evidence(int(row["events"]), row["firstSeen"], row["lastSeen"], samples)


def _call(row: dict[str, Any], known: Known) -> Call:
    host = event_host(row["eventSource"] or "")
    resources = tuple((r.get("ARN"), r.get("type"), r.get("ARNPrefix")) for r in row.get("resources") or ())
    return Call(
        source=host,
        name=row["eventName"] or "",
        partition=_partition(row["principalArn"]),
        account=row["accountId"] or "",
        region=row["awsRegion"] or "",
        principal=row["principalArn"],
        fields=fields(host, row),
        resources=resources,
        ids=tuple(row.get("scannedIds") or ()),
        known=known,
    )


def _accumulate(
    rows: Iterable[dict[str, Any]], known: Known, group: GroupMode, options: Options | None = None
) -> dict[str, _Accumulator]:
    policies: dict[str, _Accumulator] = defaultdict(_Accumulator)
    asked = options if options is not None and options.active else None
    cache: dict[tuple[Any, ...], _Derived] = {}
    for row in rows:
        target = policies[group_key(row["principalArn"], group)]
        target.members.add(row["principalArn"])
        evidence = _row_evidence(row)
        source, name = row["eventSource"] or "", row["eventName"] or ""
        reason, detail = classify(row["eventType"], row["outcome"], source, name)
        if reason is not None:
            target.excluded[(reason, source, name, detail)].append(evidence)
            continue
        target.events += evidence.events
        if row.get("invokedBy"):
            target.invoked[row["invokedBy"]] += evidence.events
        grants, passed = _derived(row, known, cache)
        for grant in grants:
            if grant.kind == "fallback":
                target.fallbacks.add(grant.note)
            target.grant(grant.action, grant.resource, grant.fmt, "", evidence, _note(grant))
        for role in passed:
            target.grant("iam:PassRole", role.role, "", role.service, evidence, role.note)
        if asked is not None:
            _tally(target, row, evidence, grants, passed, asked)
    return policies


def _tally(
    target: _Accumulator,
    row: dict[str, Any],
    evidence: Evidence,
    grants: list[Grant],
    passed: list[PassedRole],
    options: Options,
) -> None:
    """What the calls of a row show of each asked condition key, per action, and each authorisation they
    needed with its request context (identical ones added up: far fewer to replay than rows)."""
    events = evidence.events
    sample = evidence.sample_event_ids[0] if evidence.sample_event_ids else ""
    needed: list[tuple[str, str, str, Context]] = [(g.action, g.resource, g.kind, ()) for g in grants]
    needed += [("iam:PassRole", r.role, "resource", (("iam:PassedToService", (r.service,)),)) for r in passed]
    for action, resource, kind, fixed in needed:
        seen = Seen(row["principalArn"], action, resource, row)
        target.calls[action] += events
        found = readings(seen, options)
        for key, reading in found.items():
            target.tallies[action][key].add(reading, events, seen.account)
        place = (action, resource, kind, context(found) + fixed)
        calls, first, since, until = target.observed.get(
            place, (0, sample, evidence.first_seen, evidence.last_seen)
        )
        target.observed[place] = (
            calls + events,
            min(first, sample) if first and sample else first or sample,
            min(since, evidence.first_seen),
            max(until, evidence.last_seen),
        )


_Derived = tuple[list[Grant], list[PassedRole]]


def authorizations(
    table: pa.Table, known: Known
) -> Iterator[tuple[dict[str, Any], Evidence, list[Grant], list[PassedRole]]]:
    """Each row of an aggregation whose calls policies are made from (API calls that passed authorisation,
    as :func:`classify` decides), with the grants and passed roles its calls needed: what ``trailsmith
    check`` holds committed policies against."""
    cache: dict[tuple[Any, ...], _Derived] = {}
    for row in table.to_pylist():
        source, name = row["eventSource"] or "", row["eventName"] or ""
        if classify(row["eventType"], row["outcome"], source, name)[0] is None:
            grants, passed = _derived(row, known, cache)
            yield row, _row_evidence(row), grants, passed


def _derived(row: dict[str, Any], known: Known, cache: dict[tuple[Any, ...], _Derived]) -> _Derived:
    """Grants and passed roles of one usage row; rows of different principals naming the same resources
    share the work (the principal matters only to IAM calls on "the calling user")."""
    call = _call(row, known)
    key = (
        call.source,
        call.name,
        call.partition,
        call.account,
        call.region,
        call.principal if call.source == "iam" else "",
        tuple(sorted(call.fields.items())),
        call.resources,
        call.ids,
    )
    found = cache.get(key)
    if found is None:
        mapping = map_event(row["eventSource"], row["eventName"])
        grants = grants_for(call, mapping.actions)
        if mapping.request_dependent:
            # Which of the candidates a call needs depends on its request body, which CloudTrail does not
            # keep; all of them are granted rather than a guess, and explain says so.
            why = (
                f"{row['eventName']} needs one or more of {', '.join(mapping.actions)} "
                "depending on its request; "
                "all are allowed"
            )
            grants = [replace(g, note="; ".join(filter(None, (g.note, why)))) for g in grants]
        found = cache[key] = (grants, list(passed_roles(call, mapping.actions)))
    return found


def _note(grant: Grant) -> str:
    if grant.kind in ("resource", "pattern", "any"):
        # "any": the action has no resource-level permissions, which needs no note per statement
        return "" if grant.kind == "any" and "depending on its request" not in grant.note else grant.note
    return f"{grant.kind}: {grant.note}"


#: Entries with the proposed conditions of their actions added (no change without ``--conditions``).
_Attach = Callable[[list[Entry]], list[Entry]]


def _unchanged(entries: list[Entry]) -> list[Entry]:
    return entries


def _entries(
    acc: _Accumulator, mode: ResourceMode, attach: _Attach = _unchanged, reshape: _Attach = _unchanged
) -> tuple[list[Entry], tuple[Widening, ...], tuple[PolicyDocument, ...] | None]:
    """The entries of a policy in ``mode``, the widenings made, and their documents when already built.

    Resources are chosen first and the proposed conditions attached after (``attach``), so that widening
    sees only PassRole's fixed conditions; the quota is measured with the conditions attached. ``reshape``
    runs on the exact entries first (``--abac``: tag conditions in place of ARNs, which widening then
    leaves alone, as it leaves every entry with a condition).
    """
    entries = reshape(
        [
            Entry(
                action,
                resource,
                merge_all(evidence),
                passrole_condition(service) if service else (),
                tuple(sorted(acc.notes[(action, resource, fmt, service)])),
            )
            for (action, resource, fmt, service), evidence in acc.grants.items()
        ]
    )
    if mode == "exact":
        return attach(entries), (), None
    if mode == "service":
        return (
            attach(
                [
                    e
                    if e.conditions
                    else Entry(e.action, "*", e.evidence, (), (*e.notes, "service mode: any resource"))
                    for e in entries
                ]
            ),
            (),
            None,
        )
    if mode == "fit":
        # most principals fit as they are: their documents are the answer, built once
        documents = build_documents(attach(entries))
        if fits_quota(documents):
            return attach(entries), (), documents
    formats = {(a, r): f for (a, r, f, s) in acc.grants if not s}
    by_action: dict[str, list[Entry]] = defaultdict(list)
    fixed = [e for e in entries if e.conditions]
    for entry in entries:
        if not entry.conditions:
            by_action[entry.action].append(entry)
    pairs = {
        action: [(e.resource, formats.get((action, e.resource), "")) for e in items]
        for action, items in by_action.items()
    }
    if mode == "generalize":
        widened = Widened.everything(pairs)
    else:
        widened, _ = fit(pairs, functools.partial(_fits, fixed, attach))
    return attach(fixed + _widened_entries(by_action, widened, mode)), _widenings(widened), None


def _fits(fixed: list[Entry], attach: _Attach, resources: dict[str, list[str]]) -> bool:
    """Whether ``fixed`` entries and ``resources`` per action (with their conditions) make documents IAM
    lets one principal attach."""
    evidence = fixed[0].evidence if fixed else _ANY_EVIDENCE
    entries = fixed + [Entry(a, r, evidence) for a, items in resources.items() for r in items]
    return fits_quota(build_documents(attach(entries)))


_ANY_EVIDENCE = Evidence(0, datetime.min, datetime.min)


def fits_quota(documents: Sequence[PolicyDocument]) -> bool:
    """At most ``DEFAULT_ATTACHED_POLICIES`` documents of at most ``MAX_DOCUMENT_CHARS`` characters each."""
    return len(documents) <= DEFAULT_ATTACHED_POLICIES and all(
        d.size <= MAX_DOCUMENT_CHARS for d in documents
    )


def _widened_entries(by_action: dict[str, list[Entry]], widened: Widened, mode: ResourceMode) -> list[Entry]:
    """Each entry with the resource that now allows it, and a note of the rule that made that resource.

    ``fit`` notes the step that made the resource; ``generalize`` every rule that fired in its scope.
    """
    out: list[Entry] = []
    current = widened.current()
    for action, items in sorted(by_action.items()):
        wider = [w for w in drop_covered(current[action]) if "*" in w.replace("${*}", "")]
        heads: dict[str, list[str]] = defaultdict(list)
        for rule in widened.notes[action]:
            heads[rule.rsplit(" under ", 1)[-1]].append(f"generalized: {rule}")
        fired: dict[str, tuple[str, ...]] = {}
        for entry in items:
            target = next((w for w in wider if w != entry.resource and covers(w, entry.resource)), None)
            if target is None:
                out.append(entry)
                continue
            if target not in fired:
                made = widened.made[action].get(target)
                if mode == "generalize":
                    scopes = [notes for head, notes in heads.items() if target.startswith(head)]
                    fired[target] = tuple(n for notes in scopes for n in notes)
                else:
                    fired[target] = (f"generalized: {made.note}",) if made else ()
            out.append(Entry(action, target, entry.evidence, (), entry.notes + fired[target]))
    return out


def _widenings(widened: Widened) -> tuple[Widening, ...]:
    """The patterns that replaced exact ARNs, with the actions and how many ARNs each replaced."""
    found: dict[str, tuple[set[str], set[str], str]] = {}
    for action, origins in widened.origins.items():
        for pattern, arns in origins.items():
            if arns == {pattern}:
                continue
            made = widened.made[action].get(pattern)
            actions, replaced, _ = found.setdefault(pattern, (set(), set(), made.rule if made else ""))
            actions.add(action)
            replaced.update(arns)
    out = [
        Widening(pattern, tuple(sorted(actions)), len(arns), rule)
        for pattern, (actions, arns, rule) in found.items()
    ]
    return tuple(sorted(out, key=lambda w: (-w.arns, w.pattern)))


#: (policy, action, condition key) -> the replay's verdict on the condition proposed for them
Verdicts = Mapping[tuple[str, str, str], Replayed]


def _conditions(
    key: str, acc: _Accumulator, options: Options, verdicts: Verdicts
) -> tuple[_Attach, tuple[ConditionNote, ...]]:
    """The proposed conditions of each action (less those the replay dropped), and a note on each key."""
    extra: dict[str, tuple[Condition, ...]] = {}
    notes: list[ConditionNote] = []
    principal_wide = whole(acc.tallies)
    for action in sorted(acc.tallies):
        kept: list[Condition] = []
        tallies = dict(acc.tallies[action])
        for name, total in principal_wide.items():
            if name in tallies and (total.absent or len(total.values) > 1):
                tallies[name] = total  # another call of the principal lacked it: not for this action either
        for proposal in propose(action, tallies, acc.calls[action], options):
            if proposal.condition is None:
                notes.append(
                    ConditionNote(
                        action,
                        proposal.key,
                        "not-proposed",
                        proposal.calls,
                        reason=proposal.reason,
                        lacking=proposal.lacking,
                    )
                )
                continue
            verdict = verdicts.get((key, action, proposal.key))
            if verdict is not None and verdict.denied:
                why = f"it would deny {verdict.denied:,} of {verdict.checked:,} calls ({verdict.detail})"
                notes.append(
                    ConditionNote(
                        action, proposal.key, "dropped", proposal.calls, proposal.condition, verdict, why
                    )
                )
                continue
            kept.append(proposal.condition)
            notes.append(
                ConditionNote(action, proposal.key, "emitted", proposal.calls, proposal.condition, verdict)
            )
        if kept:
            extra[action] = tuple(kept)

    def attach(entries: list[Entry]) -> list[Entry]:
        return [
            replace(e, conditions=e.conditions + extra[e.action]) if e.action in extra else e for e in entries
        ]

    return attach, tuple(notes)


def _replayed(key: str, notes: Iterable[ConditionNote], verdicts: Verdicts) -> list[ConditionNote]:
    """Tag condition notes with the replay's verdict on their action, once there is one."""
    return [
        replace(n, replayed=verdicts.get((key, n.action, n.key))) if n.status == "emitted" else n
        for n in notes
    ]


def _finish(
    key: str,
    acc: _Accumulator,
    mode: ResourceMode,
    window: Window,
    options: Options | None = None,
    verdicts: Verdicts | None = None,
    abac: Abac | None = None,
) -> PrincipalPolicy:
    attach: _Attach = _unchanged
    reshape: _Attach = _unchanged
    condition_notes: tuple[ConditionNote, ...] = ()
    if options is not None and options.keys:
        attach, condition_notes = _conditions(key, acc, options, verdicts or {})
    tag_notes: list[ConditionNote] = []
    if abac is not None:
        formats = {(a, r): f for (a, r, f, s) in acc.grants if not s}

        def reshape(entries: list[Entry]) -> list[Entry]:
            shaped, found = abac.reshape(key, sorted(acc.members), entries, formats)
            tag_notes.extend(_replayed(key, found, verdicts or {}))
            return shaped

    entries, widened, built = _entries(acc, mode, attach, reshape)
    condition_notes += tuple(tag_notes)
    documents = build_documents(entries) if built is None else built
    notes: list[str] = []
    if not fits_quota(documents):
        quota = (
            f"{len(documents)} documents: more than the {DEFAULT_ATTACHED_POLICIES} managed policies of "
            f"{MAX_DOCUMENT_CHARS:,} characters a role may have attached by default"
        )
        if mode == "exact":
            notes.append(f"{quota}; the default --resources {DEFAULT_RESOURCE_MODE} widens only as needed")
        elif mode == "service":
            notes.append(quota)
        else:
            notes.append(
                f"{quota}, even with every bounded generalisation (nothing was left out); split the work "
                "across principals, ask AWS for a higher quota, or use --resources service"
            )
    if not documents:
        notes.append("no authorised call that needs a permission in the window: no policy")
    excluded = tuple(
        Exclusion(reason, source, name, merge_all(evidence), detail)
        for (reason, source, name, detail), evidence in sorted(acc.excluded.items())
    )
    return PrincipalPolicy(
        principal=key,
        members=tuple(sorted(acc.members)),
        documents=documents,
        excluded=excluded,
        notes=tuple(notes),
        events=acc.events,
        resources_mode=mode,
        window=(window.since, window.until),
        fallbacks=tuple(sorted(acc.fallbacks)),
        on_behalf_of=tuple(sorted(acc.invoked.items())),
        widened=widened,
        conditions_asked=(options.keys if options is not None else ())
        + (("abac",) if abac is not None else ()),
        conditions=condition_notes,
    )


def policies_and_calls(
    table: pa.Table,
    known: Known,
    *,
    resources: ResourceMode = DEFAULT_RESOURCE_MODE,
    group: GroupMode = "role",
    window: Window | None = None,
    conditions: Options,
    abac: Abac | None = None,
) -> tuple[list[PrincipalPolicy], dict[str, list[Observed]]]:
    """:func:`policies_from_usage` with ``conditions`` proposed (not yet replayed), and by policy every
    authorisation its calls needed with their request context: what :mod:`trailsmith.iam.replay` replays."""
    policies, accumulated = _built(table, known, resources, group, window, conditions, None, abac)
    calls = {
        key: [
            Observed(*place, *seen) for place, seen in sorted(acc.observed.items(), key=lambda item: item[0])
        ]
        for key, acc in accumulated.items()
    }
    return policies, calls


def policies_from_usage(
    table: pa.Table,
    known: Known,
    *,
    resources: ResourceMode = DEFAULT_RESOURCE_MODE,
    group: GroupMode = "role",
    window: Window | None = None,
    conditions: Options | None = None,
    verdicts: Verdicts | None = None,
    abac: Abac | None = None,
) -> list[PrincipalPolicy]:
    """Policies from an aggregation (:func:`trailsmith.policy.usage.aggregate`), sorted by principal.

    ``conditions``: the keys to propose conditions for (the aggregation must group by their
    ``Options.columns``); ``verdicts``: the replay's on each proposed condition
    (:mod:`trailsmith.iam.replay`), which drops those that would deny an observed call.
    """
    return _built(table, known, resources, group, window, conditions, verdicts, abac)[0]


def _built(
    table: pa.Table,
    known: Known,
    resources: ResourceMode,
    group: GroupMode,
    window: Window | None,
    conditions: Options | None,
    verdicts: Verdicts | None,
    abac: Abac | None,
) -> tuple[list[PrincipalPolicy], dict[str, _Accumulator]]:
    """The policies of an aggregation, and what was accumulated for each (its calls, for the replay)."""
    accumulated = _accumulate(table.to_pylist(), known, group, conditions)
    policies = [
        _finish(key, acc, resources, window or Window(), conditions, verdicts, abac)
        for key, acc in sorted(accumulated.items())
    ]
    return policies, accumulated


def check_modes(resources: str, group: str) -> None:
    """Raise :class:`PolicyError` for an unknown resources mode or grouping."""
    if resources not in RESOURCE_MODES:
        raise PolicyError(
            f"resources mode {resources!r} is unknown", hint=f"Use one of {', '.join(RESOURCE_MODES)}"
        )
    if group not in GROUP_MODES:
        raise PolicyError(f"grouping {group!r} is unknown", hint=f"Use one of {', '.join(GROUP_MODES)}")


def _resolve(requested: Sequence[str], known: list[str], group: GroupMode) -> tuple[str, ...]:
    """Principal ARNs for the requested ARNs (or permission set names when grouping by permission set)."""
    present = set(known)
    out: list[str] = []
    for item in requested:
        if item in present:
            out.append(item)
            continue
        name = item.removeprefix("permission-set/")
        members = [
            p for p in known if group == "permission-set" and group_key(p, group) == f"permission-set/{name}"
        ]
        if members:
            out.extend(members)
            continue
        close = difflib.get_close_matches(item, known, n=1, cutoff=0.6)
        hint = (
            f"Did you mean {close[0]}?"
            if close
            else 'List the warehouse\'s principals: trailsmith sql "SELECT DISTINCT principalArn FROM events"'
        )
        raise PolicyError(f"principal {item} made no call in this warehouse", hint=hint)
    return tuple(dict.fromkeys(out))


def prepare(
    source: UsageSource,
    principals: Sequence[str] | None,
    since: Any,
    until: Any,
    accounts: Sequence[str],
    regions: Sequence[str],
    group: GroupMode,
    context_columns: Sequence[str] = (),
) -> tuple[Filters, Known]:
    """The aggregation's filters (grouping by ``context_columns`` too) and the warehouse's known principals;
    raises :class:`PolicyError` for an unknown principal or an empty window."""
    holders = source.known_principals()
    known = Known.from_arns(holders, source.instance_profile_roles())
    chosen = _resolve(principals, holders, group) if principals else ()
    window = Window(parse_time(since), parse_time(until, end=True))
    if window.since and window.until and window.since >= window.until:
        raise PolicyError("--since is not before --until", hint="Give a window that ends after it starts")
    generated = generated_hosts(source.event_calls())
    return Filters(chosen, window, tuple(accounts), tuple(regions), generated, tuple(context_columns)), known


def generate(
    warehouse: str | os.PathLike[str] | None = None,
    principals: Sequence[str] | None = None,
    *,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    accounts: Sequence[str] = (),
    regions: Sequence[str] = (),
    resources: ResourceMode = DEFAULT_RESOURCE_MODE,
    group: GroupMode = "role",
    engine: Engine | str = Engine.duckdb,
    spark_master: str = DEFAULT_MASTER,
) -> list[PrincipalPolicy]:
    """Least-privilege policies for ``principals`` (ARNs; every principal when None), sorted by principal.

    ``since``/``until`` bound the window (dates, ISO times or ``7d``); ``accounts`` filters the principals'
    accounts, ``regions`` the calls' regions; ``resources`` is ``fit`` (the default: exact ARNs, widened by
    the ``generalize`` rules, most numerous first, only until the documents fit ``DEFAULT_ATTACHED_POLICIES``
    managed policies of ``MAX_DOCUMENT_CHARS`` characters), ``exact``, ``generalize`` or ``service``;
    ``group="permission-set"`` merges the IAM Identity Center roles of one permission set across accounts.
    ``engine="spark"`` runs the aggregation on Spark (``spark_master``); the documents are built here.
    """
    check_modes(resources, group)
    with usage_source(warehouse, engine=engine, spark_master=spark_master) as source:
        filters, known = prepare(source, principals, since, until, accounts, regions, group)
        table = source.aggregate(filters)
    return policies_from_usage(table, known, resources=resources, group=group, window=filters.window)


def usage(
    warehouse: str | os.PathLike[str] | None = None,
    principals: Sequence[str] | None = None,
    *,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    accounts: Sequence[str] = (),
    regions: Sequence[str] = (),
    engine: Engine | str = Engine.duckdb,
    spark_master: str = DEFAULT_MASTER,
) -> pa.Table:
    """The usage behind the policies, one row per (principal, call, action, resource) with its evidence.

    Columns: principalArn, eventSource, eventName, outcome, counted, reason, action, resource,
    resourceKind, events, firstSeen, lastSeen, sampleEventIds. Excluded calls appear with ``counted``
    false, their ``reason`` and no action. ``engine`` as for :func:`generate`.
    """
    with usage_source(warehouse, engine=engine, spark_master=spark_master) as source:
        filters, known = prepare(source, principals, since, until, accounts, regions, "role")
        table = source.aggregate(filters)
    return _usage_rows(table, known)


def _usage_rows(table: pa.Table, known: Known) -> pa.Table:
    columns: dict[str, list[Any]] = defaultdict(list)

    def add(row: dict[str, Any], evidence: Evidence, **values: Any) -> None:
        for name in ("principalArn", "eventSource", "eventName", "outcome"):
            columns[name].append(row[name])
        for name, value in values.items():
            columns[name].append(value)
        columns["events"].append(evidence.events)
        columns["firstSeen"].append(evidence.first_seen)
        columns["lastSeen"].append(evidence.last_seen)
        columns["sampleEventIds"].append(list(evidence.sample_event_ids))

    for row in table.to_pylist():
        evidence = _row_evidence(row)
        reason, _ = classify(
            row["eventType"], row["outcome"], row["eventSource"] or "", row["eventName"] or ""
        )
        if reason is not None:
            add(row, evidence, counted=False, reason=reason, action=None, resource=None, resourceKind=None)
            continue
        call = _call(row, known)
        actions = map_event(row["eventSource"], row["eventName"]).actions
        for grant in grants_for(call, actions):
            add(
                row,
                evidence,
                counted=True,
                reason=None,
                action=grant.action,
                resource=grant.resource,
                resourceKind=grant.kind,
            )
        for passed in passed_roles(call, actions):
            add(
                row,
                evidence,
                counted=True,
                reason=None,
                action="iam:PassRole",
                resource=passed.role,
                resourceKind=f"passed to {passed.service}",
            )
    order = [
        "principalArn",
        "eventSource",
        "eventName",
        "outcome",
        "counted",
        "reason",
        "action",
        "resource",
        "resourceKind",
        "events",
        "firstSeen",
        "lastSeen",
        "sampleEventIds",
    ]
    if not columns:
        return pa.table({name: pa.array([], pa.string()) for name in order})
    result = pa.table({name: columns[name] for name in order})
    return result.sort_by([(name, "ascending") for name in order[:9] if name not in ("counted",)])


def usage_frame(
    warehouse: str | os.PathLike[str] | None = None, principals: Sequence[str] | None = None, **filters: Any
) -> Any:
    """:func:`usage` as a polars DataFrame, for notebooks."""
    import polars as pl

    return pl.from_arrow(usage(warehouse, principals, **filters))
