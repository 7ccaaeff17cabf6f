"""``trailsmith verify``: find every damaged file of the latest snapshot, and with ``repair`` set it aside.

Each file the snapshot names is checked in full: in the warehouse's layout and inside it, present, the
size and SHA-256 its commit recorded, a Parquet file with the expected schema (and row count, for the
events). Files committed before checksums were recorded are read to the end instead.

Repair sets the damage aside, as quarantine does with bad input, and makes the lost events come back with
the next ingest: an events file cannot be traced to the source files its rows came from (compaction folds
the rows of earlier commits of the same day into it), but a CloudTrail file's S3 key carries the day it was
delivered (``.../CloudTrail/<region>/YYYY/MM/DD/...``), and events reach a file within minutes of
happening. So repair forgets, in the ``sources`` index, every ingested source file delivered the day
before, on or after a damaged day, and every one whose key carries no day: the next ``trailsmith ingest``
of the same sources reads them again, and its deduplication drops the events still stored. Damaged files
move to
``_trailsmith/damaged/NNNNNNNN-<time>-<pid>/`` (never deleted, and nothing outside the warehouse is
touched), and a new snapshot without them is committed, under the write lock, the way an ingest commits.
A snapshot that cannot be parsed moves there too, with the files only it named, which rolls the warehouse
back to the previous snapshot: the next ingest of the same sources reads their source files again.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trailsmith.warehouse import quarantine
from trailsmith.warehouse.integrity import Inspector, layout_problem, sha256
from trailsmith.warehouse.schema import EVENTS_SCHEMA, SOURCES_SCHEMA
from trailsmith.warehouse.store import Part, Snapshot, Warehouse, unreadable

#: The schema each kind of file must have.
SCHEMAS: dict[str, pa.Schema] = {
    "events": EVENTS_SCHEMA,
    "sources": SOURCES_SCHEMA,
    "quarantine": quarantine.SCHEMA,
}


NAMED_TWICE = "is named twice by the snapshot"


@dataclass(frozen=True)
class Damage:
    """One damaged file: ``kind`` is events, sources, quarantine or snapshot."""

    kind: str
    path: str
    problem: str
    rows: int | None = None  # rows the snapshot recorded for it (events files)


@dataclass
class Report:
    """What ``verify`` found in one snapshot, and what ``repair`` did about it."""

    warehouse: str
    version: int = 0
    checked: int = 0
    unverified: int = 0  # files committed without a checksum (older versions), read to the end instead
    damage: list[Damage] = field(default_factory=list)
    set_aside: list[str] = field(default_factory=list)  # warehouse-relative, where each damaged file went
    left: list[str] = field(default_factory=list)  # damaged paths dropped from the snapshot but not moved
    rows_lost: int = 0
    #: ingested source files the sources index forgot, so that the next ingest reads them again
    forgotten: int = 0
    repaired: bool = False
    repaired_version: int | None = None  # the snapshot repair committed (None: it needed none)
    rolled_back_to: int | None = None  # the snapshot repair fell back to, when the latest was unreadable

    @property
    def healthy(self) -> bool:
        """Whether the warehouse is sound now: nothing was damaged, or repair set the damage aside."""
        return not self.damage or self.repaired


def verify(root: str | os.PathLike[str]) -> Report:
    """Check every file of the latest snapshot of the warehouse at ``root``; nothing is changed."""
    warehouse = Warehouse(root)
    warehouse.require()
    report = Report(str(warehouse.root))
    snapshot = _latest(warehouse, report)
    if snapshot is not None:
        _inspect(warehouse, snapshot, report)
    return report


def repair(root: str | os.PathLike[str]) -> Report:
    """Verify, then set every damaged file aside and commit a snapshot without it (see the module)."""
    warehouse = Warehouse(root)
    warehouse.require()
    report = Report(str(warehouse.root))
    with warehouse.lock():
        snapshot = _roll_back(warehouse, report)
        _inspect(warehouse, snapshot, report)
        report.repaired = True
        files = [d for d in report.damage if d.kind != "snapshot"]
        if not files:
            return report
        damaged = {d.path for d in files if d.problem != NAMED_TWICE}
        aside = _aside(warehouse, snapshot.version)
        for damage in files:
            if damage.problem == NAMED_TWICE:
                continue  # the first mention stays, unless it is damaged too
            if layout_problem(damage.kind, damage.path):
                report.left.append(
                    f"{damage.path} (not a file of the warehouse: only dropped from the snapshot)"
                )
            else:
                _move(warehouse, damage.path, aside, report)
        unique = {f.path: f for f in reversed(snapshot.files)}  # the first mention of each path
        report.rows_lost = sum(f.rows for f in unique.values() if f.path in damaged)
        kept = replace(
            snapshot,
            files=tuple(f for f in snapshot.files if f.path not in damaged and unique[f.path] is f),
            sources=tuple(dict.fromkeys(p for p in snapshot.sources if p not in damaged)),
            quarantine=tuple(dict.fromkeys(p for p in snapshot.quarantine if p not in damaged)),
            parts=tuple(p for p in snapshot.parts if p.path not in damaged),
        )
        days = {unique[path].date for path in damaged if path in unique}
        if days:
            kept = _forget_sources(warehouse, kept, days, snapshot.version, report)
        report.repaired_version = warehouse.commit(kept).version
    return report


#: The delivery day in a CloudTrail S3 key: ``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>``.
_DELIVERED = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/[^/]*$")


def _near(uri: str, days: set[date]) -> bool:
    """Whether the source file ``uri`` may hold events of one of ``days``: delivered the day before, on or
    after one of them, or with no delivery day in its key (then it may hold anything).

    >>> key = "s3://b/AWSLogs/1/CloudTrail/us-east-1/2024/08/02/1_CloudTrail_us-east-1_20240802T0005Z.json.gz"
    >>> _near(key, {date(2024, 8, 1)}), _near(key, {date(2024, 8, 5)}), _near("a.json.gz", {date(2024, 8, 5)})
    (True, False, True)
    """
    found = _DELIVERED.search(uri)
    if found is None:
        return True
    try:
        delivered = date(*(int(part) for part in found.groups()))
    except ValueError:
        return True
    return any(abs((delivered - day).days) <= 1 for day in days)


def _forget_sources(
    warehouse: Warehouse, snapshot: Snapshot, dates: set[str], version: int, report: Report
) -> Snapshot:
    """``snapshot`` with the sources index rewritten without the ingested files that may hold events of the
    damaged ``dates`` (see the module), so that the next ingest reads them again."""
    days = {date.fromisoformat(d) for d in dates}
    sources = list(snapshot.sources)
    parts = [p for p in snapshot.parts if p.path not in snapshot.sources]
    for index, relative in enumerate(snapshot.sources):
        table = pq.read_table(warehouse.path(relative), schema=SOURCES_SCHEMA)
        uris = table.column("uri").to_pylist()
        statuses = table.column("status").to_pylist()
        forget = [
            status == "ingested" and _near(uri, days) for uri, status in zip(uris, statuses, strict=True)
        ]
        recorded = next((p for p in snapshot.parts if p.path == relative), None)
        if not any(forget):
            if recorded is not None:
                parts.append(recorded)
            continue
        report.forgotten += sum(forget)
        rewritten = f"_trailsmith/sources/part-repair-{version:08d}-{os.getpid()}-{index:04d}.parquet"
        pq.write_table(
            table.filter(pa.array([not f for f in forget])), warehouse.path(rewritten), compression="zstd"
        )
        path = warehouse.path(rewritten)
        parts.append(Part(rewritten, path.stat().st_size, sha256(path)))
        sources[index] = rewritten
    return replace(snapshot, sources=tuple(sources), parts=tuple(parts))


def _latest(warehouse: Warehouse, report: Report) -> Snapshot | None:
    """The latest snapshot as recorded; None, with the damage in ``report``, when it cannot be parsed."""
    versions = warehouse.versions()
    if not versions:
        return Snapshot()
    path = warehouse.snapshot_path(versions[-1])
    try:
        return Snapshot.from_json(path.read_bytes())
    except (OSError, ValueError) as exc:  # msgspec's errors are ValueErrors
        report.damage.append(Damage("snapshot", warehouse.relative(path), unreadable(exc)))
        return None


def _roll_back(warehouse: Warehouse, report: Report) -> Snapshot:
    """Set unparsable latest snapshots aside until one parses, and the files only they named; that one."""
    bad: int | None = None
    while (snapshot := _latest(warehouse, report)) is None:
        bad = warehouse.versions()[-1]
        _move(warehouse, report.damage[-1].path, _aside(warehouse, bad), report)
    if bad is not None:
        report.rolled_back_to = snapshot.version
        for path in warehouse.unreferenced(snapshot):
            _move(warehouse, warehouse.relative(path), _aside(warehouse, bad), report)
    return snapshot


def _aside(warehouse: Warehouse, version: int) -> Path:
    """Where one repair puts what it sets aside: named by the snapshot and the repair, never reused."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return warehouse.meta / "damaged" / f"{version:08d}-{stamp}-{os.getpid()}"


def _move(warehouse: Warehouse, relative: str, aside: Path, report: Report) -> None:
    """Move ``relative`` (in the layout) to the same path under ``aside``; if a folder on its way is a
    symlink, move that link instead, so nothing outside the warehouse is touched."""
    names = relative.split("/")
    source = warehouse.root
    for depth, name in enumerate(names, 1):
        source = source / name
        if depth == len(names) or source.is_symlink():
            break
    try:
        os.lstat(source)
    except FileNotFoundError:
        return  # missing: nothing to keep
    except OSError:
        pass  # unreadable: the move below says why, if it fails too
    target = aside / warehouse.relative(source)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
    except OSError as exc:
        report.left.append(f"{relative} (cannot be moved: {exc.strerror or exc}; dropped from the snapshot)")
        return
    report.set_aside.append(warehouse.relative(target))


def _inspect(warehouse: Warehouse, snapshot: Snapshot, report: Report) -> None:
    """Add the damage of every file ``snapshot`` names to ``report``."""
    report.version = snapshot.version
    rows = {f.path: f.rows for f in snapshot.files}
    layout = {p.path: p.what for p in snapshot.layout_problems()}
    inspector = Inspector(warehouse.root)
    seen: set[str] = set()
    for kind, path, size, digest in snapshot.named():
        if path in seen:  # read twice by every query
            report.damage.append(Damage(kind, path, NAMED_TWICE))
            continue
        seen.add(path)
        report.checked += 1
        report.unverified += digest is None
        what = (
            layout.get(path)
            or inspector.disk_problem(path, size)
            or inspector.checksum_problem(path, digest)
            or _content_problem(warehouse, kind, path, rows.get(path), read_all=digest is None)
        )
        if what:
            report.damage.append(Damage(kind, path, what, rows.get(path)))


def _content_problem(
    warehouse: Warehouse, kind: str, path: str, rows: int | None, *, read_all: bool
) -> str | None:
    """Why the file is not readable Parquet of its kind's schema (and recorded row count); None when it is."""
    try:
        parquet = pq.ParquetFile(warehouse.path(path))
        if not _same_schema(parquet.schema_arrow, SCHEMAS[kind]):
            return f"has not the schema of the {kind} table"
        if rows is not None and parquet.metadata.num_rows != rows:
            return f"holds {parquet.metadata.num_rows} rows, the commit wrote {rows}"
        if read_all:
            for _ in parquet.iter_batches(batch_size=64 * 1024):
                pass
    except (OSError, pa.ArrowException) as exc:
        return "is not readable Parquet (" + " ".join(str(exc).split()) + ")"
    return None


def _same_schema(found: pa.Schema, expected: pa.Schema) -> bool:
    """Same column names and types, list item names and nullability aside (Spark writes those its own way)."""
    return found.names == expected.names and all(
        _same_type(a.type, b.type) for a, b in zip(found, expected, strict=True)
    )


def _same_type(found: pa.DataType, expected: pa.DataType) -> bool:
    if pa.types.is_list(found) and pa.types.is_list(expected):
        return _same_type(found.value_type, expected.value_type)
    if pa.types.is_struct(found) and pa.types.is_struct(expected):
        return [f.name for f in found] == [f.name for f in expected] and all(
            _same_type(a.type, b.type) for a, b in zip(found, expected, strict=True)
        )
    return bool(found == expected)
