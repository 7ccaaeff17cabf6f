"""Grants -> IAM documents: merged, sorted, named, within IAM's size limit, split when they must be.

Determinism is the point of every step: the input arrives in whatever order the warehouse's files gave,
and the output must be byte-identical anyway. So actions and resources are sorted, statements are keyed
by their content and sorted, Sids are derived from the content, and packing into documents walks the
sorted statements in order.

Merging: actions with exactly the same resources (and condition) share one statement; a ``"*"`` resource
absorbs every other resource of its action, and a wildcard resource absorbs the ARNs it already allows.
Size: a document may hold ``MAX_DOCUMENT_CHARS`` non-whitespace characters; a statement too large for one
document is cut into parts along its resource list, and statements are packed into as few documents as
their order allows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace

import orjson

from trailsmith.policy.arns import allowed_characters
from trailsmith.policy.generalize import drop_covered
from trailsmith.policy.model import (
    MAX_DOCUMENT_CHARS,
    Condition,
    Evidence,
    PolicyDocument,
    Statement,
    merge_all,
    non_whitespace_length,
)

#: What the document wrapper costs: ``{"Version":"2012-10-17","Statement":[]}``.
_WRAPPER = non_whitespace_length(orjson.dumps({"Version": "2012-10-17", "Statement": []}).decode())


@dataclass(frozen=True)
class Entry:
    """One (action, resource, condition) with its evidence and notes, before merging."""

    action: str
    resource: str
    evidence: Evidence
    conditions: tuple[Condition, ...] = ()
    notes: tuple[str, ...] = ()


def build_documents(entries: Iterable[Entry], budget: int = MAX_DOCUMENT_CHARS) -> tuple[PolicyDocument, ...]:
    """Merge, sort, name and pack ``entries`` into documents of at most ``budget`` characters each."""
    statements = _merge(list(entries))
    named = _name(statements)
    parts: list[Statement] = []
    for statement in named:
        parts.extend(_cut(statement, budget - _WRAPPER))
    return _pack(parts, budget)


def _merge(entries: list[Entry]) -> list[Statement]:
    per_action: dict[tuple[str, tuple[Condition, ...]], dict[str, list[Entry]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for entry in entries:
        resource, _ = allowed_characters(entry.resource)
        per_action[(entry.action, entry.conditions)][resource].append(entry)
    grouped: dict[tuple[tuple[str, ...], tuple[Condition, ...]], list[tuple[str, list[Entry]]]] = defaultdict(
        list
    )
    for (action, conditions), by_resource in per_action.items():
        absorbed = _absorb(sorted(by_resource))
        kept = [e for r, items in by_resource.items() for e in items]
        # Evidence of absorbed resources stays with the action: they were used, just allowed by a wider entry.
        grouped[(tuple(absorbed), conditions)].append((action, kept))
    statements: list[Statement] = []
    for (resources, conditions), members in grouped.items():
        actions = tuple(sorted(a for a, _ in members))
        items = [e for _, kept in members for e in kept]
        notes = tuple(sorted(set().union(*(e.notes for e in items)) - {""}))
        statements.append(
            Statement("", actions, resources, merge_all([e.evidence for e in items]), conditions, notes)
        )
    statements.sort(key=_order)
    return statements


def _absorb(resources: list[str]) -> list[str]:
    return drop_covered(resources)


def _order(statement: Statement) -> tuple[object, ...]:
    # Conditional statements (PassRole) last; then by actions and resources.
    return (
        bool(statement.conditions),
        statement.actions,
        statement.resources,
        [(c.operator, c.key, c.values) for c in statement.conditions],
    )


_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in _NOT_ALNUM.split(text) if part)


def _base_sid(statement: Statement) -> str:
    """``S3GetObject``, ``Ec2DescribeInstancesAndMore``, ``IamPassRoleToLambda``: from the content."""
    prefix, _, name = statement.actions[0].partition(":")
    sid = _camel(prefix) + _camel(name)
    for condition in statement.conditions:
        if condition.key == "iam:PassedToService":
            sid += "To" + "".join(_camel(v.split(".", 1)[0]) for v in condition.values)
    if len(statement.actions) > 1:
        sid += "AndMore"
    if statement.resources == ("*",) and not statement.conditions:
        sid += "AnyResource"
    return sid


def _name(statements: list[Statement]) -> list[Statement]:
    seen: dict[str, int] = {}
    named = []
    for statement in statements:
        base = _base_sid(statement)
        seen[base] = seen.get(base, 0) + 1
        sid = base if seen[base] == 1 else f"{base}{seen[base]}"
        named.append(replace(statement, sid=sid))
    return named


def statement_size(statement: Statement) -> int:
    return non_whitespace_length(orjson.dumps(statement.to_dict()).decode())


def _cut(statement: Statement, budget: int) -> list[Statement]:
    """The statement, or parts of it with consecutive slices of its resources, each within ``budget``."""
    if len(statement.resources) <= 1 or statement_size(statement) + 1 <= budget:
        return [statement]
    # Sizes add up: the statement without resources, plus each resource's JSON and its comma.
    widest = replace(statement, sid=f"{statement.sid}Part{len(statement.resources)}", resources=())
    base = statement_size(widest) + 1
    costs = [non_whitespace_length(orjson.dumps(r).decode()) + 1 for r in statement.resources]
    slices: list[list[str]] = [[]]
    used = base
    for resource, cost in zip(statement.resources, costs, strict=True):
        if slices[-1] and used + cost > budget:
            slices.append([])
            used = base
        slices[-1].append(resource)
        used += cost
    return [
        replace(statement, sid=f"{statement.sid}Part{n}", resources=tuple(part))
        for n, part in enumerate(slices, start=1)
    ]


def _pack(statements: list[Statement], budget: int) -> tuple[PolicyDocument, ...]:
    documents: list[list[Statement]] = []
    used: list[int] = []
    for statement in statements:
        size = statement_size(statement) + 1  # the comma between statements
        for index, total in enumerate(used):
            if total + size <= budget:
                documents[index].append(statement)
                used[index] += size
                break
        else:
            documents.append([statement])
            used.append(_WRAPPER + size)
    return tuple(PolicyDocument(tuple(d)) for d in documents)


def passrole_condition(service: str) -> tuple[Condition, ...]:
    return (Condition("StringEquals", "iam:PassedToService", (service,)),)
