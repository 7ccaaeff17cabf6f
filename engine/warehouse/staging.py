"""What a batch leaves in staging before it is committed, and the files the commit writes.

The ingest's workers write each date's rows to a staged Arrow IPC file with an ``eventID`` sidecar; the
commit (:mod:`trailsmith.warehouse.commit`) finds duplicates across them and asks the workers to write the
final Parquet files. These values pass between the two, across processes.

>>> ids_path("/tmp/stage/2024-08-01-0.arrow")
'/tmp/stage/2024-08-01-0.ids.parquet'
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class StagedFile:
    path: str  # Arrow IPC file of one date's rows; ``ids_path(path)`` is its eventID sidecar
    date: str
    rows: int


@dataclass(frozen=True)
class FinalizeTask:
    """Write one date's final files: committed small files to merge, then staged rows minus ``drops``."""

    date: str
    directory: str  # where the final files go
    prefix: str  # file name prefix, unique per commit
    merge: list[str]  # committed Parquet files of this date to fold in
    staged: list[tuple[str, list[int]]]  # (staged IPC file, sorted row numbers to leave out)


@dataclass(frozen=True)
class FinalFile:
    path: str
    date: str
    rows: int
    bytes: int


def ids_path(staged: str) -> str:
    """The eventID/sourceFile sidecar of a staged IPC file."""
    return staged[: -len(".arrow")] + ".ids.parquet"


IDS_SCHEMA = pa.schema([pa.field("eventID", pa.string()), pa.field("sourceFile", pa.string())])
