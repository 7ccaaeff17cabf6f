"""The proposed change of a policy source in the forms a reviewer or ``git apply`` takes: a unified diff
of the source file, and a JSON policy written back as Terraform's ``aws_iam_policy_document`` block.

Values come from policy files nobody vetted: a diff quotes unusual paths the way git does and splits lines
only at ``\\n`` (JSON strings may hold other line separators), and HCL never receives an interpolation
(``${`` and ``%{`` are escaped).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from trailsmith.check.findings import Patch
from trailsmith.errors import TrailsmithError

#: Characters HCL strings write as escapes.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class RenderError(TrailsmithError):
    """A policy document holds something the asked-for form cannot write."""


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
