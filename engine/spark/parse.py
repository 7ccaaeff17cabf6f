"""Executor side of the Spark ingest: the project's own parser inside ``mapInArrow``.

Each input row is one task (a list of files, cut as the DuckDB path cuts them). The same
:class:`~trailsmith.ingestion.worker.Worker` that the DuckDB path runs reads the files (local paths, or ``s3://``
through :class:`trailsmith.ingestion.s3.Fetcher`, so no Hadoop S3 connector is involved), decodes them and
converts the records to Arrow. Its rows are staged as one Parquet file per task (LZ4, no dictionaries: written
once, read once) with ``eventDate`` and ``_row``, their position in the task (file order, then record order:
the deduplication tie-break after ``sourceFile``). Handing the rows to Spark through ``mapInArrow``'s output
instead was measured slower: Spark turns every nested Arrow value into a JVM row before writing it.

What goes back to the driver is small: one row per task whose ``meta`` holds :class:`TaskMeta` (per-file
outcomes, quarantined items, the bytes of bad files, the staged file and its dates). Bad files are stored
by the driver, as the DuckDB path stores them, so executors write nothing into the warehouse but staging.

This module never imports pyspark: it runs in Spark's Python workers, which only need trailsmith.
"""

from __future__ import annotations

import os
import pickle
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trailsmith.ingestion.entry import SourceEntry
from trailsmith.ingestion.worker import FileOutcome, TaskResult, Worker, WorkerOptions
from trailsmith.spark.schema import STAGED_SCHEMA
from trailsmith.warehouse import quarantine

#: The input of :func:`parse_tasks`: one row per task, with the directory its rows are staged in.
ENTRY_TYPE = pa.struct(
    [
        pa.field("uri", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("fingerprint", pa.string()),
        pa.field("kind", pa.string()),
    ]
)
TASKS_SCHEMA = pa.schema(
    [
        pa.field("task", pa.int64()),
        pa.field("staging", pa.string()),
        pa.field("entries", pa.list_(ENTRY_TYPE)),
    ]
)
#: The output of :func:`parse_tasks`, as Spark DDL: one row per task.
META_DDL = "task long, meta binary"


@dataclass
class TaskMeta:
    """What one task did; pickled into the ``meta`` column of its one output row."""

    task: int
    result: TaskResult
    quarantined: list[quarantine.Item] = field(default_factory=list)
    #: URI -> bytes of each file quarantined whole (the driver stores them as the DuckDB path does)
    bad_files: dict[str, bytes] = field(default_factory=dict)
    #: the staged Parquet file of the task's rows (None when it had none), and its rows per ``eventDate``
    staged: str | None = None
    dates: dict[str, int] = field(default_factory=dict)

    def encode(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def decode(data: bytes) -> TaskMeta:
        # Written by this module in this job's executors; never read from anywhere else.
        meta = pickle.loads(data)
        assert isinstance(meta, TaskMeta)
        return meta


def task_table(tasks: list[list[SourceEntry]], staging: str) -> pa.Table:
    """The driver's side of :func:`parse_tasks`: ``tasks`` as one row each."""
    entries = [[_entry_row(entry) for entry in task] for task in tasks]
    return pa.table(
        [
            pa.array(range(len(tasks)), pa.int64()),
            pa.array([staging] * len(tasks), pa.string()),
            pa.array(entries, TASKS_SCHEMA.field("entries").type),
        ],
        schema=TASKS_SCHEMA,
    )


def _entry_row(entry: SourceEntry) -> dict[str, object]:
    return {"uri": entry.uri, "size": entry.size, "fingerprint": entry.fingerprint, "kind": entry.kind}


class _SparkWorker(Worker):
    """A :class:`Worker` that stages one Parquet file per task and keeps bad files' bytes for the driver."""

    def __init__(self) -> None:
        super().__init__(WorkerOptions(staging="", quarantine_files="", warehouse_root=""))
        self._out: _StagedRows | None = None
        self.bad_files: dict[str, bytes] = {}

    def _stage(self, batch: pa.RecordBatch, result: TaskResult) -> None:
        if batch.num_rows and self._out is not None:  # duplicates are left to the Spark job
            self._out.write(batch)

    def _reject(self, outcome: FileOutcome, data: bytes | None, reason: str, result: TaskResult) -> None:
        super()._reject(outcome, None, reason, result)  # the index item, without a stored copy (yet)
        if data is not None:
            self.bad_files[outcome.uri] = data

    def run(self, task: int, entries: list[SourceEntry], staging: str) -> TaskMeta:
        self._out = _StagedRows(Path(staging) / f"task-{task:05d}.parquet")
        try:
            result = self.process(entries)
        finally:
            staged, dates = self._out.close()
            self._out = None
        meta = TaskMeta(task, result, self._quarantined, self.bad_files, staged, dates)
        self._quarantined, self.bad_files = [], {}
        return meta


class _StagedRows:
    """One task's staged rows, written as they come; appears under its final name only when complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # per attempt: a retried or speculative attempt of the same task never writes into this one's file
        self._partial = path.with_name(f".{path.name}.{os.getpid()}.{id(self)}.tmp")
        self._writer: pq.ParquetWriter | None = None
        self._rows = 0
        self._dates: Counter[str] = Counter()

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(
                self._partial, STAGED_SCHEMA, compression="lz4", use_dictionary=False, write_statistics=False
            )
        dates = pc.cast(batch.column("eventTime"), pa.date32())  # the UTC date the DuckDB path partitions by
        positions = pa.array(range(self._rows, self._rows + batch.num_rows), pa.int64())
        rows = pa.RecordBatch.from_arrays([*batch.columns, dates, positions], schema=STAGED_SCHEMA)
        self._writer.write_batch(rows)
        self._rows += batch.num_rows
        counts = pc.value_counts(dates)
        for value, count in zip(
            counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
        ):
            self._dates[value.isoformat()] += count

    def close(self) -> tuple[str | None, dict[str, int]]:
        if self._writer is None:
            return None, {}
        self._writer.close()
        os.replace(self._partial, self.path)
        return str(self.path), dict(self._dates)


def parse_tasks(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` function: task rows (:data:`TASKS_SCHEMA`) in, one :data:`META_DDL` row each out."""
    worker = _SparkWorker()
    for batch in batches:
        for row in batch.to_pylist():
            entries = [SourceEntry(e["uri"], e["size"], e["fingerprint"], e["kind"]) for e in row["entries"]]
            meta = worker.run(row["task"], entries, row["staging"])
            task, encoded = pa.array([meta.task], pa.int64()), pa.array([meta.encode()], pa.binary())
            yield pa.record_batch([task, encoded], names=["task", "meta"])
