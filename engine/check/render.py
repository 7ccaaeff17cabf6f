"""A :class:`~trailsmith.check.findings.CheckReport` as text, JSON, markdown or SARIF (patches as diffs:
:mod:`trailsmith.check.patch`).

Every value in a report can come from a hostile source (a policy file in a pull request, a role name, an
event id), so each format escapes for its own reader: the terminal never receives control characters,
and markdown never receives live HTML, table pipes, mentions or math.
A pull-request comment is cut to GitHub's limit with a line saying how much was left out; SARIF carries
a fingerprint per finding that does not depend on line numbers, so code scanning follows an alert from
one run to the next.

>>> from trailsmith.check.findings import CheckReport
>>> render_text(CheckReport((), "2024-01-01 .. 2024-03-31, 90 days", (), ())).splitlines()[-1]
'0 principals checked, 0 denied call patterns (0 calls), 0 unused grants'
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any

import orjson

from trailsmith._version import __version__
from trailsmith.check.findings import CheckReport, Denied, Place, PrincipalCheck, Unused
from trailsmith.check.patch import unified_diff

#: GitHub's limit on the body of an issue or pull-request comment, in characters.
COMMENT_LIMIT = 65_536
#: The longest value a markdown table cell shows; the JSON and SARIF formats keep every value whole.
CELL_CHARS = 300
SCHEMA_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _visible(text: str) -> str:
    r"""``text`` with control characters written as escapes, so no value can move a terminal's cursor.

    >>> _visible("a\nb\x1b[2J")
    'a\\nb\\x1b[2J'
    """
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def _utc(moment: datetime, timespec: str = "auto") -> str:
    """ISO 8601 in UTC with a ``Z``; a naive datetime is taken to be UTC already (as the warehouse stores)."""
    aware = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return aware.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def summary_line(report: CheckReport) -> str:
    """The line the text ends with: principals, denied call patterns (and their calls), unused grants."""
    denied = [d for p in report.principals for d in p.denied]
    unused = sum(len(p.unused) for p in report.principals)
    calls = sum(d.calls for d in denied)
    open_ = sum(d.decision == "unknown" for d in denied)
    undetermined = f"; {open_:,} undetermined by the trail" if open_ else ""
    return (
        f"{_plural(len(report.principals), 'principal')} checked, "
        f"{_plural(len(denied), 'denied call pattern')} ({_plural(calls, 'call')}{undetermined}), "
        f"{_plural(unused, 'unused grant')}"
    )


def _by_calls(denied: Iterable[Denied]) -> list[Denied]:
    """The most-called denials first: the ones a deploy would break hardest."""
    return sorted(denied, key=lambda d: (-d.calls, d.action, d.resource))


# --- text --------------------------------------------------------------------------------------------------


def render_text(report: CheckReport) -> str:
    """A summary for the terminal: per principal its denied calls (most-called first), then unused grants."""
    lines = [f"trailsmith check: {_visible(report.window)}"]
    for principal in report.principals:
        lines += ["", *_text_principal(principal)]
    if report.unresolved:
        lines += ["", "could not be read:"]
        lines += [f"  {_visible(place.describe())}: {_visible(why)}" for place, why in report.unresolved]
    lines += [f"note: {_visible(note)}" for note in report.notes]
    return "\n".join([*lines, "", summary_line(report)]) + "\n"


def _text_principal(check: PrincipalCheck) -> list[str]:
    pad = " " * 10
    lines = [f"{_visible(check.principal)}: {_plural(check.calls_checked, 'call')} checked"]
    for d in _by_calls(check.denied):
        lines += [
            f"  denied  {_visible(d.action)} on {_visible(d.resource)}: "
            f"{_plural(d.calls, 'call')} ({d.decision})",
            f"{pad}first seen {_utc(d.first_seen, 'seconds')}, last seen {_utc(d.last_seen, 'seconds')}"
            + (f", e.g. {_visible(', '.join(d.sample_event_ids))}" if d.sample_event_ids else ""),
            f"{pad}{_visible(d.reason)}",
        ]
        lines += [f"{pad}denied by {_visible(p.describe())}" for p in d.denied_by]
        lines += [f"{pad}fix in {_visible(p.describe())}" for p in d.places]
    for u in check.unused:
        lines += [
            f"  unused  {u.kind} {_visible(u.value)} at {_visible(u.place.describe())}",
            f"{pad}{_visible(u.reason)}",
        ]
    lines += [f"  patch proposed for {_visible(p.place.describe())}" for p in check.patches]
    lines += [f"  note: {_visible(note)}" for note in check.notes]
    return lines


# --- json --------------------------------------------------------------------------------------------------


def render_json(report: CheckReport) -> str:
    """The whole report as one JSON document with sorted keys: ``schema_version`` says how to read it."""
    document = {
        "schema_version": SCHEMA_VERSION,
        "window": report.window,
        "principals": [dataclasses.asdict(p) for p in report.principals],
        "unresolved": [{"place": dataclasses.asdict(p), "reason": why} for p, why in report.unresolved],
        "notes": list(report.notes),
        "summary": {
            "principals": len(report.principals),
            "denied": report.findings("denied"),
            "undetermined": sum(d.decision == "unknown" for p in report.principals for d in p.denied),
            "denied_calls": sum(d.calls for p in report.principals for d in p.denied),
            "unused": sum(len(p.unused) for p in report.principals),
            "unresolved": len(report.unresolved),
        },
    }
    options = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATETIME
    return orjson.dumps(document, default=_json_default, option=options).decode() + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --- markdown ----------------------------------------------------------------------------------------------

#: Characters markdown (or GitHub on top of it) gives a meaning: emphasis, code, links, HTML, table cells,
#: strikethrough, @mentions, entities, $math$. A backslash makes each one literal (CommonMark escapes).
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~@&$])")


def _cell(text: str) -> str:
    r"""A value for a markdown table cell: one line, bounded, every markdown character literal.

    >>> _cell("s3:Get* | `x` <b>@team")
    's3:Get\\* \\| \\`x\\` \\<b\\>\\@team'
    """
    shown = _visible(text)
    if len(shown) > CELL_CHARS:
        shown = shown[: CELL_CHARS - 1] + "…"
    return _MARKDOWN.sub(r"\\\1", shown)


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |\n"


def _fenced(text: str, language: str) -> str:
    """A code block whose fence is longer than any run of backticks inside, so the text cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text if text.endswith(chr(10)) else text + chr(10)}{fence}\n"


class _Comment:
    """A markdown document kept under a length limit: tables and patches are emitted while they fit.

    Once one row does not fit, every later row is left out and counted, so the comment never skips a row
    and shows a later one. The reserve pays for what must close (``</details>``) and the closing notice.
    """

    RESERVE = 512

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit
        self.budget = limit - self.RESERVE
        self.left_out = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def fits(self, text: str) -> bool:
        return self.left_out == 0 and self.size + len(text) <= self.budget

    def section(self, head: str, rows: list[str], tail: str = "\n") -> None:
        """``head``, then as many ``rows`` as fit, then ``tail``; nothing at all if not even one row fits."""
        if not rows:
            return
        if not self.fits(head + rows[0]):
            self.left_out += len(rows)
            return
        self.add(head)
        for row in rows:
            if self.fits(row):
                self.add(row)
            else:
                self.left_out += 1
        self.add(tail)

    def text(self) -> str:
        if self.left_out:
            self.add(
                f"\n_{_plural(self.left_out, 'row')} left out to stay within GitHub's "
                f"{self.limit:,}-character comment limit; json and sarif hold every finding._\n"
            )
        return "".join(self.parts)


def render_markdown(report: CheckReport, *, limit: int = COMMENT_LIMIT) -> str:
    """A pull-request comment: a summary table, then per principal its findings and patches, folded."""
    comment = _Comment(limit)
    comment.add(f"## trailsmith check\n\n{_cell(summary_line(report))}; window {_cell(report.window)}.\n\n")
    comment.section(
        _row("Principal", "Calls checked", "Denied patterns", "Denied calls", "Unused grants", "Patches")
        + "| --- | ---: | ---: | ---: | ---: | ---: |\n",
        [
            _row(
                _cell(p.principal),
                f"{p.calls_checked:,}",
                f"{len(p.denied):,}",
                f"{sum(d.calls for d in p.denied):,}",
                f"{len(p.unused):,}",
                f"{len(p.patches):,}",
            )
            for p in report.principals
        ],
    )
    for principal in report.principals:
        _markdown_principal(comment, principal)
    comment.section(
        "### Could not be read\n\n" + _row("Where", "Why") + "| --- | --- |\n",
        [_row(_cell(place.describe()), _cell(why)) for place, why in report.unresolved],
    )
    comment.section("### Notes\n\n", [f"- {_cell(note)}\n" for note in report.notes])
    return comment.text()


def _markdown_principal(comment: _Comment, check: PrincipalCheck) -> None:
    if not (check.denied or check.unused or check.patches or check.notes):
        return
    title = (
        f"<details><summary><code>{html.escape(_visible(check.principal))}</code>: "
        f"{_plural(len(check.denied), 'denied call pattern')}, {_plural(len(check.unused), 'unused grant')}"
        "</summary>\n\n"
    )
    if not comment.fits(title):
        comment.left_out += len(check.denied) + len(check.unused) + len(check.patches) + len(check.notes)
        return
    comment.add(title)
    comment.section(
        "#### Denied\n\n"
        + _row(
            "Action", "Resource", "Calls", "First seen", "Last seen", "Decision", "Sample events", "Fix in"
        )
        + "| --- | --- | ---: | --- | --- | --- | --- | --- |\n",
        [
            _row(
                _cell(d.action),
                _cell(d.resource),
                f"{d.calls:,}",
                _utc(d.first_seen, "seconds"),
                _utc(d.last_seen, "seconds"),
                d.decision,
                _cell(", ".join(d.sample_event_ids)),
                _cell(", ".join(p.describe() for p in (d.denied_by or d.places))),
            )
            for d in _by_calls(check.denied)
        ],
    )
    comment.section(
        "#### Unused\n\n" + _row("Kind", "Granted", "Where", "Why") + "| --- | --- | --- | --- |\n",
        [_row(u.kind, _cell(u.value), _cell(u.place.describe()), _cell(u.reason)) for u in check.unused],
    )
    for patch in check.patches:
        comment.section(
            f"#### Proposed change to {_cell(patch.place.describe())}\n\n",
            [_fenced(unified_diff(patch), "diff")],
        )
    comment.section("", [f"- {_cell(note)}\n" for note in check.notes])
    comment.add("</details>\n\n")


# --- sarif -------------------------------------------------------------------------------------------------

#: (id, name, level, short description, full description, help): one rule per kind of finding.
_RULES: tuple[tuple[str, str, str, str, str, str], ...] = (
    (
        "TS001",
        "denied-implicit",
        "error",
        "Observed calls the committed policy does not allow",
        "CloudTrail shows calls by this principal that no Allow statement of its committed policies matches, "
        "so deploying the policy would make them fail with AccessDenied.",
        "Add the action (and resource) to one of the principal's policies, or confirm the calls should stop.",
    ),
    (
        "TS002",
        "denied-explicit",
        "error",
        "Observed calls a Deny statement of the committed policy blocks",
        "CloudTrail shows calls by this principal that a Deny statement of its committed policies matches; "
        "an explicit deny wins over every Allow.",
        "Narrow the Deny statement, or confirm the calls should stop.",
    ),
    (
        "TS003",
        "unused-statement",
        "warning",
        "A statement no observed call needed",
        "No call by this principal in the window needed anything this statement allows.",
        "Remove the statement, unless it covers something rarer than the window (yearly jobs, break-glass).",
    ),
    (
        "TS004",
        "unused-action",
        "warning",
        "An action pattern no observed call needed",
        "No call by this principal in the window needed an action this pattern grants.",
        "Remove the action pattern from the statement, or replace it with the actions the calls needed.",
    ),
    (
        "TS005",
        "unused-resource",
        "warning",
        "A resource pattern no observed call touched",
        "No call by this principal in the window touched a resource this pattern matches.",
        "Remove the resource pattern from the statement, or narrow it to the resources the calls touched.",
    ),
    (
        "TS006",
        "unresolved",
        "note",
        "A policy source that could not be read",
        "This policy source could not be parsed or evaluated, so its findings are missing from the check.",
        "Fix the source, or give it in a form trailsmith check reads: policy JSON, an IAM export, Terraform.",
    ),
)
_RULE_INDEX = {name: index for index, (_, name, *_) in enumerate(_RULES)}


def render_sarif(report: CheckReport) -> str:
    """SARIF 2.1.0 with one run, for GitHub code scanning (``github/codeql-action/upload-sarif``)."""
    results = [
        result
        for principal in report.principals
        for result in (
            [_denied_result(d) for d in principal.denied] + [_unused_result(u) for u in principal.unused]
        )
    ]
    results += [
        _result("unresolved", _visible(why), (place,), ("", "unresolved", place.path, place.address))
        for place, why in report.unresolved
    ]
    run = {
        "tool": {
            "driver": {
                "name": "trailsmith",
                "version": __version__,
                "rules": [_rule(*rule) for rule in _RULES],
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": {"window": report.window, "notes": list(report.notes)},
    }
    document = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"


def _rule(rule_id: str, name: str, level: str, short: str, full: str, help_text: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": level},
    }


def _denied_result(d: Denied) -> dict[str, Any]:
    rule = "denied-explicit" if d.decision == "explicit-deny" else "denied-implicit"
    message = (
        f"{d.principal} made {_plural(d.calls, 'call')} of {d.action} on {d.resource} "
        f"({_utc(d.first_seen, 'seconds')} .. {_utc(d.last_seen, 'seconds')}) that the committed policy "
        f"would deny ({d.decision}): {d.reason}"
        + (f" Sample events: {', '.join(d.sample_event_ids)}." if d.sample_event_ids else "")
    )
    places = d.denied_by + d.places if rule == "denied-explicit" else d.places
    return _result(rule, _visible(message), places, (d.principal, "denied", f"{d.action} {d.resource}"))


def _unused_result(u: Unused) -> dict[str, Any]:
    message = f"{u.principal}: {u.kind} {u.value} was granted and never used in the window: {u.reason}"
    return _result(
        f"unused-{u.kind}", _visible(message), (u.place,), (u.principal, u.kind, u.value, u.place.path)
    )


def _result(rule: str, message: str, places: tuple[Place, ...], identity: tuple[str, ...]) -> dict[str, Any]:
    """One result; the first place is where code scanning annotates, the others are related."""
    index = _RULE_INDEX[rule]
    rule_id, _, level, *_ = _RULES[index]
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": level,
        "message": {"text": message},
        "partialFingerprints": {"trailsmith/v1": fingerprint(rule_id, *identity)},
    }
    if places:
        result["locations"] = [_location(places[0])]
    if places[1:]:
        result["relatedLocations"] = [_location(p) | {"id": i} for i, p in enumerate(places[1:])]
    return result


def fingerprint(*parts: str) -> str:
    """A hash of what identifies a finding (never its line, which moves when the file is edited above it).

    >>> fingerprint("TS004", "arn:aws:iam::1:role/a", "action", "s3:*", "app.json")[:16]
    '19bd3ac3c8cadf12'
    """
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _location(place: Place) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": _artifact(place.path)}
    if place.line > 0:
        physical["region"] = {"startLine": place.line}
    location: dict[str, Any] = {"physicalLocation": physical}
    if place.address and place.address != place.path:
        location["logicalLocations"] = [{"fullyQualifiedName": place.address}]
    return location


def _artifact(path: str) -> dict[str, str]:
    """A relative path stays relative to the checkout (``%SRCROOT%``); an absolute one becomes a file URI."""
    posix = PurePosixPath(path)
    if posix.is_absolute():
        return {"uri": "file://" + urllib.parse.quote(str(posix))}
    return {"uri": urllib.parse.quote(str(posix)), "uriBaseId": "%SRCROOT%"}


FORMATS: Mapping[str, Callable[[CheckReport], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "sarif": render_sarif,
}
