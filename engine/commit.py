"""One batch of staged files -> one atomic commit: deduplicate, place, compact, snapshot.

Duplicates are found with the ``eventID`` column alone (a cheap DuckDB scan), never by loading rows:
a staged row is dropped when its ``(eventDate, eventID)`` is already committed, or when another staged row
has it and comes first in ``(sourceFile, file, row)`` order, so the choice is deterministic. Only staged files
that hold duplicates are rewritten; the others are moved into place as they are.

"Compact as you go": when a date partition has more than ``MAX_SMALL_FILES`` files under ``SMALL_ROWS``
rows, they are merged, streaming, into files of up to ``TARGET_ROWS`` rows, in the same commit.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from trailsmith.schema import EVENTS_SCHEMA, PARTITION_COLUMN
from trailsmith.warehouse import DataFile, Snapshot, Warehouse
from trailsmith.worker import PARQUET_OPTIONS, ROW_GROUP_ROWS, StagedFile

SMALL_ROWS = 256 * 1024
TARGET_ROWS = 2 * 1024 * 1024
MAX_SMALL_FILES = 4


@dataclass(frozen=True)
class CommitStats:
    version: int
    rows_added: int
    duplicates: int
    files_written: int
    files_compacted: int


def open_duckdb(warehouse: Warehouse, *, threads: int, memory_limit: str = "512MB") -> duckdb.DuckDBPyConnection:
    """A private DuckDB for ingest work: bounded memory, spilling into the warehouse's tmp directory."""
    warehouse.tmp_dir.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(config={"threads": max(1, threads), "memory_limit": memory_limit})
    connection.execute("SET temp_directory = ?", [str(warehouse.tmp_dir)])
    connection.execute("SET preserve_insertion_order = false")
    return connection


def duplicates(
    connection: duckdb.DuckDBPyConnection, staged: list[StagedFile], existing: list[str]
) -> dict[str, list[int]]:
    """Staged file -> row numbers to drop (already committed, or a later copy of a staged row)."""
    if not staged:
        return {}
    hive = "hive_partitioning = true, hive_types = {'eventDate': DATE}"
    staged_rows = (
        f"SELECT eventDate, eventID, sourceFile, filename, file_row_number FROM read_parquet($staged, {hive}, "
        "filename = true, file_row_number = true)"
    )
    within = f"""
        WITH s AS ({staged_rows}),
        repeated AS (SELECT eventDate, eventID FROM s GROUP BY eventDate, eventID HAVING count(*) > 1)
        SELECT filename, file_row_number FROM (
            SELECT filename, file_row_number, row_number() OVER (
                PARTITION BY eventDate, eventID ORDER BY sourceFile, filename, file_row_number) AS copy
            FROM s SEMI JOIN repeated USING (eventDate, eventID))
        WHERE copy > 1"""
    parameters: dict[str, object] = {"staged": [f.path for f in staged]}
    query = within
    if existing:
        query += f"""
        UNION
        SELECT filename, file_row_number FROM ({staged_rows}) s
        SEMI JOIN (SELECT eventDate, eventID FROM read_parquet($existing, {hive})) e USING (eventDate, eventID)"""
        parameters["existing"] = existing
    drops: dict[str, list[int]] = defaultdict(list)
    for filename, row in connection.execute(query, parameters).fetchall():
        drops[filename].append(row)
    return {name: sorted(rows) for name, rows in drops.items()}


def _filter_rows(path: str, drop: list[int]) -> int:
    """Rewrite ``path`` without the rows at ``drop`` (sorted), streaming; returns the rows kept."""
    temporary = f"{path}.dedup"
    drop_set = set(drop)
    kept = 0
    offset = 0
    with pq.ParquetFile(path) as source, pq.ParquetWriter(temporary, EVENTS_SCHEMA, **PARQUET_OPTIONS) as sink:
        for batch in source.iter_batches(batch_size=ROW_GROUP_ROWS):
            mask = pa.array([offset + i not in drop_set for i in range(batch.num_rows)])
            offset += batch.num_rows
            batch = batch.filter(mask)
            kept += batch.num_rows
            if batch.num_rows:
                sink.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
    os.replace(temporary, path)
    return kept


def _compact(warehouse: Warehouse, files: list[DataFile], tag: str) -> list[DataFile]:
    """Merge ``files`` (one date) into files of at most TARGET_ROWS rows, streaming."""
    date = files[0].date
    directory = warehouse.events_dir / f"{PARTITION_COLUMN}={date}"
    out: list[DataFile] = []
    writer: pq.ParquetWriter | None = None
    path: Path | None = None
    rows = 0

    def finish() -> None:
        assert writer is not None and path is not None
        writer.close()
        out.append(DataFile(warehouse.relative(path), date, rows, path.stat().st_size))

    for data_file in files:
        with pq.ParquetFile(warehouse.path(data_file.path)) as source:
            for batch in source.iter_batches(batch_size=ROW_GROUP_ROWS):
                if writer is None or rows + batch.num_rows > TARGET_ROWS:
                    if writer is not None:
                        finish()
                    path = directory / f"part-{tag}-c{len(out):03d}.parquet"
                    writer = pq.ParquetWriter(path, EVENTS_SCHEMA, **PARQUET_OPTIONS)
                    rows = 0
                writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
                rows += batch.num_rows
    if writer is not None:
        finish()
    return out


def commit_batch(
    warehouse: Warehouse,
    snapshot: Snapshot,
    staged: list[StagedFile],
    *,
    sources_part: pa.Table,
    quarantine_parts: list[str],
    connection: duckdb.DuckDBPyConnection,
) -> tuple[Snapshot, CommitStats]:
    """Deduplicate ``staged`` against ``snapshot`` and itself, put it in place and commit the result."""
    dates = {f.date for f in staged}
    existing = [str(warehouse.path(f.path)) for f in snapshot.files_for(dates)]
    drops = duplicates(connection, staged, existing)
    tag = uuid.uuid4().hex[:12]
    added: list[DataFile] = []
    dropped = 0
    for number, staged_file in enumerate(staged):
        rows = staged_file.rows
        if staged_file.path in drops:
            dropped += len(drops[staged_file.path])
            rows = _filter_rows(staged_file.path, drops[staged_file.path])
        if rows == 0:
            os.unlink(staged_file.path)
            continue
        target = warehouse.events_dir / f"{PARTITION_COLUMN}={staged_file.date}" / f"part-{tag}-{number:05d}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged_file.path, target)
        added.append(DataFile(warehouse.relative(target), staged_file.date, rows, target.stat().st_size))

    files = list(snapshot.files) + added
    removed: set[str] = set()
    compacted = 0
    by_date: dict[str, list[DataFile]] = defaultdict(list)
    for data_file in files:
        if data_file.date in dates and data_file.rows < SMALL_ROWS:
            by_date[data_file.date].append(data_file)
    for date, small in sorted(by_date.items()):
        if len(small) > MAX_SMALL_FILES:
            merged = _compact(warehouse, small, tag)
            removed.update(f.path for f in small)
            files.extend(merged)
            compacted += len(small)
    files = sorted((f for f in files if f.path not in removed), key=lambda f: (f.date, f.path))

    new_sources = list(snapshot.sources)
    if sources_part.num_rows:
        relative = f"_trailsmith/sources/part-{tag}.parquet"
        pq.write_table(sources_part, warehouse.path(relative), compression="zstd")
        new_sources.append(relative)
    new_quarantine = list(snapshot.quarantine)
    for number, part in enumerate(quarantine_parts):
        relative = f"quarantine/index/part-{tag}-{number:03d}.parquet"
        warehouse.path(relative).parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, warehouse.path(relative))
        new_quarantine.append(relative)

    committed = warehouse.commit(
        replace(snapshot, files=tuple(files), sources=tuple(new_sources), quarantine=tuple(new_quarantine))
    )
    for path in removed:  # after the commit: until then the old files are the truth
        warehouse.path(path).unlink(missing_ok=True)
    rows_added = sum(f.rows for f in added)
    return committed, CommitStats(committed.version, rows_added, dropped, len(added), compacted)
