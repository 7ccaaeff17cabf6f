"""The ground truth of an archive: what each policy holder needed, what it was denied, and the totals.

A *policy holder* is the entity whose policies authorise a call: the role (ARN with its path) for
assumed-role sessions, the user for IAM users, ``arn:aws:iam::<account>:root`` for the root user. Per
holder the truth keeps

- ``needed``: ``(action, resource)`` used by authorised calls. Throttled and "not found" calls count (they
  failed after authorisation); denied calls, calls that need no permission (``sts:GetCallerIdentity``),
  console sign-ins and AWS service events do not. ``iam:PassRole`` appears here too.
- ``denied``: ``(action, resource)`` named by access-denied errors.
- ``passroles``: ``(role ARN, iam:PassedToService, instance profile or "")`` of every role passed.
- ``events``: distinct events by ``eventSource:eventName``, and ``errors`` by ``errorCode``.

Archives made with tags (``SynthConfig(tags=True)``) also keep, per resource ARN, the tags its successful
tagging calls always give it (``resource_tags``), and per role ARN the session tags it was assumed with
(``session_tags``). Both are absent from the truth of an archive without tags.

Everything is a set or a counter over finite pools, so a unit of work can build its part, ship it to the
parent process, and the parts merge in any order into the same document.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

Need = tuple[str, str]
PassRole = tuple[str, str, str]


@dataclass
class HolderTally:
    """What one unit saw of one holder (mutable; merged into the report at the end)."""

    account: str
    kind: str
    persona: str
    needed: set[Need] = field(default_factory=set)
    denied: set[Need] = field(default_factory=set)
    passroles: set[PassRole] = field(default_factory=set)
    events: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def merge(self, other: HolderTally) -> None:
        self.needed |= other.needed
        self.denied |= other.denied
        self.passroles |= other.passroles
        self.events.update(other.events)
        self.errors.update(other.errors)


@dataclass
class Totals:
    events: int = 0
    #: records written, duplicates included
    records: int = 0
    files: int = 0
    duplicate_files: int = 0
    #: compressed bytes of log files, duplicates included
    bytes: int = 0
    #: uncompressed JSON bytes of log files, duplicates included
    json_bytes: int = 0
    digests: int = 0
    digest_bytes: int = 0
    service_events: int = 0
    denied_events: int = 0
    throttled_events: int = 0
    not_found_events: int = 0

    def merge(self, other: Totals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


Tags = dict[str, dict[str, str]]


@dataclass
class Tally:
    """The truth of part of an archive: per-holder tallies, totals, and tags."""

    holders: dict[str, HolderTally] = field(default_factory=dict)
    totals: Totals = field(default_factory=Totals)
    resource_tags: Tags = field(default_factory=dict)
    session_tags: Tags = field(default_factory=dict)

    def tagged(
        self, tags: tuple[tuple[str, str, str], ...], sessions: tuple[tuple[str, str, str], ...]
    ) -> None:
        for found, triples in ((self.resource_tags, tags), (self.session_tags, sessions)):
            for arn, key, value in triples:
                found.setdefault(arn, {})[key] = value

    def holder(self, arn: str, account: str, kind: str, persona: str) -> HolderTally:
        found = self.holders.get(arn)
        if found is None:
            found = self.holders[arn] = HolderTally(account, kind, persona)
        return found

    def merge(self, other: Tally) -> None:
        for arn, part in other.holders.items():
            mine = self.holders.get(arn)
            if mine is None:
                self.holders[arn] = part
            else:
                mine.merge(part)
        self.totals.merge(other.totals)
        for mine_tags, theirs in (
            (self.resource_tags, other.resource_tags),
            (self.session_tags, other.session_tags),
        ):
            for arn, tags in theirs.items():
                mine_tags.setdefault(arn, {}).update(tags)


@dataclass(frozen=True)
class HolderTruth:
    """The frozen truth of one policy holder."""

    arn: str
    account: str
    kind: str
    persona: str
    needed: frozenset[Need]
    denied: frozenset[Need]
    passroles: frozenset[PassRole]
    events: dict[str, int]
    errors: dict[str, int]

    @property
    def event_count(self) -> int:
        return sum(self.events.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "kind": self.kind,
            "persona": self.persona,
            "event_count": self.event_count,
            "events": dict(sorted(self.events.items())),
            "errors": dict(sorted(self.errors.items())),
            "needed": [list(pair) for pair in sorted(self.needed)],
            "denied": [list(pair) for pair in sorted(self.denied)],
            "passroles": [
                {"role": role, "service": service, "instance_profile": profile}
                for role, service, profile in sorted(self.passroles)
            ],
        }


@dataclass(frozen=True)
class SynthReport:
    """What :func:`trailsmith.synth.generate` wrote, and the ground truth of it."""

    config: dict[str, Any]
    organization: str
    bucket: str
    trail: str
    accounts: tuple[str, ...]
    holders: dict[str, HolderTruth]
    totals: Totals
    #: wall-clock seconds of the run (not part of :meth:`to_json`, which must not vary)
    seconds: float = 0.0
    #: resource ARN -> the tags its tagging calls always give it (archives made with tags)
    resource_tags: Tags = field(default_factory=dict)
    #: role ARN -> the session tags it was assumed with (archives made with tags)
    session_tags: Tags = field(default_factory=dict)

    @classmethod
    def from_tally(
        cls,
        tally: Tally,
        *,
        config: dict[str, Any],
        organization: str,
        bucket: str,
        trail: str,
        accounts: tuple[str, ...],
        seconds: float,
    ) -> SynthReport:
        holders = {
            arn: HolderTruth(
                arn,
                t.account,
                t.kind,
                t.persona,
                frozenset(t.needed),
                frozenset(t.denied),
                frozenset(t.passroles),
                dict(t.events),
                dict(t.errors),
            )
            for arn, t in sorted(tally.holders.items())
        }
        return cls(
            config,
            organization,
            bucket,
            trail,
            accounts,
            holders,
            tally.totals,
            seconds,
            _sorted(tally.resource_tags),
            _sorted(tally.session_tags),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "generator": "trailsmith.synth",
            "format": 1,
            "config": self.config,
            "organization": self.organization,
            "bucket": self.bucket,
            "trail": self.trail,
            "accounts": list(self.accounts),
            "totals": dict(sorted(vars(self.totals).items())),
            "holders": {arn: holder.to_dict() for arn, holder in sorted(self.holders.items())},
            # only archives made with tags have them: the truth of the others keeps its bytes
            **({"resource_tags": self.resource_tags} if self.resource_tags else {}),
            **({"session_tags": self.session_tags} if self.session_tags else {}),
        }

    def to_json(self) -> bytes:
        """A deterministic JSON document: same config, same bytes (keys and sets sorted)."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"

    def summary(self) -> str:
        """One line for humans: how much was written."""
        t = self.totals
        rate = f", {t.events / self.seconds:,.0f} events/s" if self.seconds > 0 else ""
        return (
            f"{t.events:,} events in {t.files:,} log files ({t.duplicate_files:,} duplicates) and "
            f"{t.digests:,} digests, {(t.bytes + t.digest_bytes) / 1e6:,.1f} MB, "
            f"{len(self.holders)} policy holders{rate}"
        )


def _sorted(tags: Tags) -> Tags:
    return {arn: dict(sorted(found.items())) for arn, found in sorted(tags.items())}
