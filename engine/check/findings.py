"""What ``trailsmith check`` found: frozen values the engine fills and the renderers print.

A :class:`CheckReport` holds one :class:`PrincipalCheck` per principal whose committed policies were held
against the trail: the calls those policies would deny (:class:`Denied`), the grants nobody used in the
window (:class:`Unused`), and a tightened policy per source (:class:`Patch`). Every finding points at a
:class:`Place` in a policy file, so SARIF can annotate the line and markdown can name it. Nothing here
reads files or the warehouse: the renderers depend on these values only, never on the machinery.

>>> place = Place("policies/app.json", 3, "policies/app.json")
>>> unused = Unused("arn:aws:iam::123456789012:role/app", "action", "s3:DeleteObject", place, "never called")
>>> report = CheckReport(
...     (PrincipalCheck("arn:aws:iam::123456789012:role/app", 10, (), (unused,), (), ()),),
...     "2024-01-01 .. 2024-03-31, 90 days", (), ())
>>> report.findings("unused"), report.findings("denied")
(1, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

#: How serious a finding is, most serious first: ``--fail-on`` names one; everything at or above it counts.
Severity = Literal["denied", "unused"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

#: Whether IAM would deny a call for want of an Allow, because a Deny statement matches, or whether the
#: engine could not tell (a condition on values the trail does not record).
Decision = Literal["implicit-deny", "explicit-deny", "unknown"]
#: What an unused grant is: a whole statement, one action pattern, or one resource pattern of a statement.
UnusedKind = Literal["statement", "action", "resource"]


@dataclass(frozen=True)
class Place:
    """Where a finding points in a policy file.

    ``path`` is as the user gave it (relative paths stay relative, so SARIF can resolve them against the
    checkout); ``line`` is 1-based, or 0 when the source format does not say; ``address`` names the policy
    inside the file (a Terraform address such as ``data.aws_iam_policy_document.app``) or the file itself.
    """

    path: str
    line: int
    address: str

    def describe(self) -> str:
        """``path:line (address)``, leaving out what is unknown or says nothing new.

        >>> Place("main.tf", 12, "data.aws_iam_policy_document.app").describe()
        'main.tf:12 (data.aws_iam_policy_document.app)'
        >>> Place("policies/app.json", 0, "policies/app.json").describe()
        'policies/app.json'
        """
        where = f"{self.path}:{self.line}" if self.line > 0 else self.path
        return where if self.address in ("", self.path) else f"{where} ({self.address})"


@dataclass(frozen=True)
class Denied:
    """Calls the trail shows that the committed policy would deny, grouped by (principal, action, resource).

    ``denied_by`` holds the Deny statements that match, for explicit denies; ``places`` the principal's
    policies, where a fix would go.
    """

    principal: str
    action: str
    resource: str
    calls: int
    first_seen: datetime
    last_seen: datetime
    sample_event_ids: tuple[str, ...]
    decision: Decision
    denied_by: tuple[Place, ...]
    places: tuple[Place, ...]
    reason: str


@dataclass(frozen=True)
class Unused:
    """Something the committed policy grants that no call needed in the window.

    ``value`` is the statement's Sid (or ``#index`` when it has none), the action pattern, or the
    resource pattern, as ``kind`` says.
    """

    principal: str
    kind: UnusedKind
    value: str
    place: Place
    reason: str


@dataclass(frozen=True)
class Patch:
    """The tightened policy proposed for one source, in the source's own form.

    ``form`` is ``"json"`` or a Terraform form (``"terraform"`` for ``aws_iam_policy_document``); ``before``
    is the source text as written (for a JSON file, the whole file, so the diff applies to it) and
    ``after`` the same text with the policy tightened.
    """

    place: Place
    form: str
    before: str
    after: str


@dataclass(frozen=True)
class PrincipalCheck:
    """One principal's result: how many calls were held against its policies and what came out."""

    principal: str
    calls_checked: int
    denied: tuple[Denied, ...]
    unused: tuple[Unused, ...]
    patches: tuple[Patch, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class CheckReport:
    """The whole check: every principal, the window the trail covered, and what could not be read, and why."""

    principals: tuple[PrincipalCheck, ...]
    window: str
    unresolved: tuple[tuple[Place, str], ...]
    notes: tuple[str, ...]

    def findings(self, fail_on: Severity) -> int:
        """How many findings are at or above ``fail_on``: ``"unused"`` counts both kinds, ``"denied"`` one.

        A call whose decision the trail cannot settle (``"unknown"``) is reported, never counted: a check
        that failed on what it cannot know would fail on every conditional policy.
        """
        denied = sum(1 for p in self.principals for d in p.denied if d.decision != "unknown")
        if fail_on == "denied":
            return denied
        return denied + sum(len(p.unused) for p in self.principals)
