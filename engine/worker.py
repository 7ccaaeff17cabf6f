"""The per-process ingest pipeline: files -> records -> Arrow -> staged Parquet, one date per file.

A :class:`Worker` lives as long as a batch of the ingest. It reads its share of the input files, decodes
them, converts records of many files at once to Arrow (per-file cost is what makes naive tools slow on
archives of small files), and streams rows into one open Parquet writer per event date, writing row groups
as buffers fill. Memory is bounded by ``buffer_bytes`` whatever the archive size. ``flush`` closes the
writers and returns the staged files; the ingest then deduplicates and commits them.
"""

from __future__ import annotations

import bisect
import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trailsmith import quarantine, sources
from trailsmith.arrowize import to_batch
from trailsmith.decode import DecodedFile, FileRejected, decode_file
from trailsmith.records import Record
from trailsmith.schema import EVENTS_SCHEMA, PARTITION_COLUMN
from trailsmith.sources import SourceEntry

#: Columns whose values are (nearly) unique per event: dictionary encoding would only cost time there.
_UNIQUE_COLUMNS = frozenset(
    {"eventID", "requestID", "sharedEventID", "requestParameters", "responseElements", "additionalEventData",
     "serviceEventDetails", "errorMessage", "addendum", "edgeDeviceDetails", "insightDetails", "extraFields"}
)


def _leaf_paths(field: pa.Field, prefix: str = "") -> list[str]:
    path = f"{prefix}{field.name}"
    if pa.types.is_struct(field.type):
        return [leaf for child in field.type for leaf in _leaf_paths(child, f"{path}.")]
    if pa.types.is_list(field.type):
        return _leaf_paths(pa.field("element", field.type.value_type), f"{path}.list.")
    return [path]


#: Parquet settings of every data file in the warehouse: zstd level 1 (level 3 costs 20% more time for 5%
#: less space on CloudTrail), dictionaries only where values repeat (names, ARNs, regions ...).
PARQUET_OPTIONS = dict(
    compression="zstd",
    compression_level=1,
    write_statistics=True,
    use_dictionary=[
        leaf for field in EVENTS_SCHEMA if field.name not in _UNIQUE_COLUMNS for leaf in _leaf_paths(field)
    ],
)
ROW_GROUP_ROWS = 128 * 1024
_CONVERT_RECORDS = 16 * 1024


@dataclass(frozen=True)
class WorkerOptions:
    staging: str  # this batch's staging directory
    quarantine_files: str  # where bad files' bytes go (content-addressed, idempotent)
    warehouse_root: str
    worker_id: int = 0
    buffer_bytes: int = 192 * 1024 * 1024
    max_open_files: int = 64
    s3_concurrency: int = 16


@dataclass
class FileOutcome:
    """What became of one input file."""

    uri: str
    size: int
    fingerprint: str
    status: str  # ingested | digest | quarantined
    events: int = 0
    bad_records: int = 0
    reason: str | None = None


@dataclass
class TaskResult:
    files: list[FileOutcome] = field(default_factory=list)
    bytes_read: int = 0
    events: int = 0
    insight_records: int = 0
    time_from_timestamp: int = 0
    problems: list[tuple[str, int | None, str]] = field(default_factory=list)


@dataclass(frozen=True)
class StagedFile:
    path: str
    date: str
    rows: int


@dataclass(frozen=True)
class FlushResult:
    data: list[StagedFile]
    quarantine: str | None  # staged quarantine index part, if anything was quarantined


class _DateWriter:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.writer = pq.ParquetWriter(path, EVENTS_SCHEMA, **PARQUET_OPTIONS)
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0
        self.pending_bytes = 0
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self.pending.append(batch)
        self.pending_rows += batch.num_rows
        self.pending_bytes += batch.nbytes

    def write_pending(self) -> None:
        if self.pending:
            self.writer.write_table(pa.Table.from_batches(self.pending, EVENTS_SCHEMA), row_group_size=ROW_GROUP_ROWS)
            self.rows += self.pending_rows
            self.pending, self.pending_rows, self.pending_bytes = [], 0, 0

    def close(self) -> None:
        self.write_pending()
        self.writer.close()


class Worker:
    """Turns input files into staged Parquet files (see module docstring)."""

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self._writers: dict[str, _DateWriter] = {}
        self._done: list[StagedFile] = []
        self._sequence = 0
        self._quarantined: list[quarantine.Item] = []
        self._fetcher = None

    # --- reading ---------------------------------------------------------------------------------

    def _read_all(self, entries: list[SourceEntry]) -> Iterator[tuple[SourceEntry, bytes | Exception]]:
        local = [e for e in entries if not sources.is_s3(e.uri)]
        remote = [e for e in entries if sources.is_s3(e.uri)]
        for entry in local:
            try:
                yield entry, sources.read(entry)
            except OSError as exc:
                yield entry, exc
        if remote:
            if self._fetcher is None:
                from trailsmith.s3 import Fetcher

                self._fetcher = Fetcher()
            yield from self._fetcher.fetch_many(remote, concurrency=self.options.s3_concurrency)

    # --- the pipeline ----------------------------------------------------------------------------

    def process(self, entries: list[SourceEntry]) -> TaskResult:
        """Read, decode and stage ``entries``; returns what became of each file."""
        result = TaskResult()
        pending: list[tuple[FileOutcome, DecodedFile]] = []
        pending_records = 0
        gc_was_enabled = gc.isenabled()
        gc.disable()  # parsed JSON holds no cycles; the collector would only burn time
        try:
            for entry, data in self._read_all(entries):
                outcome = FileOutcome(entry.uri, entry.size, entry.fingerprint, "ingested")
                result.files.append(outcome)
                if isinstance(data, Exception):
                    self._reject(outcome, None, f"cannot be read ({_describe(data)})", result)
                    continue
                result.bytes_read += len(data)
                try:
                    decoded = decode_file(data)
                except FileRejected as exc:
                    self._reject(outcome, data, str(exc), result)
                    continue
                if decoded.kind == "digest":
                    outcome.status = "digest"
                    continue
                for bad in decoded.bad:
                    self._reject_record(outcome, bad.index, bad.reason, bad.raw, result)
                result.time_from_timestamp += decoded.time_from_timestamp
                if decoded.records:
                    pending.append((outcome, decoded))
                    pending_records += len(decoded.records)
                if pending_records >= _CONVERT_RECORDS:
                    self._convert(pending, result)
                    pending, pending_records = [], 0
            self._convert(pending, result)
        finally:
            if gc_was_enabled:
                gc.enable()
        return result

    def _convert(self, pending: list[tuple[FileOutcome, DecodedFile]], result: TaskResult) -> None:
        if not pending:
            return
        records: list[Record] = []
        uris: list[str] = []
        extras: dict[int, bytes] = {}
        starts: list[int] = []
        for outcome, decoded in pending:
            starts.append(len(records))
            for position, text in decoded.extras.items():
                extras[len(records) + position] = text
            records.extend(decoded.records)
            uris.extend([outcome.uri] * len(decoded.records))
        converted = to_batch(records, uris, extras)
        for position, reason in converted.rejected:
            index = bisect.bisect_right(starts, position) - 1
            outcome, decoded = pending[index]
            local = position - starts[index]
            original = decoded.positions[local] if decoded.positions is not None else local
            self._reject_record(outcome, original, reason, decoded.raw_record(original), result)
        batch = converted.batch
        insight = pc.equal(batch.column("eventType"), "AwsCloudTrailInsight")
        if insight.true_count:
            result.insight_records += insight.true_count
            batch = batch.filter(pc.invert(pc.fill_null(insight, False)))
        for outcome, decoded in pending:
            outcome.events = len(decoded.records) - outcome.bad_records + len(decoded.bad)
        result.events += batch.num_rows
        self._stage(batch)

    def _stage(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        dates = pc.cast(batch.column("eventTime"), pa.date32())
        unique = pc.unique(dates)
        if len(unique) == 1:
            self._add(unique[0].as_py().isoformat(), batch)
        else:
            for value in unique.to_pylist():
                self._add(value.isoformat(), batch.filter(pc.equal(dates, value)))
        self._limit_memory()

    def _add(self, date: str, batch: pa.RecordBatch) -> None:
        writer = self._writers.get(date)
        if writer is None:
            if len(self._writers) >= self.options.max_open_files:
                self._close(min(self._writers, key=lambda d: self._writers[d].pending_bytes))
            self._sequence += 1
            name = f"w{self.options.worker_id}-{self._sequence:05d}.parquet"
            writer = _DateWriter(Path(self.options.staging) / f"{PARTITION_COLUMN}={date}" / name)
            self._writers[date] = writer
        writer.add(batch)
        if writer.pending_rows >= ROW_GROUP_ROWS:
            writer.write_pending()

    def _limit_memory(self) -> None:
        total = sum(w.pending_bytes for w in self._writers.values())
        while total > self.options.buffer_bytes:
            largest = max(self._writers.values(), key=lambda w: w.pending_bytes)
            total -= largest.pending_bytes
            largest.write_pending()

    def _close(self, date: str) -> None:
        writer = self._writers.pop(date)
        writer.close()
        if writer.rows:
            self._done.append(StagedFile(str(writer.path), date, writer.rows))
        else:
            writer.path.unlink()

    def flush(self) -> FlushResult:
        """Close every open file; returns the staged data files and quarantine index part."""
        for date in list(self._writers):
            self._close(date)
        done, self._done = self._done, []
        staged_quarantine = None
        if self._quarantined:
            Path(self.options.staging).mkdir(parents=True, exist_ok=True)
            staged_quarantine = str(Path(self.options.staging) / f"quarantine-w{self.options.worker_id}.parquet")
            pq.write_table(quarantine.to_table(self._quarantined), staged_quarantine, compression="zstd")
            self._quarantined = []
        return FlushResult(done, staged_quarantine)

    # --- bad input -------------------------------------------------------------------------------

    def _reject(self, outcome: FileOutcome, data: bytes | None, reason: str, result: TaskResult) -> None:
        outcome.status, outcome.reason = "quarantined", reason
        stored = None
        if data is not None:
            root = Path(self.options.warehouse_root)
            stored = quarantine.store_file(data, Path(self.options.quarantine_files), root)
        self._quarantined.append(quarantine.Item(outcome.uri, None, reason, None, stored))
        result.problems.append((outcome.uri, None, reason))

    def _reject_record(self, outcome: FileOutcome, index: int, reason: str, raw: bytes, result: TaskResult) -> None:
        outcome.bad_records += 1
        self._quarantined.append(quarantine.Item(outcome.uri, index, reason, raw, None))
        result.problems.append((outcome.uri, index, reason))


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
