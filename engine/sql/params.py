"""Typed query parameters: a value given as text (``--param start=2024-08-01``) becomes what DuckDB binds.

Typing at the edge matters: a DATE bound as a date prunes partitions and compares as a date; an account id
bound as text keeps its leading zero; a list binds as a list for ``list_contains($regions, awsRegion)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from trailsmith.errors import QueryError

#: Types a parameter may declare, with what the text of a value must look like.
TYPES: dict[str, str] = {
    "VARCHAR": "any text",
    "DATE": "YYYY-MM-DD",
    "TIMESTAMP": "YYYY-MM-DDTHH:MM:SS[Z], UTC unless an offset is given",
    "INTEGER": "a whole number",
    "BOOLEAN": "true or false",
    "VARCHAR[]": "comma-separated text, e.g. us-east-1,eu-west-1",
}

_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Parameter:
    """A declared query parameter: ``$name TYPE = default  description``."""

    name: str
    type: str
    default: Any
    description: str = ""

    def convert(self, value: Any) -> Any:
        """``value`` (text from the command line, or already a Python value) as this parameter's type."""
        return convert(self.name, self.type, value)


def convert(name: str, kind: str, value: Any) -> Any:
    """``value`` as DuckDB should bind it for a ``kind`` parameter; :class:`QueryError` if it cannot be.

    >>> convert("start", "DATE", "2024-08-01")
    datetime.date(2024, 8, 1)
    >>> convert("regions", "VARCHAR[]", "us-east-1, eu-west-1")
    ['us-east-1', 'eu-west-1']
    """
    if value is None:
        return None
    kind = kind.upper()
    if not isinstance(value, str):
        return _check_python(name, kind, value)
    text = value.strip()
    try:
        if kind == "VARCHAR":
            return value
        if kind == "DATE":
            return date.fromisoformat(text)
        if kind == "TIMESTAMP":
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
        if kind == "INTEGER":
            return int(text)
        if kind == "BOOLEAN":
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise ValueError(text)
        if kind == "VARCHAR[]":
            return [item.strip() for item in text.split(",") if item.strip()]
    except ValueError:
        raise QueryError(f"parameter {name}: {value!r} is not a {kind}", hint=f"Give {TYPES[kind]}") from None
    raise QueryError(f"parameter {name}: unknown type {kind}", hint=f"Use one of {', '.join(TYPES)}")


def _check_python(name: str, kind: str, value: Any) -> Any:
    expected: dict[str, tuple[type, ...]] = {
        "VARCHAR": (str,),
        "DATE": (date,),
        "TIMESTAMP": (datetime,),
        "INTEGER": (int,),
        "BOOLEAN": (bool,),
        "VARCHAR[]": (list, tuple),
    }
    if kind not in expected:
        raise QueryError(f"parameter {name}: unknown type {kind}", hint=f"Use one of {', '.join(TYPES)}")
    if isinstance(value, expected[kind]) and not (kind == "INTEGER" and isinstance(value, bool)):
        return list(value) if kind == "VARCHAR[]" and isinstance(value, (list, tuple)) else value
    raise QueryError(f"parameter {name}: {value!r} is not a {kind}", hint=f"Give {TYPES[kind]}")


def parse_assignment(text: str) -> tuple[str, str, str]:
    """``NAME[:TYPE]=VALUE`` from the command line -> (name, type, value text); type defaults to VARCHAR.

    >>> parse_assignment("start:DATE=2024-08-01")
    ('start', 'DATE', '2024-08-01')
    """
    left, equals, value = text.partition("=")
    name, _, kind = left.strip().lstrip("$").partition(":")
    kind = (kind.strip() or "VARCHAR").upper()
    if not equals or not _NAME.match(name):
        raise QueryError(f"--param {text!r} is not NAME=VALUE", hint="Write e.g. --param start=2024-08-01")
    if kind not in TYPES:
        raise QueryError(f"--param {text!r}: unknown type {kind}", hint=f"Use one of {', '.join(TYPES)}")
    return name, kind, value
