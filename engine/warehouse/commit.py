"""Between the two worker phases, and after them: deduplicate, plan the rewrites, commit atomically.

Duplicates are found from the staged files' ``eventID`` and ``sourceFile`` columns alone (a cheap DuckDB
scan that spills to disk if it must), never by loading rows: a staged row is left out when its
``(eventDate, eventID)`` is already committed, or when another staged row has it and comes first in
``(sourceFile, file, row)`` order, so the choice is deterministic.

Staged files are written in the final format, so a file with nothing to leave out is committed as it is
(moved, never rewritten); one that holds a duplicate is written again without it. Small files are the
price of writing once: each commit adds a file per worker for each date it touches. So a date may hold
up to ``SMALL_FILES`` files under ``SMALL_ROWS`` rows (more with many workers, see :func:`plan`); a commit
that would leave more folds them all into large ones.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from trailsmith.errors import WarehouseError
from trailsmith.warehouse.integrity import Inspector, Problem, sha256
from trailsmith.warehouse.schema import PARTITION_COLUMN
from trailsmith.warehouse.staging import FinalFile, FinalizeTask
from trailsmith.warehouse.store import DataFile, Part, Snapshot, Warehouse

if TYPE_CHECKING:
    import duckdb

#: Files under this many rows are small: see SMALL_FILES.
SMALL_ROWS = 512 * 1024
#: Small files a date may hold; a commit that would leave more rewrites them together into large files.
#: Each rewrite folds in a row at most once per SMALL_FILES commits touching its date (and rows never
#: once a date's files are large), against once per commit when every commit merged a date's small files.
SMALL_FILES = 8


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
    connection: duckdb.DuckDBPyConnection, staged: list[FinalFile], existing: list[str]
) -> dict[str, list[int]]:
    """Staged file -> sorted row numbers to leave out (already committed, or a later copy of a staged row)."""
    import duckdb  # as in open_duckdb: the connection exists, so this costs nothing

    if not staged:
        return {}
    hive = "hive_partitioning = true, hive_types = {'eventDate': DATE}"
    staged_rows = (
        "SELECT eventDate, eventID, sourceFile, filename, file_row_number FROM read_parquet($staged, "
        f"{hive}, filename = true, file_row_number = true)"
    )  # the staged files' two id columns: a small part of their bytes
    # Candidates first, by a 64-bit hash of the eventID (grouping a million of them costs a third of
    # grouping the strings, measured); the copies are then told apart by the eventID itself.
    query = f"""
        WITH s AS ({staged_rows}),
        repeated AS (
            SELECT eventDate, hash(eventID) AS h FROM read_parquet($staged, {hive})
            WHERE eventID IS NOT NULL GROUP BY ALL HAVING count(*) > 1)
        SELECT filename, file_row_number FROM (
            SELECT filename, file_row_number, row_number() OVER (
                PARTITION BY eventDate, eventID ORDER BY sourceFile, filename, file_row_number) AS copy
            FROM s SEMI JOIN repeated ON s.eventDate = repeated.eventDate AND hash(s.eventID) = repeated.h)
        WHERE copy > 1"""
    parameters: dict[str, object] = {"staged": [f.path for f in staged]}
    if existing:
        query += f"""
        UNION
        SELECT filename, file_row_number FROM ({staged_rows}) s
        SEMI JOIN (SELECT eventDate, eventID FROM read_parquet($existing, {hive})) e
            USING (eventDate, eventID)"""
        parameters["existing"] = existing
    drops: dict[str, list[int]] = defaultdict(list)
    try:
        found = connection.execute(query, parameters).fetchall()
    except duckdb.Error as exc:  # the committed files passed the size check, yet their bytes are damaged
        root = Path(existing[0]).parents[2] if existing else Path(staged[0].path).parent
        raise WarehouseError(
            str(root),
            "cannot read the eventIDs of the days this ingest adds to (" + " ".join(str(exc).split()) + ")",
            hint=f"Run 'trailsmith verify --warehouse {root}' to find the damaged file",
        ) from None
    for filename, row in found:
        drops[filename].append(row)
    return {name: sorted(rows) for name, rows in drops.items()}


@dataclass(frozen=True)
class Plan:
    """What a batch's commit does with its staged files."""

    kept: list[FinalFile]  # staged files committed as they are
    tasks: list[FinalizeTask]  # files the workers write again (see FinalizeTask)
    replaced: list[DataFile]  # committed files those tasks fold in, deleted after the commit


def plan(
    warehouse: Warehouse,
    snapshot: Snapshot,
    staged: list[FinalFile],
    drops: dict[str, list[int]],
    tag: str,
    *,
    small_files: int = SMALL_FILES,
) -> Plan:
    """Which staged files are committed as written, and which the workers write again (see module doc).

    Per date: a staged file with rows to leave out is rewritten without them (dropped whole when nothing
    is left); when the date's small files, committed and new, would number more than ``small_files``
    (the ingest passes at least two per worker, as each worker writes its own), they are all rewritten
    together, with the committed ones replaced. Every other staged file is kept.
    """
    by_date: dict[str, list[FinalFile]] = defaultdict(list)
    for staged_file in staged:
        by_date[staged_file.date].append(staged_file)
    kept: list[FinalFile] = []
    tasks: list[FinalizeTask] = []
    replaced: list[DataFile] = []
    for date in sorted(by_date):
        new = [
            (f, drops.get(f.path, []))
            for f in sorted(by_date[date], key=lambda f: f.path)
            if f.rows > len(drops.get(f.path, ()))
        ]
        if not new:
            continue  # nothing new for this date: leave its files alone
        small_committed = [f for f in snapshot.files_for({date}) if f.rows < SMALL_ROWS]
        small_new = {f.path for f, rows in new if f.rows - len(rows) < SMALL_ROWS}
        fold = len(small_committed) + len(small_new) > small_files
        merge = small_committed if fold else []
        rewrite = [(f, rows) for f, rows in new if rows or (fold and f.path in small_new)]
        rewritten = {f.path for f, _ in rewrite}
        kept += [f for f, _ in new if f.path not in rewritten]
        if not rewrite:
            continue
        _check(warehouse, snapshot, merge, [])  # before the workers fold them into new files
        replaced.extend(merge)
        tasks.append(
            FinalizeTask(
                date=date,
                directory=str(warehouse.staging_dir / f"final-{tag}" / f"{PARTITION_COLUMN}={date}"),
                prefix=f"part-{tag}",
                inputs=[(str(warehouse.path(f.path)), []) for f in merge]
                + [(f.path, rows) for f, rows in rewrite],
            )
        )
    return Plan(kept, tasks, replaced)


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
    """Move ``written`` into place, record the batch's sources and quarantine, and commit the snapshot.

    The files of ``replaced`` were read to write the new ones and are deleted after the commit: first their
    bytes are compared with the SHA-256 their commit recorded, so damaged data is never folded into new
    files in silence (the ingest fails, committing nothing, and names the file). The checksums of the new
    files are computed here, where their bytes were just written and are still in the page cache.
    """
    ordered = sorted(written, key=lambda f: f.path)
    targets = [f"events/{PARTITION_COLUMN}={f.date}/{Path(f.path).name}" for f in ordered]
    sources_target = f"_trailsmith/sources/part-{tag}.parquet"
    quarantine_targets = [
        f"quarantine/index/part-{tag}-{n:03d}.parquet" for n in range(len(quarantine_parts))
    ]
    _check(
        warehouse,
        snapshot,
        replaced,
        [
            *(("events", t) for t in targets),
            ("sources", sources_target),
            *(("quarantine", t) for t in quarantine_targets),
        ],
    )

    added = [
        DataFile(target, final.date, final.rows, final.bytes, _move_in(warehouse, final.path, target).sha256)
        for final, target in zip(ordered, targets, strict=True)
    ]
    gone = {f.path for f in replaced}
    files = sorted([f for f in snapshot.files if f.path not in gone] + added, key=lambda f: (f.date, f.path))
    new_parts = list(snapshot.parts)
    new_sources = list(snapshot.sources)
    if sources_part.num_rows:
        pq.write_table(sources_part, warehouse.path(sources_target), compression="zstd")
        new_sources.append(sources_target)
        new_parts.append(_recorded(warehouse, sources_target))
    new_parts += [
        _move_in(warehouse, p, t) for p, t in zip(quarantine_parts, quarantine_targets, strict=True)
    ]

    committed = warehouse.commit(
        replace(
            snapshot,
            files=tuple(files),
            sources=tuple(new_sources),
            quarantine=(*snapshot.quarantine, *quarantine_targets),
            parts=tuple(new_parts),
        )
    )
    for path in gone:  # after the commit: until then the replaced files are the truth
        warehouse.path(path).unlink(missing_ok=True)
    rows_added = sum(f.rows for f in added) - sum(f.rows for f in replaced)
    return committed, CommitStats(committed.version, rows_added, len(added), len(replaced))


def _check(
    warehouse: Warehouse, snapshot: Snapshot, replaced: list[DataFile], targets: list[tuple[str, str]]
) -> None:
    """Refuse to fold damaged files into new ones, or to write through a folder that leads outside."""
    inspector = Inspector(warehouse.root)
    for data_file in replaced:
        what = inspector.disk_problem(data_file.path, data_file.bytes) or inspector.checksum_problem(
            data_file.path, data_file.sha256
        )
        if what:
            raise warehouse.damaged(snapshot, Problem(data_file.path, what))
    for kind, target in targets:  # (kind, path) of each file about to be written
        if not inspector.owns(kind, target):
            what = "would be written into a folder that leads outside the warehouse (a symlink)"
            raise warehouse.damaged(snapshot, Problem(target, what))


def _move_in(warehouse: Warehouse, source: str, relative: str) -> Part:
    """Move a finished file to its place in the warehouse; its size and checksum, as committed."""
    target = warehouse.path(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    return _recorded(warehouse, relative)


def _recorded(warehouse: Warehouse, relative: str) -> Part:
    path = warehouse.path(relative)
    return Part(relative, path.stat().st_size, sha256(path))
