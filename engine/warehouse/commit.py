"""Between the two worker phases, and after them: deduplicate, plan the final files, commit atomically.

Duplicates are found from the staged ``eventID`` sidecars alone (a cheap DuckDB scan that spills to disk
if it must), never by loading rows: a staged row is left out when its ``(eventDate, eventID)`` is already
committed, or when another staged row has it and comes first in ``(sourceFile, file, row)`` order, so the
choice is deterministic.

"Compact as you go": each date touched by a batch gets its final files rewritten together with the date's
committed files under ``SMALL_ROWS`` rows, so a partition holds large files plus at most one small one.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from trailsmith.warehouse.schema import PARTITION_COLUMN
from trailsmith.warehouse.staging import FinalFile, FinalizeTask, StagedFile, ids_path
from trailsmith.warehouse.store import DataFile, Snapshot, Warehouse

if TYPE_CHECKING:
    import duckdb

#: Committed files under this many rows are merged into the next commit that touches their date.
SMALL_ROWS = 512 * 1024


@dataclass(frozen=True)
class CommitStats:
    version: int
    rows_added: int
    files_written: int
    files_replaced: int


def open_duckdb(
    warehouse: Warehouse, *, threads: int, memory_limit: str = "128MB"
) -> duckdb.DuckDBPyConnection:
    """A private DuckDB for ingest work: bounded memory, spilling into the warehouse's tmp directory."""
    import duckdb  # here, not at module level: worker processes import this module's neighbours only

    warehouse.tmp_dir.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(config={"threads": max(1, threads), "memory_limit": memory_limit})
    # no progress bar: DuckDB draws it on stdout, which belongs to the caller (and to the CLI's pipes)
    connection.execute("SET enable_progress_bar = false")
    connection.execute("SET temp_directory = ?", [str(warehouse.tmp_dir)])
    connection.execute("SET preserve_insertion_order = false")
    return connection


def duplicates(
    connection: duckdb.DuckDBPyConnection, staged: list[StagedFile], existing: list[str]
) -> dict[str, list[int]]:
    """Staged file -> sorted row numbers to leave out (already committed, or a later copy of a staged row)."""
    if not staged:
        return {}
    hive = "hive_partitioning = true, hive_types = {'eventDate': DATE}"
    staged_rows = (
        "SELECT eventDate, eventID, sourceFile, filename, file_row_number FROM read_parquet($staged, "
        f"{hive}, filename = true, file_row_number = true)"
    )
    query = f"""
        WITH s AS ({staged_rows}),
        repeated AS (SELECT eventDate, eventID FROM s GROUP BY eventDate, eventID HAVING count(*) > 1)
        SELECT filename, file_row_number FROM (
            SELECT filename, file_row_number, row_number() OVER (
                PARTITION BY eventDate, eventID ORDER BY sourceFile, filename, file_row_number) AS copy
            FROM s SEMI JOIN repeated USING (eventDate, eventID))
        WHERE copy > 1"""
    sidecars = {ids_path(f.path): f.path for f in staged}
    parameters: dict[str, object] = {"staged": list(sidecars)}
    if existing:
        query += f"""
        UNION
        SELECT filename, file_row_number FROM ({staged_rows}) s
        SEMI JOIN (SELECT eventDate, eventID FROM read_parquet($existing, {hive})) e
            USING (eventDate, eventID)"""
        parameters["existing"] = existing
    drops: dict[str, list[int]] = defaultdict(list)
    for filename, row in connection.execute(query, parameters).fetchall():
        drops[sidecars[filename]].append(row)
    return {name: sorted(rows) for name, rows in drops.items()}


def plan(
    warehouse: Warehouse, snapshot: Snapshot, staged: list[StagedFile], drops: dict[str, list[int]], tag: str
) -> tuple[list[FinalizeTask], list[DataFile]]:
    """One finalize task per date touched, and the committed files those tasks replace."""
    by_date: dict[str, list[StagedFile]] = defaultdict(list)
    for staged_file in staged:
        by_date[staged_file.date].append(staged_file)
    tasks: list[FinalizeTask] = []
    replaced: list[DataFile] = []
    for date in sorted(by_date):
        if all(f.rows == len(drops.get(f.path, ())) for f in by_date[date]):
            continue  # nothing new for this date: leave its files alone
        merge = [f for f in snapshot.files_for({date}) if f.rows < SMALL_ROWS]
        replaced.extend(merge)
        tasks.append(
            FinalizeTask(
                date=date,
                directory=str(warehouse.staging_dir / f"final-{tag}" / f"{PARTITION_COLUMN}={date}"),
                prefix=f"part-{tag}",
                merge=[str(warehouse.path(f.path)) for f in merge],
                staged=[(f.path, drops.get(f.path, [])) for f in sorted(by_date[date], key=lambda f: f.path)],
            )
        )
    return tasks, replaced


def commit(
    warehouse: Warehouse,
    snapshot: Snapshot,
    written: list[FinalFile],
    replaced: list[DataFile],
    *,
    sources_part: pa.Table,
    quarantine_parts: list[str],
    tag: str,
) -> tuple[Snapshot, CommitStats]:
    """Move ``written`` into place, record the batch's sources and quarantine, and commit the snapshot."""
    added: list[DataFile] = []
    for final in sorted(written, key=lambda f: f.path):
        target = warehouse.events_dir / f"{PARTITION_COLUMN}={final.date}" / Path(final.path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(final.path, target)
        added.append(DataFile(warehouse.relative(target), final.date, final.rows, final.bytes))
    gone = {f.path for f in replaced}
    files = sorted([f for f in snapshot.files if f.path not in gone] + added, key=lambda f: (f.date, f.path))

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
    for path in gone:  # after the commit: until then the replaced files are the truth
        warehouse.path(path).unlink(missing_ok=True)
    rows_added = sum(f.rows for f in added) - sum(f.rows for f in replaced)
    return committed, CommitStats(committed.version, rows_added, len(added), len(replaced))
