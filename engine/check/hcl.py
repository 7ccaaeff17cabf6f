"""Terraform text read without guessing: HCL values as python-hcl2 gives them; where things are in a file.

python-hcl2 (8.x) parses HCL with a real grammar but hands back source text for everything that is not a
plain value: a quoted string keeps its quotes (``'"Allow"'``), an expression is wrapped as ``'${var.x}'``, a
bare reference inside a list comes as ``'x'``, a heredoc keeps its ``<<EOF`` markers, and a function call
such as ``jsonencode({...})`` stays text. :func:`value` turns that into Python values, with :class:`Expr`
for anything whose value only Terraform knows (a variable, a local, a resource attribute, a function, a
string with ``${...}`` inside): callers report those, they never guess them.

python-hcl2 does not say on which line a block starts, so :func:`scan` is a small tokenizer that tracks
lines (strings, ``${...}`` inside them, comments, heredocs) and the helpers below find a block, its end,
and the ``{`` of each policy statement in it, for reports that point at a line.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from typing import Any, TypeAlias

import hcl2
from hcl2.utils import SerializationOptions, process_escape_sequences
from lark.exceptions import LarkError

#: Larger Terraform files are refused: a policy is a few KiB, and python-hcl2 parses about 60 KiB a second.
MAX_BYTES = 8 * 1024 * 1024
#: Larger JSON files are refused: the export of a large account's authorization details runs to tens of MiB.
MAX_JSON_BYTES = 512 * 1024 * 1024

#: What python-hcl2 may raise on text its grammar rejects (or that nests deeper than Python recurses).
PARSE_ERRORS = (LarkError, ValueError, RuntimeError, RecursionError)

_OPTIONS = SerializationOptions(with_comments=False)
_HEREDOC = re.compile(r'^"<<(-?)([A-Za-z][A-Za-z0-9._-]*)\r?\n(.*)\2"$', re.DOTALL)


@dataclass(frozen=True)
class Expr:
    """A value only Terraform can compute, as written.

    ``template`` tells a string with ``${...}`` inside (``arn:${local.x}``, its text as written) from an
    expression (``var.bucket``, ``jsonencode({...})``: the text between ``${`` and ``}``).
    """

    text: str
    template: bool = False

    def __str__(self) -> str:
        return self.text if self.template else f"${{{self.text}}}"


Value: TypeAlias = "str | int | float | bool | Expr | list[Value] | dict[str, Value] | None"


def loads(text: str) -> dict[str, Any]:
    """HCL text as python-hcl2 serialises it, comments left out; raises one of :data:`PARSE_ERRORS`."""
    return hcl2.loads(text, serialization_options=_OPTIONS)


def interpolates(text: str) -> bool:
    """Whether template text has a ``${...}`` or ``%{...}`` (``$${`` and ``%%{`` are escapes, not templates).

    >>> interpolates("arn:aws:s3:::${var.bucket}"), interpolates("literal $${x}"), interpolates("a$")
    (True, False, False)
    """
    i = 0
    while i < len(text) - 1:
        pair = text[i : i + 2]
        if pair in ("$$", "%%") and text[i + 2 : i + 3] == "{":
            i += 3
        elif pair in ("${", "%{"):
            return True
        else:
            i += 1
    return False


def template(text: str) -> str | Expr:
    """A template string's value: itself with its escapes undone, or an :class:`Expr` when it interpolates.

    >>> template("a $${b}"), template("${var.x}"), template("a${var.x}")
    ('a ${b}', Expr(text='var.x', template=False), Expr(text='a${var.x}', template=True))
    """
    if text.startswith("${") and _template_end(text, 2, len(text)) == len(text):
        return Expr(text[2:-1])
    if interpolates(text):
        return Expr(text, template=True)
    return text.replace("$${", "${").replace("%%{", "%{")


def heredoc(raw: str) -> str | None:
    """The text of a heredoc as python-hcl2 keeps it (``"<<EOF\\n...EOF"``), ``<<-`` indentation removed.

    >>> heredoc('"<<-EOT\\n    {\\n      \\"a\\": 1\\n    }\\n    EOT"')
    '{\\n  "a": 1\\n}\\n'
    """
    match = _HEREDOC.match(raw)
    if not match:
        return None
    body = match[3]
    if match[1]:
        lines = body.split("\n")
        indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
        cut = min(indents, default=0)
        body = "\n".join(line[cut:] for line in lines)
    return body.rstrip(" \t")


def value(raw: Any) -> Value:
    """A python-hcl2 value as Python: literals unquoted and unescaped, everything computed an :class:`Expr`.

    >>> value(['"s3:GetObject"', "${var.actions}", 3, {'"Key"': "x"}])
    ['s3:GetObject', Expr(text='var.actions', template=False), 3, {'Key': Expr(text='x', template=False)}]
    """
    if isinstance(raw, list):
        return [value(item) for item in raw]
    if isinstance(raw, dict):
        return {label(key): value(item) for key, item in raw.items() if key != "__is_block__"}
    if not isinstance(raw, str):
        return raw  # numbers, booleans, null
    text = heredoc(raw)
    if text is not None:
        return template(text)
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        inner = raw[1:-1]
        return template(inner) if interpolates(inner) else template(process_escape_sequences(inner))
    if raw.startswith("${") and raw.endswith("}"):
        return Expr(raw[2:-1])
    return Expr(raw)


def label(raw: str) -> str:
    """A block label or object key without the quotes python-hcl2 keeps (``'"aws_iam_policy"'``)."""
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw


def call(expr: Expr, function: str) -> str | None:
    """The argument text of ``function(...)`` when ``expr`` is exactly one call of it, else None.

    >>> call(Expr('jsonencode({a = 1})'), "jsonencode"), call(Expr('upper("x")'), "jsonencode")
    ('{a = 1}', None)
    """
    text = expr.text.strip()
    if text.startswith(f"{function}(") and text.endswith(")"):
        return text[len(function) + 1 : -1]
    return None


def expression(text: str) -> Value:
    """An HCL expression's value (``{Version = "2012-10-17", ...}``); raises one of :data:`PARSE_ERRORS`."""
    parsed = loads(f"v = {text}\n")
    if set(parsed) != {"v"}:
        raise ValueError("not a single expression")
    return value(parsed["v"])


# --- files -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unresolved:
    """Something that was not read or not resolved, and why; it was not checked."""

    path: str
    line: int
    address: str
    what: str
    why: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.address}: {self.what}: {self.why}"


class Unreadable(Exception):
    """A file that cannot be read as what it should be; a CheckSourceError or an Unresolved item."""

    def __init__(self, problem: str, hint: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


def read_text(path: str, limit: int = MAX_BYTES) -> str:
    """A UTF-8 file's text, refusing files over ``limit`` bytes; raises :class:`Unreadable`.

    Only regular files: a named pipe or a device in a repository (or named by ``file()``) would block the
    read or never end.
    """
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            raise Unreadable("is not a regular file", hint="Give policy files, exports or Terraform folders")
        # the size first, so a huge file is refused before it is read; the read is capped too, as the
        # file may grow in between
        data = b"" if status.st_size > limit else _head(path, limit + 1)
    except OSError as exc:
        raise Unreadable(
            f"cannot read it: {exc.strerror or exc}", hint="Check the path and its permissions"
        ) from None
    if status.st_size > limit or len(data) > limit:
        raise Unreadable(
            f"is larger than {limit // (1024 * 1024)} MiB",
            hint="A policy is a few KiB; give the policy files, not the folder this one is in",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        raise Unreadable(problem, hint="Save it as UTF-8, as Terraform and the AWS CLI write") from None


def _head(path: str, size: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


def load_json(text: str) -> Any:
    """JSON text's value; raises :class:`Unreadable`."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise Unreadable(f"is not valid JSON: {exc}", hint="Fix the file, or leave it out") from None
    except RecursionError:
        raise Unreadable(
            "nests too deeply to be a policy", hint="Give a policy document or an IAM export"
        ) from None


# --- where things are --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "string", "heredoc" or the punctuation itself
    text: str
    line: int
    start: int
    end: int


def scan(
    text: str, start: int = 0, end: int | None = None, first_line: int = 1, *, templates: bool = True
) -> list[Token]:
    """Tokens of HCL or JSON text, each with its 1-based line; comments dropped.

    ``templates``: a ``${`` in a string opens an expression (HCL), not so in plain JSON, where the quotes
    inside Terraform JSON's ``"${jsonencode({a = \"b\"})}"`` are escaped.

    >>> [(t.kind, t.line) for t in scan('a = {\\n  "b" = 1 # c\\n}')]
    [('word', 1), ('=', 1), ('{', 1), ('string', 2), ('=', 2), ('word', 2), ('}', 3)]
    """
    stop = len(text) if end is None else end
    tokens: list[Token] = []
    i, line = start, first_line
    while i < stop:
        c = text[i]
        if c in " \t\r\n,":
            if c == "\n":
                line += 1
            i += 1
            continue
        if c == "#" or text.startswith("//", i):
            i = _line_end(text, i, stop)
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2, stop)
            j = stop if j < 0 else j + 2
        elif text.startswith("<<", i) and (match := re.match(r"<<-?([A-Za-z][\w.-]*)\r?\n", text[i:stop])):
            j = _heredoc_end(text, i + match.end(), match[1], stop)
            tokens.append(Token("heredoc", text[i:j], line, i + match.end(), j))
        elif c == '"':
            j = _string_end(text, i, stop, templates)
            tokens.append(Token("string", text[i + 1 : j - 1], line, i, j))
        elif c in "{}[]=:()":
            j = i + 1
            tokens.append(Token(c, c, line, i, j))
        else:
            j = i
            while j < stop and text[j] not in ' \t\r\n,{}[]=:()"#':
                j += 1
            j = max(j, i + 1)
            tokens.append(Token("word", text[i:j], line, i, j))
        line += text.count("\n", i, j)
        i = j
    return tokens


def _line_end(text: str, i: int, stop: int) -> int:
    j = text.find("\n", i, stop)
    return stop if j < 0 else j


def _string_end(text: str, i: int, stop: int, templates: bool = True) -> int:
    """Just past the string opened at ``i``; ``${...}`` inside may hold strings and braces of its own."""
    i += 1
    while i < stop:
        c = text[i]
        if c == "\\":
            i += 2
        elif c == '"':
            return i + 1
        elif templates and (text.startswith("${", i) or text.startswith("%{", i)):
            i = _template_end(text, i + 2, stop)
        else:
            i += 1
    return stop


def _template_end(text: str, i: int, stop: int) -> int:
    depth = 1
    while i < stop and depth:
        c = text[i]
        if c == '"':
            i = _string_end(text, i, stop)
            continue
        depth += {"{": 1, "}": -1}.get(c, 0)
        i += 1
    return i


def _heredoc_end(text: str, body: int, marker: str, stop: int) -> int:
    """Just past the line that closes a heredoc (its marker alone, indented or not)."""
    i = body
    while i < stop:
        j = _line_end(text, i, stop)
        if text[i:j].strip() == marker:
            return j
        i = j + 1
    return stop


def closing(tokens: list[Token], index: int) -> int:
    """The index of the token closing the bracket at ``tokens[index]`` (the last token if unclosed)."""
    pairs = {"{": "}", "[": "]", "(": ")"}
    depth = 0
    for j in range(index, len(tokens)):
        if tokens[j].kind in pairs:
            depth += 1
        elif tokens[j].kind in pairs.values():
            depth -= 1
            if depth == 0:
                return j
    return len(tokens) - 1


def statement_lines(tokens: list[Token], key: str = "Statement") -> list[tuple[int, ...]]:
    """For each ``key`` (JSON ``"Statement":`` or HCL ``Statement =``), the line of each statement in it.

    >>> statement_lines(scan('{"Statement": [\\n {"Effect": "Allow"},\\n {"Effect": "Deny"}]}'))
    [(2, 3)]
    """
    found: list[tuple[int, ...]] = []
    for i, token in enumerate(tokens[:-2]):
        if token.kind not in ("string", "word") or token.text != key:
            continue
        if tokens[i + 1].kind not in (":", "="):
            continue
        opener = tokens[i + 2]
        if opener.kind == "{":
            found.append((opener.line,))
        elif opener.kind == "[":
            found.append(_elements(tokens, i + 2))
    return found


def _elements(tokens: list[Token], index: int) -> tuple[int, ...]:
    """Lines of the ``{`` of each element of the list opened at ``tokens[index]``."""
    lines = []
    j, last = index + 1, closing(tokens, index)
    while j < last:
        if tokens[j].kind == "{":
            lines.append(tokens[j].line)
            j = closing(tokens, j)
        j += 1
    return tuple(lines)


def blocks(tokens: list[Token], name: str) -> list[tuple[int, int]]:
    """Index of the ``{`` and of its ``}`` for each ``name {`` block directly inside the token list."""
    found = []
    i = 0
    while i < len(tokens) - 1:
        token = tokens[i]
        if token.kind in "{[(":
            i = closing(tokens, i) + 1
            continue
        if token.kind == "word" and token.text == name and tokens[i + 1].kind == "{":
            found.append((i + 1, closing(tokens, i + 1)))
            i = found[-1][1] + 1
            continue
        i += 1
    return found


def index_blocks(tokens: list[Token]) -> dict[tuple[str, str, str], tuple[int, int]]:
    """``(open, close)`` token indexes of each top-level ``resource``/``data "type" "name" {`` of an HCL file.

    >>> index_blocks(scan('data "a" "b" {\\n}\\nresource c d { x = {} }'))
    {('data', 'a', 'b'): (3, 4), ('resource', 'c', 'd'): (8, 13)}
    """
    found: dict[tuple[str, str, str], tuple[int, int]] = {}
    i = 0
    while i < len(tokens):
        head = tokens[i : i + 4]
        if len(head) == 4 and head[0].text in ("resource", "data") and head[3].kind == "{":
            close = closing(tokens, i + 3)
            found.setdefault((head[0].text, head[1].text, head[2].text), (i + 3, close))
            i = close
        elif tokens[i].kind in "{[(":
            i = closing(tokens, i)
        i += 1
    return found


def attribute(tokens: list[Token], open_: int, close: int, name: str) -> int | None:
    """Index of the first token of the value of attribute ``name``, directly inside a block."""
    i = open_ + 1
    while i < close - 1:
        token = tokens[i]
        if token.kind in "{[(":
            i = closing(tokens, i) + 1
            continue
        if token.kind in ("word", "string") and token.text == name and tokens[i + 1].kind in ("=", ":"):
            return i + 2
        i += 1
    return None


def find_json_block(tokens: list[Token], type_: str, name: str) -> tuple[int, int] | None:
    """``(open, close)`` token indexes of ``"type": {... "name": {`` in Terraform's JSON syntax."""
    for i, token in enumerate(tokens[:-1]):
        if token.kind == "string" and token.text == type_ and tokens[i + 1].kind == ":":
            for j in range(i + 2, len(tokens) - 2):
                here = tokens[j]
                if here.kind == "string" and here.text == name and tokens[j + 1].kind == ":":
                    opener = j + 2 + (tokens[j + 2].kind == "[")
                    if tokens[opener].kind == "{":
                        return opener, closing(tokens, opener)
    return None
