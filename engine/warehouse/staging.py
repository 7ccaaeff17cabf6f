"""What a batch leaves in staging before it is committed, and the files the commit moves into place.

The ingest's workers write each date's rows straight to Parquet files in the warehouse's final format
(:class:`FinalFile`, still in staging). The commit (:mod:`trailsmith.warehouse.commit`) finds duplicates
from their ``eventID`` columns, moves the files with nothing to leave out into place as they are, and asks
the workers to rewrite only the rest (:class:`FinalizeTask`): files that hold a duplicate, and a date's
small files once it has too many. These values pass between the two, across processes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FinalizeTask:
    """Write one date's files again: ``inputs`` in their order, each minus its listed rows."""

    date: str
    directory: str  # where the new files go
    prefix: str  # file name prefix, unique per commit
    inputs: list[tuple[str, list[int]]]  # (Parquet file, sorted row numbers to leave out)


@dataclass(frozen=True)
class FinalFile:
    """A Parquet file of one date's rows in the final format (schema, row groups, settings): written by a
    worker into staging, then moved into the warehouse by the commit."""

    path: str
    date: str
    rows: int
    bytes: int
