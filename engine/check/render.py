"""A :class:`~trailsmith.check.findings.CheckReport` as text, JSON, markdown or SARIF, and patches as diffs.

Every value in a report can come from a hostile source (a policy file in a pull request, a role name, an
event id), so each format escapes for its own reader: the terminal never receives control characters,
markdown never receives live HTML, table pipes, mentions or math, and HCL never receives an interpolation.
A pull-request comment is cut to GitHub's limit with a line saying how much was left out; SARIF carries
a fingerprint per finding that does not depend on line numbers, so code scanning follows an alert from
one run to the next.

>>> from trailsmith.check.findings import CheckReport
>>> render_text(CheckReport((), "2024-01-01 .. 2024-03-31, 90 days", (), ())).splitlines()[-1]
'0 principals checked, 0 denied call patterns (0 calls), 0 unused grants'
"""

from __future__ import annotations

import dataclasses
import difflib
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
from trailsmith.check.findings import CheckReport, Denied, Patch, Place, PrincipalCheck, Unused
from trailsmith.errors import TrailsmithError

#: GitHub's limit on the body of an issue or pull-request comment, in characters.
COMMENT_LIMIT = 65_536
#: The longest value a markdown table cell shows; the JSON and SARIF formats keep every value whole.
CELL_CHARS = 300
SCHEMA_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class RenderError(TrailsmithError):
    """A policy document holds something the asked-for form cannot write."""


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


# --- patches -----------------------------------------------------------------------------------------------


def unified_diff(patch: Patch) -> str:
    """``before`` -> ``after`` as a git-style unified diff that ``git apply`` and ``patch -p1`` take.

    >>> from trailsmith.check.findings import Place
    >>> print(unified_diff(Patch(Place("app.json", 1, "app.json"), "json", "a\\nb\\n", "a\\nc\\n")), end="")
    diff --git a/app.json b/app.json
    --- a/app.json
    +++ b/app.json
    @@ -1,2 +1,2 @@
     a
    -b
    +c
    """
    if patch.before == patch.after:
        return ""
    path = str(PurePosixPath(patch.place.path))
    old, new = _git_path("a/" + path), _git_path("b/" + path)
    lines = [f"diff --git {old} {new}\n"]
    for line in difflib.unified_diff(_lines(patch.before), _lines(patch.after), old, new):
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(lines)


def _lines(text: str) -> list[str]:
    r"""``text`` in lines as git counts them: split at ``\n`` only (``str.splitlines`` also splits at
    ``\x0c``, ``\u2028`` and others, which JSON strings may hold), each line keeping its end.

    >>> _lines("a\u2028b\r\nc")
    ['a\u2028b\r\n', 'c']
    """
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _git_path(path: str) -> str:
    r"""A path as git writes it in a diff header: quoted, with C escapes, when it holds anything unusual.

    >>> _git_path('a/we"ird\tname.json')
    '"a/we\\"ird\\tname.json"'
    """
    if all(char.isascii() and char.isprintable() and char not in '"\\' for char in path):
        return path
    return '"' + "".join(_git_char(char) for char in path) + '"'


def _git_char(char: str) -> str:
    named = {"\t": "\\t", "\n": "\\n", '"': '\\"', "\\": "\\\\"}
    if char in named:
        return named[char]
    if char.isascii() and char.isprintable():
        return char
    return "".join(f"\\{byte:03o}" for byte in char.encode())


#: Terraform's ``aws_iam_policy_document`` block names for a statement's IAM elements.
_LISTS = {
    "Action": "actions",
    "NotAction": "not_actions",
    "Resource": "resources",
    "NotResource": "not_resources",
}
_PRINCIPALS = {"Principal": "principals", "NotPrincipal": "not_principals"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def terraform_document(document: Mapping[str, Any], name: str) -> str:
    """A policy JSON document as a ``data "aws_iam_policy_document"`` block named ``name``.

    >>> print(terraform_document({"Statement": {"Effect": "Allow", "Action": "s3:GetObject",
    ...     "Resource": "arn:aws:s3:::b/${aws:username}/*"}}, "app"), end="")
    data "aws_iam_policy_document" "app" {
      statement {
        effect    = "Allow"
        actions   = ["s3:GetObject"]
        resources = ["arn:aws:s3:::b/$${aws:username}/*"]
      }
    }
    """
    if not _IDENTIFIER.fullmatch(name):
        raise RenderError(
            f"{name!r} is not a Terraform name",
            hint="Use letters, digits, '_' and '-', starting with a letter or '_'",
        )
    present = [
        (block, document[key])
        for key, block in (("Version", "version"), ("Id", "policy_id"))
        if key in document
    ]
    width = max((len(block) for block, _ in present), default=0)
    head = [f"  {block.ljust(width)} = {_hcl(_scalar(value, block))}\n" for block, value in present]
    raw = document.get("Statement", [])
    statements = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(statements, list) or not all(isinstance(s, Mapping) for s in statements):
        raise RenderError("the policy's Statement is not a statement or a list of statements")
    blocks = [_statement_block(s, i) for i, s in enumerate(statements)]
    body = "".join(head) + ("\n" if head and blocks else "") + "\n".join(blocks)
    return f'data "aws_iam_policy_document" "{name}" {{\n{body}}}\n'


def _statement_block(statement: Mapping[str, Any], index: int) -> str:
    unknown = set(statement) - {"Sid", "Effect", "Condition", *_LISTS, *_PRINCIPALS}
    if unknown:
        raise RenderError(
            f"Statement[{index}] has {', '.join(sorted(unknown))}, which IAM does not define",
            hint="Fix the policy document; aws_iam_policy_document has no place for it",
        )
    attributes = [
        (key.lower(), _hcl(_scalar(statement[key], key))) for key in ("Sid", "Effect") if key in statement
    ]
    attributes += [
        (block, _hcl_list(_strings(statement[key], key), "    "))
        for key, block in _LISTS.items()
        if key in statement
    ]
    width = max((len(key) for key, _ in attributes), default=0)
    lines = [f"    {key.ljust(width)} = {value}\n" for key, value in attributes]
    for key, block in _PRINCIPALS.items():
        if key in statement:
            lines += _principal_blocks(statement[key], block)
    lines += _condition_blocks(statement.get("Condition", {}))
    return "  statement {\n" + "".join(lines) + "  }\n"


def _principal_blocks(principal: Any, block: str) -> list[str]:
    kinds = {"*": "*"} if principal == "*" else principal
    if not isinstance(kinds, Mapping):
        raise RenderError(f"a {block} element is neither '*' nor an object of principal types")
    return [
        f"    {block} {{\n      type        = {_hcl(str(kind))}\n"
        f"      identifiers = {_hcl_list(_strings(ids, str(kind)), '      ')}\n    }}\n"
        for kind, ids in kinds.items()
    ]


def _condition_blocks(condition: Any) -> list[str]:
    if not isinstance(condition, Mapping) or not all(
        isinstance(keys, Mapping) for keys in condition.values()
    ):
        raise RenderError("a Condition is not an object of operators, each an object of keys and values")
    return [
        f"    condition {{\n      test     = {_hcl(str(test))}\n      variable = {_hcl(str(variable))}\n"
        f"      values   = {_hcl_list(_strings(values, str(variable)), '      ')}\n    }}\n"
        for test, keys in condition.items()
        for variable, values in keys.items()
    ]


def _scalar(value: Any, where: str) -> str:
    """A JSON scalar as IAM reads it: condition values ``true`` and ``1`` mean the strings "true" and "1"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise RenderError(f"{where} holds {type(value).__name__}, not a string")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    return tuple(_scalar(v, where) for v in value) if isinstance(value, list) else (_scalar(value, where),)


def _hcl(text: str) -> str:
    r"""An HCL quoted string holding exactly ``text``: escapes for the parser, ``$${``/``%%{`` for templates.

    >>> print(_hcl('say "${x}" 100%{y} \\ done\n'))
    "say \"$${x}\" 100%%{y} \\ done\n"
    """
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif char in "\n\r\t":
            escaped.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif _CONTROL.match(char):
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped).replace("${", "$${").replace("%{", "%%{") + '"'


def _hcl_list(values: tuple[str, ...], indent: str) -> str:
    if len(values) == 1:
        return f"[{_hcl(values[0])}]"
    return "[\n" + "".join(f"{indent}  {_hcl(v)},\n" for v in values) + f"{indent}]"
