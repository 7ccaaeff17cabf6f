"""The values the policy generator returns: frozen, comparable, and printable as IAM JSON.

A :class:`PrincipalPolicy` holds one policy holder's (or one permission set's) documents, each a list of
:class:`Statement`, with the :class:`Evidence` behind every statement and the :class:`Exclusion` list of
what was left out and why. Nothing here queries or derives anything: these are the results, kept apart so
that renderers (JSON, Terraform, explain text, the CLI) depend on values, never on the machinery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

import orjson

from trailsmith.errors import TrailsmithError

#: How resources are written: exact ARNs widened only as much as the attachment quota needs (the default),
#: exact ARNs, bounded wildcards, or any resource of the service.
ResourceMode = Literal["fit", "exact", "generalize", "service"]
#: Whose policy: one per role or user, or one per IAM Identity Center permission set.
GroupMode = Literal["role", "permission-set"]

#: The modes by name, in the order ``--help`` lists them (the one definition the CLI builds its choices from).
RESOURCE_MODES: tuple[ResourceMode, ...] = get_args(ResourceMode)
GROUP_MODES: tuple[GroupMode, ...] = get_args(GroupMode)
#: What ``generate`` and ``trailsmith policy`` use when not told.
DEFAULT_RESOURCE_MODE: ResourceMode = "fit"

#: Why events did not become permissions.
ExclusionReason = Literal[
    "denied",
    "unauthenticated",
    "unmapped",
    "no-permission",
    "service-event",
    "sign-in",
    "not-an-api-call",
]

POLICY_VERSION = "2012-10-17"
#: Managed policy size limit: characters, whitespace not counted.
MAX_DOCUMENT_CHARS = 6144
#: Managed policies a role can have attached by default: ``fit`` widens until a policy needs no more documents
#: than this (of ``MAX_DOCUMENT_CHARS`` each); more documents than this earn a warning.
DEFAULT_ATTACHED_POLICIES = 10
#: Sample event ids kept per statement and per exclusion.
SAMPLES = 3


class PolicyError(TrailsmithError):
    """A policy cannot be generated as asked (unknown principal, nothing used, bad option value)."""


@dataclass(frozen=True)
class Evidence:
    """How often, when, and in which events something was seen."""

    events: int
    first_seen: datetime
    last_seen: datetime
    sample_event_ids: tuple[str, ...] = ()

    def merge(self, other: Evidence) -> Evidence:
        samples = tuple(sorted(set(self.sample_event_ids) | set(other.sample_event_ids))[:SAMPLES])
        return Evidence(
            self.events + other.events,
            min(self.first_seen, other.first_seen),
            max(self.last_seen, other.last_seen),
            samples,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "sample_event_ids": list(self.sample_event_ids),
        }


def merge_all(items: list[Evidence]) -> Evidence:
    """The union of several pieces of evidence (at least one)."""
    out = items[0]
    for item in items[1:]:
        out = out.merge(item)
    return out


@dataclass(frozen=True)
class Condition:
    """One condition of a statement: ``{operator: {key: values}}``."""

    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    """One ``Allow`` statement, with the evidence for it and notes on how its resources were chosen."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    evidence: Evidence
    conditions: tuple[Condition, ...] = ()
    #: how the resources were derived: fallbacks to ``"*"``, generalisations, assumptions
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The statement as IAM JSON (key order as AWS writes it)."""
        out: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": list(self.resources),
        }
        if self.conditions:
            block: dict[str, dict[str, Any]] = {}
            for condition in self.conditions:
                values = list(condition.values)
                block.setdefault(condition.operator, {})[condition.key] = (
                    values[0] if len(values) == 1 else values
                )
            out["Condition"] = block
        return out


@dataclass(frozen=True)
class PolicyDocument:
    """One IAM policy document: ``Version`` and its statements."""

    statements: tuple[Statement, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"Version": POLICY_VERSION, "Statement": [s.to_dict() for s in self.statements]}

    def to_json(self) -> str:
        """Indented JSON, keys in IAM's order, non-ASCII kept as is (IAM allows U+0020 to U+00FF)."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2).decode()

    @property
    def size(self) -> int:
        """Characters IAM counts against the size limit: every character but whitespace."""
        return non_whitespace_length(orjson.dumps(self.to_dict()).decode())


_WHITESPACE = re.compile(r"\s+")


def non_whitespace_length(text: str) -> int:
    """Length of ``text`` without whitespace, as IAM measures a policy."""
    return len(text) - sum(len(m) for m in _WHITESPACE.findall(text))


@dataclass(frozen=True)
class Exclusion:
    """Events of one kind that did not become permissions, and why."""

    reason: ExclusionReason
    event_source: str
    event_name: str
    evidence: Evidence
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "eventSource": self.event_source,
            "eventName": self.event_name,
            "detail": self.detail,
            **self.evidence.to_dict(),
        }


@dataclass(frozen=True)
class Widening:
    """Exact ARNs that a policy allows through one wider pattern, and the rule that made it."""

    pattern: str
    #: the actions whose resources it replaced
    actions: tuple[str, ...]
    #: how many exact ARNs (of those actions together) it replaced
    arns: int
    #: the rule that made it: ``directory rule, 3 or more``, ``common directory ...``, ``name rule ...``
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "actions": list(self.actions), "arns": self.arns, "rule": self.rule}

    def describe(self) -> str:
        """One line of ``--explain``.

        >>> Widening("arn:aws:s3:::b/raw/*", ("s3:GetObject",), 1200, "directory rule, 3 or more").describe()
        '1,200 ARNs -> arn:aws:s3:::b/raw/* for s3:GetObject (directory rule, 3 or more)'
        """
        noun = "ARN" if self.arns == 1 else "ARNs"
        return f"{self.arns:,} {noun} -> {self.pattern} for {', '.join(self.actions)} ({self.rule})"


ConditionStatus = Literal["emitted", "not-proposed", "dropped"]


@dataclass(frozen=True)
class Replayed:
    """One proposed condition held against the calls it came from, through the IAM evaluator."""

    #: calls it was evaluated with (each with its own request context)
    checked: int
    #: calls it would have denied (or left undecided)
    denied: int = 0
    #: why, for the first such call: its event id and what its context held
    detail: str = ""


@dataclass(frozen=True)
class ConditionNote:
    """What ``--conditions`` made of one condition key on one action: emitted, not proposed, or dropped."""

    action: str
    key: str
    status: ConditionStatus
    #: calls of the action the key was read from
    calls: int
    condition: Condition | None = None
    #: the replay's verdict, once the condition was replayed
    replayed: Replayed | None = None
    #: why it was not proposed or was dropped
    reason: str = ""
    #: calls whose request context lacked the key (the most common reason is ``reason``)
    lacking: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "key": self.key,
            "status": self.status,
            "calls": self.calls,
        }
        if self.lacking:
            out["lacking"] = self.lacking
        if self.condition is not None:
            out["condition"] = {self.condition.operator: {self.key: list(self.condition.values)}}
        if self.replayed is not None:
            out["checked"] = self.replayed.checked
            out["denied"] = self.replayed.denied
        if self.reason:
            out["reason"] = self.reason
        return out

    def describe(self) -> str:
        """One line of ``--explain``.

        >>> ConditionNote("s3:ListBucket", "s3:prefix", "dropped", 4, Condition("StringEquals", "s3:prefix",
        ...     ("a/",)), Replayed(4, 1), "it would deny 1 of 4 calls").describe()
        's3:prefix on s3:ListBucket: dropped: it would deny 1 of 4 calls'
        """
        head = f"{self.key} on {self.action}: "
        if self.status == "emitted" and self.condition is not None:
            values = ", ".join(self.condition.values)
            checked = (
                f"; replayed against {_calls(self.replayed.checked)}, all allowed"
                if self.replayed is not None
                else "; not replayed"
            )
            told = f"; {self.reason}" if self.reason else ""
            return f"{head}{self.condition.operator} {values} (from {_calls(self.calls)}){checked}{told}"
        return f"{head}{self.status}: {self.reason}"


def _calls(count: int) -> str:
    return f"{count:,} call" + ("" if count == 1 else "s")


@dataclass(frozen=True)
class PrincipalPolicy:
    """The least-privilege policy of one policy holder (or one IAM Identity Center permission set)."""

    #: the role/user ARN, or ``permission-set/<Name>`` when roles were grouped
    principal: str
    #: the policy holders merged into it (one, unless grouped)
    members: tuple[str, ...]
    documents: tuple[PolicyDocument, ...]
    excluded: tuple[Exclusion, ...] = ()
    #: warnings about the whole policy (split in many parts, nothing used ...)
    notes: tuple[str, ...] = ()
    #: events that became permissions
    events: int = 0
    resources_mode: ResourceMode = "exact"
    window: tuple[datetime | None, datetime | None] = (None, None)
    #: actions that fell back to ``"*"`` because their resource could not be determined
    fallbacks: tuple[str, ...] = field(default=())
    #: (service, events): counted calls an AWS service made with the principal's identity (``invokedBy``)
    on_behalf_of: tuple[tuple[str, int], ...] = ()
    #: exact ARNs replaced by wider patterns (``fit`` and ``generalize``), widest first
    widened: tuple[Widening, ...] = ()
    #: the keys ``--conditions`` asked for (none: no condition was proposed) and what became of each
    conditions_asked: tuple[str, ...] = ()
    conditions: tuple[ConditionNote, ...] = ()

    @property
    def statements(self) -> tuple[Statement, ...]:
        return tuple(s for d in self.documents for s in d.statements)

    @property
    def actions(self) -> tuple[str, ...]:
        """Every action granted, sorted."""
        return tuple(sorted({a for s in self.statements for a in s.actions}))

    def to_json(self) -> str:
        """The policy as ``aws iam create-policy`` takes it: one document, or a JSON array of the parts."""
        if len(self.documents) == 1:
            return self.documents[0].to_json() + "\n"
        parts = [d.to_dict() for d in self.documents]
        return orjson.dumps(parts, option=orjson.OPT_INDENT_2).decode() + "\n"

    def explanation(self) -> dict[str, Any]:
        """Everything ``--explain`` shows, as JSON-ready data."""
        return {
            "principal": self.principal,
            "members": list(self.members),
            "resources_mode": self.resources_mode,
            "window": [None if w is None else w.isoformat() for w in self.window],
            "events_used": self.events,
            "documents": [
                [
                    {**s.to_dict(), "evidence": s.evidence.to_dict(), "notes": list(s.notes)}
                    for s in d.statements
                ]
                for d in self.documents
            ],
            "excluded": [e.to_dict() for e in self.excluded],
            "fallbacks": list(self.fallbacks),
            "widened": [w.to_dict() for w in self.widened],
            "on_behalf_of": [{"service": s, "events": n} for s, n in self.on_behalf_of],
            "notes": list(self.notes),
            **(
                {
                    "conditions": {
                        "asked": list(self.conditions_asked),
                        "keys": [c.to_dict() for c in self.conditions],
                    }
                }
                if self.conditions_asked
                else {}
            ),
        }
