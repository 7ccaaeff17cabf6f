"""``ingest``: CloudTrail files -> the Parquet warehouse, exactly once.

The run, under the warehouse's write lock:

1. recover: delete whatever a killed run left (see :meth:`Warehouse.recover`);
2. list the sources; files already read (same URI and fingerprint) are skipped, digest and Insights files
   and non-log names are counted and skipped;
3. sort the new files by the date in their path, so that a batch touches few date partitions, and cut them
   into batches (``batch_bytes``); each batch is read by the worker pool straight into Parquet files of the
   final format, then deduplicated and committed atomically (:mod:`trailsmith.warehouse.commit`), together
   with the list of files it read. A killed run
   loses at most the batch in progress, and the next run redoes exactly that.

Steps 1 to 3 are :func:`run`, which the Spark engine shares (:mod:`trailsmith.spark.ingest`); only how a
batch is read and written differs.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trailsmith.errors import BadInputError
from trailsmith.ingestion import sources as sources_module
from trailsmith.ingestion.entry import DIGEST, LOG, OTHER, SourceEntry
from trailsmith.ingestion.pool import Pool
from trailsmith.ingestion.worker import FileOutcome, TaskResult, WorkerOptions, release_memory
from trailsmith.warehouse.commit import SMALL_FILES, commit, duplicates, open_duckdb, plan
from trailsmith.warehouse.schema import SOURCES_SCHEMA
from trailsmith.warehouse.store import Snapshot, Warehouse, default_path

#: Compressed input per commit: bounds the staging disk space (about half this: the batch's final Parquet
#: files) and the work a crash loses.
DEFAULT_BATCH_BYTES = 256 * 1024 * 1024
_TASK_BYTES = 8 * 1024 * 1024
_TASK_FILES = 1024
#: The ``skipped`` count of CloudWatch Logs control messages (health checks inside subscription envelopes).
CONTROL_MESSAGE = "control-message"


class Progress(Protocol):
    """What the ingest reports while it runs (the CLI draws it; the library stays silent by default)."""

    def start(self, files: int, bytes: int) -> None: ...

    def advance(self, files: int, bytes: int, events: int) -> None: ...

    def status(self, message: str) -> None: ...


class Silent:
    def start(self, files: int, bytes: int) -> None:
        pass

    def advance(self, files: int, bytes: int, events: int) -> None:
        pass

    def status(self, message: str) -> None:
        pass


@dataclass
class IngestReport:
    """The summary of one ingest run."""

    warehouse: str
    files_listed: int = 0
    files_read: int = 0
    files_already_ingested: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # digest / insight / other, by name or content
    skipped_names: list[str] = field(default_factory=list)  # a sample of the "other" names
    quarantined_files: list[tuple[str, str]] = field(default_factory=list)
    quarantined_records: list[tuple[str, int, str]] = field(default_factory=list)
    bytes_read: int = 0
    events_read: int = 0
    events_new: int = 0
    events_duplicate: int = 0
    insight_records: int = 0
    time_from_timestamp: int = 0
    #: events read, by the form of the file they came in (``records``, ``lines``, ``eventbridge`` ...)
    events_by_form: dict[str, int] = field(default_factory=dict)
    not_carried: list[str] = field(default_factory=list)  # CloudTrail fields a Security Lake copy lacked
    #: files decoded, by decoder: ``compiled`` (the C extension) or ``python`` (see ingestion.compiled)
    files_by_decoder: dict[str, int] = field(default_factory=dict)
    commits: int = 0
    version: int = 0
    seconds: float = 0.0
    recovered: int = 0

    @property
    def quarantined(self) -> int:
        return len(self.quarantined_files) + len(self.quarantined_records)


#: Reads, deduplicates and commits one batch of new files on top of a snapshot; returns the new snapshot.
BatchIngest = Callable[[Snapshot, list[SourceEntry], int], Snapshot]
#: Starts an engine's workers for (warehouse, new files, report, progress); gives its :data:`BatchIngest`.
OpenEngine = Callable[
    [Warehouse, list[SourceEntry], IngestReport, Progress], AbstractContextManager[BatchIngest]
]


def run(
    sources: Sequence[str],
    warehouse: str | os.PathLike[str] | None,
    open_engine: Callable[
        [Warehouse, list[SourceEntry], IngestReport, Progress], AbstractContextManager[BatchIngest]
    ],
    *,
    progress: Progress | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> IngestReport:
    """The ingest's driver, the same for every engine: lock, recover, list, skip what was read, batch.

    ``open_engine(warehouse, new files, report, progress)`` starts the engine's workers (only when there is
    something new to read) and gives the function that ingests one batch; each batch is committed before
    the next is read.
    """
    started = time.perf_counter()
    progress = progress or Silent()
    target = Warehouse(warehouse if warehouse is not None else default_path())
    target.create()
    report = IngestReport(str(target.root))
    with target.lock():
        report.recovered = len(target.recover().removed)
        snapshot = target.snapshot()
        progress.status("listing sources")
        listed = sources_module.expand(sources, exclude=target.root)
        todo = new_files(target, listed, snapshot.sources, report)
        progress.start(len(todo), sum(e.size for e in todo))
        if todo:
            with open_engine(target, todo, report, progress) as ingest_batch:
                for number, batch in enumerate(batches(todo, batch_bytes)):
                    snapshot = ingest_batch(snapshot, batch, number)
        report.version = snapshot.version
    report.quarantined_files.sort()
    report.quarantined_records.sort()
    report.seconds = time.perf_counter() - started
    return report


def ingest(
    sources: Sequence[str],
    warehouse: str | os.PathLike[str] | None = None,
    *,
    workers: int | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> IngestReport:
    """Ingest CloudTrail files into a warehouse; see the module docstring.

    ``sources``: files, directories, globs and ``s3://bucket/prefix`` URIs. ``workers`` defaults to the
    number of CPUs. With ``strict``, any bad file or record stops the run (:class:`BadInputError`) before the
    batch holding it is committed.
    """
    threads = max(1, workers or os.cpu_count() or 1)

    @contextlib.contextmanager
    def open_pool(
        target: Warehouse, todo: list[SourceEntry], report: IngestReport, progress: Progress
    ) -> Iterator[BatchIngest]:
        with Pool(min(threads, len(todo))) as pool:
            yield functools.partial(_ingest_batch, pool, target, report, progress, strict, threads)

    return run(sources, warehouse, open_pool, progress=progress, batch_bytes=batch_bytes)


def _ingest_batch(
    pool: Pool,
    target: Warehouse,
    report: IngestReport,
    progress: Progress,
    strict: bool,
    threads: int,
    snapshot: Snapshot,
    batch: list[SourceEntry],
    number: int,
) -> Snapshot:
    """Read one batch with the worker pool, deduplicate it in DuckDB, and commit it (rewriting only the
    files that hold a duplicate, and a date's small files once it has too many: see commit.plan)."""
    staging = target.staging_dir / f"batch-{number:05d}"
    tag = commit_tag(snapshot)
    pool.begin(
        [
            WorkerOptions(
                staging=str(staging),
                quarantine_files=str(target.quarantine_dir / "files"),
                warehouse_root=str(target.root),
                prefix=f"part-{tag}",
                worker_id=worker_id,
            )
            for worker_id in range(pool.size)
        ]
    )
    outcomes, problems = collect(pool.run(tasks(batch)), report, progress)
    flushed = pool.flush()
    if strict:
        refuse(problems)
    progress.status(f"deduplicating batch {number + 1}")
    staged = [staged for f in flushed for staged in f.data]
    existing = [str(target.path(f.path)) for f in snapshot.files_for({f.date for f in staged})]
    # A connection per batch: DuckDB keeps the buffers of a finished query (100+ MB measured on the
    # 4M-event benchmark) until it is closed.
    with closing(open_duckdb(target, threads=threads)) as connection:
        drops = duplicates(connection, staged, existing)
    release_memory()
    todo = plan(target, snapshot, staged, drops, tag, small_files=max(SMALL_FILES, 2 * pool.size))
    if todo.tasks:
        progress.status(f"writing batch {number + 1}")
    written = [final for files in pool.finalize(todo.tasks) for final in files]
    snapshot, stats = commit(
        target,
        snapshot,
        todo.kept + written,
        todo.replaced,
        sources_part=sources_table(outcomes),
        quarantine_parts=[f.quarantine for f in flushed if f.quarantine],
        tag=tag,
    )
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(target.staging_dir / f"final-{tag}", ignore_errors=True)
    report.events_new += stats.rows_added
    report.events_duplicate += sum(len(rows) for rows in drops.values())
    report.commits += 1
    return snapshot


def collect(
    results: Iterable[TaskResult], report: IngestReport, progress: Progress
) -> tuple[list[FileOutcome], list[tuple[str, int | None, str]]]:
    """Fold the tasks' results into the report as they come; the per-file outcomes and the problems."""
    outcomes: list[FileOutcome] = []
    problems: list[tuple[str, int | None, str]] = []
    for result in results:
        absorb(result, report, outcomes, problems)
        progress.advance(len(result.files), sum(f.size for f in result.files), result.events)
    return outcomes, problems


def refuse(problems: list[tuple[str, int | None, str]]) -> None:
    """``strict``: stop at any bad input, before anything of the batch is committed."""
    if problems:
        raise BadInputError(sorted(problems, key=lambda p: (p[0], -1 if p[1] is None else p[1])))


def commit_tag(snapshot: Snapshot) -> str:
    """A name for the files of the commit after ``snapshot``, unique even across concurrent failed runs."""
    return f"{snapshot.version + 1:08d}-{uuid.uuid4().hex[:8]}"


def new_files(
    target: Warehouse, entries: Iterable[SourceEntry], known_parts: Sequence[str], report: IngestReport
) -> list[SourceEntry]:
    """Log files not read before, sorted by (date in path, URI); counts what is skipped."""
    known: set[tuple[str, str]] = set()
    for part in known_parts:
        table = pq.read_table(target.path(part), columns=["uri", "fingerprint", "status"])
        readable = pc.not_equal(table.column("status"), "unreadable")
        table = table.filter(readable)
        known.update(
            zip(table.column("uri").to_pylist(), table.column("fingerprint").to_pylist(), strict=True)
        )
    todo: list[SourceEntry] = []
    for entry in entries:
        report.files_listed += 1
        if entry.kind != LOG:
            report.skipped[entry.kind] = report.skipped.get(entry.kind, 0) + 1
            if entry.kind == OTHER and len(report.skipped_names) < 20:
                report.skipped_names.append(entry.uri)
        elif (entry.uri, entry.fingerprint) in known:
            report.files_already_ingested += 1
        else:
            todo.append(entry)
    todo.sort(key=lambda e: (e.path_date, e.uri))
    return todo


def batches(entries: list[SourceEntry], batch_bytes: int) -> Iterator[list[SourceEntry]]:
    batch: list[SourceEntry] = []
    size = 0
    for entry in entries:
        if batch and size + entry.size > batch_bytes:
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry.size
    if batch:
        yield batch


def tasks(entries: list[SourceEntry]) -> Iterator[list[SourceEntry]]:
    """A worker's units of work: runs of files up to ``_TASK_BYTES`` or ``_TASK_FILES``, cut where a folder
    ends once they hold a quarter of that, so that a folder's files are read by one worker whenever it is
    not too large: a redelivered file then meets its first copy there (see :mod:`.copies`)."""
    task: list[SourceEntry] = []
    size = 0
    folder = ""
    for entry in entries:
        here = entry.uri.rsplit("/", 1)[0]
        if task and (
            size + entry.size > _TASK_BYTES
            or len(task) >= _TASK_FILES
            or (here != folder and (4 * size >= _TASK_BYTES or 4 * len(task) >= _TASK_FILES))
        ):
            yield task
            task, size = [], 0
        task.append(entry)
        size += entry.size
        folder = here
    if task:
        yield task


def absorb(
    result: TaskResult,
    report: IngestReport,
    outcomes: list[FileOutcome],
    problems: list[tuple[str, int | None, str]],
) -> None:
    outcomes.extend(result.files)
    problems.extend(result.problems)
    report.bytes_read += result.bytes_read
    report.events_read += result.events
    report.events_duplicate += result.duplicates
    report.insight_records += result.insight_records
    report.time_from_timestamp += result.time_from_timestamp
    for form, count in result.events_by_form.items():
        report.events_by_form[form] = report.events_by_form.get(form, 0) + count
    for decoder, count in result.decoders.items():
        report.files_by_decoder[decoder] = report.files_by_decoder.get(decoder, 0) + count
    if result.control_messages:
        report.skipped[CONTROL_MESSAGE] = report.skipped.get(CONTROL_MESSAGE, 0) + result.control_messages
    report.not_carried = sorted(set(report.not_carried) | result.not_carried)
    for outcome in result.files:
        if outcome.status == "digest":
            report.skipped[DIGEST] = report.skipped.get(DIGEST, 0) + 1
        else:
            report.files_read += 1
    for source, index, reason in result.problems:
        if index is None:
            report.quarantined_files.append((source, reason))
        else:
            report.quarantined_records.append((source, index, reason))


def sources_table(outcomes: list[FileOutcome]) -> pa.Table:
    return pa.table(
        [
            pa.array([o.uri for o in outcomes], pa.string()),
            pa.array([o.size for o in outcomes], pa.int64()),
            pa.array([o.fingerprint for o in outcomes], pa.string()),
            pa.array([o.status for o in outcomes], pa.string()),
            pa.array([o.events for o in outcomes], pa.int64()),
            pa.array([o.bad_records for o in outcomes], pa.int64()),
            pa.array([o.reason for o in outcomes], pa.string()),
        ],
        schema=SOURCES_SCHEMA,
    )
