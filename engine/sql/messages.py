"""DuckDB's error messages, condensed to the one line the CLI prints.

DuckDB explains a failure over several lines: the error, then candidates ("Did you mean", "Candidate
bindings"), then ``LINE n:`` with the query text and a caret under the culprit. A terminal user needs all of
it but on one line, with the caret turned into a line and column they can find in their editor.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"^LINE (\d+): ?(.*)$")


def one_line(error: BaseException, sql: str | None = None) -> str:
    """``error``'s message on one line: what is wrong, DuckDB's suggestions, and where.

    >>> one_line(Exception('Parser Error: syntax error at or near "selec"\\n\\nLINE 1: selec 1\\n        ^'))
    'Parser Error: syntax error at or near "selec" (line 1, column 1)'
    >>> one_line(Exception('Binder Error: Referenced column "nope" not found!\\nCandidate bindings: "nap"'))
    'Binder Error: Referenced column "nope" not found! Candidate bindings: "nap"'
    """
    lines = str(error).splitlines()
    parts: list[str] = []
    where = ""
    index = 0
    while index < len(lines):
        line = lines[index].rstrip()
        match = _LINE.match(line)
        if match:
            caret = lines[index + 1] if index + 1 < len(lines) else ""
            where = _position(match, line, caret, sql)
            index += 2
            continue
        if line.strip():
            parts.append(line.strip())
        index += 1
    message = " ".join(parts) or type(error).__name__
    return f"{message} ({where})" if where else message


def _position(match: re.Match[str], line: str, caret: str, sql: str | None) -> str:
    """``line L, column C`` from DuckDB's ``LINE L: text`` and the caret line under it.

    DuckDB shows a window of a long line, cut with ``...``; with the query at hand, the window is found in
    the real line so that the column is the editor's, not the window's.
    """
    number = int(match.group(1))
    shown = match.group(2)
    prefix = len(line) - len(shown)
    column = caret.find("^") - prefix + 1 if "^" in caret else 0
    if column > 0 and shown.startswith("...") and sql is not None:
        real = sql.splitlines()[number - 1] if number <= len(sql.splitlines()) else ""
        window = shown[3:].removesuffix("...")
        start = real.find(window)
        column = start + column - 3 if start >= 0 else 0
    return f"line {number}, column {column}" if column > 0 else f"line {number}"
