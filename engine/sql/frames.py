"""Query results as polars DataFrames, for notebooks (polars is imported only when asked for)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trailsmith.sql.db import query
from trailsmith.sql.saved import run_saved

if TYPE_CHECKING:
    import polars


def query_frame(
    sql: str, warehouse: str | os.PathLike[str] | None = None, params: Mapping[str, Any] | None = None
) -> polars.DataFrame:
    """:func:`trailsmith.query` as a polars DataFrame.

    >>> trailsmith.query_frame("SELECT * FROM principals", "warehouse").sort("calls")  # doctest: +SKIP
    """
    import polars

    return _frame(polars, query(sql, warehouse, params))


def saved_frame(
    name: str, warehouse: str | os.PathLike[str] | None = None, **params: Any
) -> polars.DataFrame:
    """:func:`trailsmith.run_saved` as a polars DataFrame."""
    import polars

    return _frame(polars, run_saved(name, warehouse, **params))


def _frame(polars: Any, table: Any) -> polars.DataFrame:
    frame = polars.from_arrow(table)
    assert isinstance(frame, polars.DataFrame)  # from_arrow gives a Series only for an Array
    return frame
