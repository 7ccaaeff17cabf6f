"""Saved queries: one ``queries/<name>.sql`` file per question, with a header that documents it.

The header is the file's leading block of ``--`` comments::

    -- Denied calls by principal: which principal was refused what, how often.   <- one-line description
    --
    -- More prose, as many lines as it takes.
    --
    -- Parameters:
    --   $start DATE = '1970-01-01'     first eventDate included
    --   $limit INTEGER = 20            rows to return
    --   $regions VARCHAR[] = ['us-east-1']   a list
    --
    -- Columns:
    --   principalArn   the IAM policy holder

Defaults are literals: a quoted string (``''`` for a quote), a list of quoted strings, a whole number,
``true``/``false`` or ``NULL``. The header is the contract: tests check that the parameters it declares are
exactly the ``$names`` the SQL uses, and that the columns it lists are exactly the result's.

Files are read with :mod:`importlib.resources`, so saved queries work from a wheel or a zip as well.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pyarrow as pa

from trailsmith.errors import QueryError
from trailsmith.sql.params import TYPES, Parameter, convert

PACKAGE = "trailsmith.queries"

_PARAM = re.compile(
    r"^\$(?P<name>[A-Za-z_]\w*)\s+(?P<type>[A-Za-z]+(?:\[\])?)\s*=\s*"
    r"(?P<default>'(?:[^']|'')*'|\[[^\]]*\]|-?\d+|NULL|TRUE|FALSE)\s*(?P<doc>.*)$",
    re.IGNORECASE,
)
_COLUMN = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s+(?P<doc>.+)$")
_QUOTED = re.compile(r"'((?:[^']|'')*)'")


@dataclass(frozen=True)
class SavedQuery:
    """One saved query: its name (the file's stem), documentation and SQL."""

    name: str
    description: str
    about: str
    parameters: tuple[Parameter, ...]
    columns: tuple[tuple[str, str], ...]
    sql: str

    def bind(self, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every parameter's value: ``values`` (text or Python values) over the header's defaults."""
        given = dict(values or {})
        known = {p.name for p in self.parameters}
        unknown = sorted(set(given) - known)
        if unknown:
            listed = ", ".join(sorted(known)) or "none"
            raise QueryError(
                f"query {self.name} has no parameter {', '.join(unknown)}", hint=f"Its parameters: {listed}"
            )
        return {p.name: p.convert(given[p.name]) if p.name in given else p.default for p in self.parameters}


def names() -> list[str]:
    """Names of every saved query, sorted."""
    root = resources.files(PACKAGE)
    return sorted(entry.name[: -len(".sql")] for entry in root.iterdir() if entry.name.endswith(".sql"))


def saved_queries() -> list[SavedQuery]:
    """Every saved query, by name.

    >>> [q.name for q in saved_queries()][:2]
    ['access_keys', 'activity_by_region']
    """
    return [load(name) for name in names()]


def source(name: str) -> str:
    """The text of saved query ``name``'s file; :class:`QueryError` naming the ones that exist if none."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", name) or name not in names():
        raise QueryError(
            f"no saved query {name!r}", hint=f"Known: {', '.join(names())} (trailsmith query --list)"
        )
    return resources.files(PACKAGE).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def load(name: str) -> SavedQuery:
    """The saved query ``name``, parsed."""
    return parse(name, source(name))


def parse(name: str, text: str) -> SavedQuery:
    """A :class:`SavedQuery` from a file's text; :class:`QueryError` if its header is malformed."""
    header: list[str] = []
    lines = text.splitlines()
    for line in lines:
        if not line.startswith("--"):
            break
        header.append(line[2:].strip())
    sql = "\n".join(lines[len(header) :]).strip()
    if not header or not header[0]:
        raise QueryError(f"saved query {name}: the first line must be a '-- ' comment saying what it answers")
    section = "about"
    about: list[str] = []
    parameters: list[Parameter] = []
    columns: list[tuple[str, str]] = []
    for line in header[1:]:
        lowered = line.lower()
        if lowered in ("parameters:", "columns:"):
            section = lowered[:-1]
        elif section == "about":
            about.append(line)
        elif section == "parameters" and line:
            parameters.append(_parameter(name, line))
        elif section == "columns" and line:
            match = _COLUMN.match(line)
            if not match:
                raise QueryError(f"saved query {name}: column line {line!r} is not 'name  description'")
            columns.append((match["name"], match["doc"].strip()))
    return SavedQuery(
        name=name,
        description=header[0],
        about=" ".join(part for part in about if part),
        parameters=tuple(parameters),
        columns=tuple(columns),
        sql=sql,
    )


def _parameter(query: str, line: str) -> Parameter:
    match = _PARAM.match(line)
    if not match:
        raise QueryError(
            f'saved query {query}: parameter line {line!r} is not "$name TYPE = default  description"'
        )
    kind = match["type"].upper()
    if kind not in TYPES:
        raise QueryError(f"saved query {query}: parameter ${match['name']} has unknown type {kind}")
    return Parameter(
        match["name"], kind, _default(query, match["name"], kind, match["default"]), match["doc"]
    )


def _default(query: str, name: str, kind: str, literal: str) -> Any:
    upper = literal.upper()
    if upper == "NULL":
        return None
    if literal.startswith("["):
        items = [item.replace("''", "'") for item in _QUOTED.findall(literal)]
        return convert(name, kind, items if kind == "VARCHAR[]" else ",".join(items))
    if literal.startswith("'"):
        return convert(name, kind, literal[1:-1].replace("''", "'"))
    return convert(name, kind, literal.lower() if upper in ("TRUE", "FALSE") else literal)


def run_saved(name: str, warehouse: str | os.PathLike[str] | None = None, **params: Any) -> pa.Table:
    """Run saved query ``name`` over the warehouse with ``params`` over its defaults; an Arrow table.

    >>> run_saved("denied_calls", "warehouse", start="2024-08-01")  # doctest: +SKIP
    """
    from trailsmith.sql.db import query

    saved = load(name)
    return query(saved.sql, warehouse, saved.bind(params))
