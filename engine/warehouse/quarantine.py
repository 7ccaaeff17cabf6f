"""Where bad input goes: kept aside with its reason, never dropped, never silent.

A whole file that cannot hold events (corrupt gzip, not JSON, empty, JSON without events) is copied byte
for byte to ``quarantine/files/<sha256>`` (named by content: source names are untrusted and never become
paths). A bad record inside a good file keeps its raw JSON text in the index. The index is Parquet with
this schema, readable as the ``quarantine`` view.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from trailsmith.files import write_atomically

SCHEMA = pa.schema(
    [
        pa.field("sourceFile", pa.string()),
        pa.field("recordIndex", pa.int64()),  # null: the whole file
        pa.field("reason", pa.string()),
        pa.field("rawRecord", pa.binary()),  # the record's JSON text as found, for record-level items
        pa.field("storedFile", pa.string()),  # warehouse-relative copy of the file, for file-level items
    ]
)


@dataclass(frozen=True)
class Item:
    """One quarantined file (``record_index`` None) or record."""

    source: str
    record_index: int | None
    reason: str
    raw_record: bytes | None = None
    stored_file: str | None = None


def store_file(data: bytes, directory: Path, relative_to: Path) -> str:
    """Copy a bad file's bytes under ``directory`` by content hash.

    Returns its path relative to the warehouse.
    """
    digest = hashlib.sha256(data).hexdigest()
    path = directory / digest[:2] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data)
    return path.relative_to(relative_to).as_posix()


def to_table(items: list[Item]) -> pa.Table:
    return pa.table(
        [
            pa.array([i.source for i in items], pa.string()),
            pa.array([i.record_index for i in items], pa.int64()),
            pa.array([i.reason for i in items], pa.string()),
            pa.array([i.raw_record for i in items], pa.binary()),
            pa.array([i.stored_file for i in items], pa.string()),
        ],
        schema=SCHEMA,
    )
