"""Policies with conditions (``trailsmith policy --conditions``), each replayed before it is written.

:mod:`trailsmith.policy.conditions` proposes a condition per action and key from what the trail recorded;
this module holds each proposal against every call it came from, through the same request evaluator
``trailsmith check`` uses (:func:`trailsmith.iam.request.matches`), each call with its own request context.
A condition that would deny (or leave undecided) any of them is dropped, and the policy is built again
without it; ``--explain`` says against how many calls each condition was replayed, and which were dropped
and why. The proposals are built so that this should never happen; the replay is what makes that a fact
rather than a hope (a policy variable in a value, an address the evaluator reads differently ...).

It lives here, not in :mod:`trailsmith.policy`, because the evaluator is here and ``iam`` builds on
``policy``, never the reverse. Finally every call is decided against the whole finished policy; a call it
would not allow is a warning on the policy.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime

from trailsmith.engines import DEFAULT_MASTER, Engine, usage_source
from trailsmith.iam.export import Policy, parse_document
from trailsmith.iam.request import Request, decide, matches
from trailsmith.policy import generator
from trailsmith.policy.abac import Abac
from trailsmith.policy.arns import plain
from trailsmith.policy.conditions import (
    DEFAULT_IPV4_BOUND,
    DEFAULT_IPV6_BOUND,
    Context,
    Observed,
    Options,
    parse_keys,
)
from trailsmith.policy.model import (
    DEFAULT_RESOURCE_MODE,
    ConditionNote,
    GroupMode,
    PrincipalPolicy,
    Replayed,
    ResourceMode,
)


def generate(
    warehouse: str | os.PathLike[str] | None = None,
    principals: Sequence[str] | None = None,
    *,
    conditions: str | Sequence[str] | None = None,
    ipv4_bound: int = DEFAULT_IPV4_BOUND,
    ipv6_bound: int = DEFAULT_IPV6_BOUND,
    abac: bool = False,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    accounts: Sequence[str] = (),
    regions: Sequence[str] = (),
    resources: ResourceMode = DEFAULT_RESOURCE_MODE,
    group: GroupMode = "role",
    engine: Engine | str = Engine.duckdb,
    spark_master: str = DEFAULT_MASTER,
) -> list[PrincipalPolicy]:
    """:func:`trailsmith.policy.generator.generate` with the ``conditions`` keys proposed and replayed.

    ``conditions``: a comma list or several of :data:`trailsmith.policy.conditions.FAMILIES`, or ``all``;
    none gives exactly what the generator gives. ``ipv4_bound``/``ipv6_bound``: the widest network
    ``aws:SourceIp`` addresses are aggregated into. ``abac``: tag conditions in place of ARNs where the
    trail shows the tags (:mod:`trailsmith.policy.abac`), each action's replayed with the tags every call
    met; an action whose tag conditions would deny one keeps its ARNs. Other arguments as for the
    generator.
    """
    options = Options(parse_keys(conditions), ipv4_bound, ipv6_bound, abac=abac)
    if not options.active:
        return generator.generate(
            warehouse,
            principals,
            since=since,
            until=until,
            accounts=accounts,
            regions=regions,
            resources=resources,
            group=group,
            engine=engine,
            spark_master=spark_master,
        )
    generator.check_modes(resources, group)
    with usage_source(warehouse, engine=engine, spark_master=spark_master) as source:
        filters, known = generator.prepare(
            source, principals, since, until, accounts, regions, group, options.columns
        )
        table = source.aggregate(filters)
        tags = source.abac(filters) if abac else None
    built = functools.partial(
        generator.policies_from_usage, table, known, resources=resources, group=group, window=filters.window
    )
    proposed, calls = generator.policies_and_calls(
        table, known, resources=resources, group=group, window=filters.window, conditions=options, abac=tags
    )
    verdicts = {
        (policy.principal, action, key): verdict
        for policy in proposed
        for (action, key), verdict in replay(policy.conditions, calls.get(policy.principal, [])).items()
    }
    if tags is not None:
        verdicts |= {
            (policy.principal, action, key): verdict
            for policy in proposed
            for (action, key), verdict in replay_tags(policy, calls.get(policy.principal, []), tags).items()
        }
        tags.refused = frozenset(
            (p, action) for (p, action, key), v in verdicts.items() if v.denied and _tag(key)
        )
    # Built again only when a condition is dropped (which changes the statements); otherwise the verdicts
    # are noted on the policies as they are, exactly as the second build would note them.
    if any(v.denied for v in verdicts.values()):
        final = built(conditions=options, verdicts=verdicts, abac=tags)
    else:
        final = _noted(proposed, verdicts)
    return [verified(policy, calls.get(policy.principal, []), tags) for policy in final]


def _tag(key: str) -> bool:
    """Whether ``key`` is one ``--abac`` writes."""
    return key.lower().startswith(("aws:resourcetag/", "aws:requesttag/", "aws:tagkeys"))


def replay_tags(
    policy: PrincipalPolicy, calls: Sequence[Observed], abac: Abac
) -> dict[tuple[str, str], Replayed]:
    """(action, key) -> the verdict on each tag condition ``--abac`` wrote for an action: every call of the
    action decided against the whole policy, with the tags it met (:meth:`Abac.contexts`)."""
    written = {(n.action, n.key) for n in policy.conditions if n.status == "emitted" and _tag(n.key)}
    if not written:
        return {}
    documents = _documents(policy)
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    first: dict[str, str] = {}
    actions = {action for action, _ in written}
    for call in calls:
        if call.action not in actions:
            continue
        counts = tally[call.action]
        counts[0] += call.calls
        if not all(
            _decided(documents, call, context)
            for context in abac.contexts(policy.principal, policy.members, call)
        ):
            counts[1] += call.calls
            first.setdefault(call.action, f"event {call.event_id} on {call.resource}")
    return {
        (action, key): Replayed(tally[action][0], tally[action][1], first.get(action, ""))
        for action, key in written
    }


def _noted(
    policies: Sequence[PrincipalPolicy], verdicts: Mapping[tuple[str, str, str], Replayed]
) -> list[PrincipalPolicy]:
    return [
        replace(
            policy,
            conditions=tuple(
                replace(n, replayed=verdicts.get((policy.principal, n.action, n.key)))
                if n.status == "emitted"
                else n
                for n in policy.conditions
            ),
        )
        for policy in policies
    ]


def replay(notes: Sequence[ConditionNote], calls: Sequence[Observed]) -> dict[tuple[str, str], Replayed]:
    """(action, key) -> the verdict on each emitted condition, held alone against every call of its action.

    >>> from trailsmith.policy.model import Condition
    >>> note = ConditionNote("s3:ListBucket", "s3:prefix", "emitted", 2,
    ...     Condition("StringEquals", "s3:prefix", ("${aws:username}/",)))
    >>> prefix = (("s3:prefix", ("${aws:username}/",)),)
    >>> call = Observed("s3:ListBucket", "arn:aws:s3:::b", "resource", prefix, 2, "e1")
    >>> replay([note], [call])[("s3:ListBucket", "s3:prefix")]
    Replayed(checked=2, denied=2, detail="event e1 with s3:prefix ['${aws:username}/']")
    """
    by_action: dict[str, list[Observed]] = defaultdict(list)
    for call in calls:
        by_action[call.action].append(call)
    out: dict[tuple[str, str], Replayed] = {}
    for note in notes:
        if note.status != "emitted" or note.condition is None:
            continue
        condition = note.condition
        [statement] = parse_document(
            {
                "Statement": {
                    "Effect": "Allow",
                    "Action": note.action,
                    "Resource": "*",
                    "Condition": {condition.operator: {condition.key: list(condition.values)}},
                }
            },
            "proposed",
        ).statements
        checked = denied = 0
        detail = ""
        # calls of the action on other resources share contexts: each context is decided once
        decided: dict[Context, bool] = {}
        for call in by_action[note.action]:
            checked += call.calls
            allowed = decided.get(call.context)
            if allowed is None:
                request = Request(note.action, "*", dict(call.context))
                allowed = decided[call.context] = matches(statement, request) is True
            if not allowed:
                denied += call.calls
                if not detail:
                    value = dict(call.context).get(condition.key)
                    shown = list(value) if value is not None else "absent"
                    detail = f"event {call.event_id} with {condition.key} {shown}"
        out[(note.action, note.key)] = Replayed(checked, denied, detail)
    return out


def _documents(policy: PrincipalPolicy) -> list[Policy]:
    return [parse_document(d.to_dict(), f"part{i}") for i, d in enumerate(policy.documents, start=1)]


def denied(policy: PrincipalPolicy, calls: Sequence[Observed], abac: Abac | None = None) -> list[Observed]:
    """The calls the whole policy would not allow (none, unless something is wrong); with ``abac``, each
    with the tags it met."""
    documents = _documents(policy)
    return [
        call
        for call in calls
        if not all(
            _decided(documents, call, context)
            for context in (
                abac.contexts(policy.principal, policy.members, call)
                if abac is not None
                else [dict(call.context)]
            )
        )
    ]


def _decided(documents: Sequence[Policy], call: Observed, context: Mapping[str, tuple[str, ...]]) -> bool:
    resource = "*" if call.kind in ("any", "fallback") else plain(call.resource)
    return decide(documents, Request(call.action, resource, dict(context))).decision == "allow"


def verified(policy: PrincipalPolicy, calls: Sequence[Observed], abac: Abac | None = None) -> PrincipalPolicy:
    """``policy``, with a warning if it would not allow some of the calls it was made from."""
    refused = denied(policy, calls, abac)
    if not refused:
        return policy
    first = refused[0]
    note = (
        f"replay: the policy would not allow {sum(c.calls for c in refused):,} observed calls, e.g. "
        f"{first.action} on {first.resource} (event {first.event_id})"
    )
    return replace(policy, notes=(*policy.notes, note))
