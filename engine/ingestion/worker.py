"""The per-process ingest pipeline, in two phases.

Phase 1, :meth:`Worker.process`: files -> records -> Arrow -> Parquet (plain CloudTrail files go
straight to Arrow through the compiled decoder, :mod:`.compiled`, where it is built; the rest, and all
files without it, through the Python decoder, with the same rows). Records of many small files
are converted to Arrow together (per-file cost is what makes naive tools slow on archives of small files),
and written once, in the warehouse's final format, to one Parquet file per event date (up to
``TARGET_ROWS`` rows, then the next) in the batch's staging folder.

Phase 2, :meth:`Worker.finalize`, only for what the commit cannot take as written: once the ingest has
decided which staged rows are duplicates (from the files' ``eventID`` column alone), a file holding one is
written again without it, and so are a date's small files once it has too many
(:func:`trailsmith.warehouse.commit.plan`). Every other staged file is moved into the warehouse as it is:
on a fresh archive every row is encoded exactly once, and both phases run on all workers in parallel.

Memory is bounded by the conversion chunk (for the compiled decoder, which takes files whole, by the
largest file's text and its rows as Arrow) and a row group per open date, whatever the archive size.
"""

from __future__ import annotations

import bisect
import ctypes
import gc
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trailsmith.ingestion import compiled, sources
from trailsmith.ingestion.arrowize import to_batch
from trailsmith.ingestion.copies import FirstCopies
from trailsmith.ingestion.decode import (
    LARGE_TEXT,
    DecodedFile,
    FileRejected,
    decode_pieces,
    decode_text_pieces,
    json_text,
)
from trailsmith.ingestion.entry import SourceEntry, is_s3
from trailsmith.warehouse import quarantine
from trailsmith.warehouse.records import Record
from trailsmith.warehouse.schema import EVENTS_SCHEMA, PARTITION_COLUMN
from trailsmith.warehouse.staging import FinalFile, FinalizeTask

if TYPE_CHECKING:
    from trailsmith.ingestion.s3 import Fetcher

#: Columns whose values are (nearly) unique per event: dictionary encoding would only cost time there.
_UNIQUE_COLUMNS = frozenset(
    {
        "eventID",
        "requestID",
        "sharedEventID",
        "requestParameters",
        "responseElements",
        "additionalEventData",
        "serviceEventDetails",
        "errorMessage",
        "addendum",
        "edgeDeviceDetails",
        "insightDetails",
        "extraFields",
    }
)


def _leaf_paths(field: pa.Field, prefix: str = "") -> list[str]:
    path = f"{prefix}{field.name}"
    if pa.types.is_struct(field.type):
        return [leaf for child in field.type for leaf in _leaf_paths(child, f"{path}.")]
    if pa.types.is_list(field.type):
        return _leaf_paths(pa.field("element", field.type.value_type), f"{path}.list.")
    return [path]


_LOW_CARDINALITY = [
    leaf for field in EVENTS_SCHEMA if field.name not in _UNIQUE_COLUMNS for leaf in _leaf_paths(field)
]

#: Columns whose min/max statistics can skip row groups: rows of a date come file by file, so time, account
#: and region cluster; names and flags are cheap. Statistics on unclustered strings (principals, IPs, user
#: agents, the nested identity's ARNs ...) never skip anything and cost 12% of the write (measured: 2.27 ->
#: 2.00 us per row, 160k rows of the small-file benchmark).
_STATISTICS = [
    "eventTime",
    "recipientAccountId",
    "awsRegion",
    "userIdentity.accountId",
    "userIdentity.type",
    "eventSource",
    "eventName",
    "errorCode",
    "readOnly",
    "managementEvent",
    "eventType",
    "eventCategory",
]

#: Parquet settings of every data file in the warehouse: zstd level 1 (level 3 costs 20% more time for 5%
#: less space on CloudTrail; negative levels save 10% of the time for 40% more space); dictionaries where
#: values repeat (names, ARNs, regions, times ...): on the JSON blobs and the ids they cost time and never
#: shrink anything; statistics where they can skip row groups (see _STATISTICS).
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": _LOW_CARDINALITY,
    "write_statistics": _STATISTICS,
}
#: Rows per Parquet row group: about 1.5 MB of zstd, and what a worker holds per open date until the group
#: is full (about 30 MB of Arrow for large events). 32k rows measured the same speed and file size and 185 MB
#: more peak memory for one worker on the few-large-files benchmark.
ROW_GROUP_ROWS = 16 * 1024
#: Rows per final Parquet file (about 60-100 MB of zstd CloudTrail).
TARGET_ROWS = 1024 * 1024
_CONVERT_RECORDS = 4 * 1024
#: Rows a worker may hold for row groups not yet full, over all its open dates (see Worker._write).
_PENDING_ROWS = 2 * ROW_GROUP_ROWS


@dataclass(frozen=True)
class WorkerOptions:
    staging: str  # this batch's staging directory
    quarantine_files: str  # where bad files' bytes go (content-addressed, idempotent)
    warehouse_root: str
    prefix: str = "part"  # staged files are named {prefix}-w{worker_id}-{n}.parquet: unique in a commit
    worker_id: int = 0
    max_open_files: int = 64
    s3_concurrency: int = 16


@dataclass
class FileOutcome:
    """What became of one input file."""

    uri: str
    size: int
    fingerprint: str
    status: str  # ingested | digest | quarantined | unreadable (retried by the next run)
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
    #: events read, by the form of the file they came in (``DecodedFile.form``)
    events_by_form: dict[str, int] = field(default_factory=dict)
    #: CloudWatch Logs control messages skipped
    control_messages: int = 0
    problems: list[tuple[str, int | None, str]] = field(default_factory=list)
    not_carried: set[str] = field(default_factory=set)  # see DecodedFile.not_carried
    #: files decoded, by decoder (``compiled.COMPILED`` or ``compiled.PYTHON``)
    decoders: dict[str, int] = field(default_factory=dict)
    #: events left out as later copies of one this worker already wrote (see .copies)
    duplicates: int = 0


@dataclass(frozen=True)
class FlushResult:
    data: list[FinalFile]
    quarantine: str | None  # staged quarantine index part, if anything was quarantined


class Worker:
    """Turns input files into staged Parquet files (see module docstring)."""

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self._writers: dict[str, _ParquetRows] = {}
        self._done: list[FinalFile] = []
        self._sequence = 0
        self._quarantined: list[quarantine.Item] = []
        self._fetcher: Fetcher | None = None
        self._module = compiled.load()
        self._compiled = compiled.Batches(self._module) if self._module is not None else None
        self._copies = FirstCopies(self._module)
        self._compiled_forms: list[str] = []  # the form of each file the compiled decoder holds rows of

    # --- reading ---------------------------------------------------------------------------------

    def _read_all(self, entries: list[SourceEntry]) -> Iterator[tuple[SourceEntry, bytes | Exception]]:
        local = [e for e in entries if not is_s3(e.uri)]
        remote = [e for e in entries if is_s3(e.uri)]
        for entry in local:
            try:
                yield entry, sources.read(entry)
            except OSError as exc:
                yield entry, exc
        if remote:
            if self._fetcher is None:
                from trailsmith.ingestion.s3 import Fetcher

                self._fetcher = Fetcher()
            yield from self._fetcher.fetch_many(remote, concurrency=self.options.s3_concurrency)

    # --- the pipeline ----------------------------------------------------------------------------

    def process(self, entries: list[SourceEntry]) -> TaskResult:
        """Read, decode and stage ``entries``; returns what became of each file."""
        result = TaskResult()
        self._copies = FirstCopies(self._module)  # a task's memory only: see .copies
        # (file, piece of it, first record, end, index of the piece's first record in the file): files are cut
        # into pieces so that no conversion holds more than _CONVERT_RECORDS records (bounded memory)
        pending: list[tuple[FileOutcome, DecodedFile, int, int, int]] = []
        pending_records = 0
        gc_was_enabled = gc.isenabled()
        gc.disable()  # parsed JSON holds no cycles; the collector would only burn time
        try:
            for entry, data in self._read_all(entries):
                outcome = FileOutcome(entry.uri, entry.size, entry.fingerprint, "ingested")
                result.files.append(outcome)
                if isinstance(data, Exception):
                    self._reject(outcome, None, f"cannot be read ({_describe(data)})", result)
                    outcome.status = "unreadable"  # not the file's fault: the next run tries it again
                    continue
                result.bytes_read += len(data)
                try:
                    text = json_text(data)
                    if text is not None and self._take_compiled(text, outcome, result):
                        if pending:  # staged first: rows keep the order of their files
                            self._convert(pending, result)
                            pending, pending_records = [], 0
                        continue
                    self._convert_compiled(result)  # staged first, as above
                    _count(result.decoders, compiled.PYTHON, 1)
                    pieces = (
                        decode_pieces(data, _CONVERT_RECORDS)
                        if text is None
                        else decode_text_pieces(text, _CONVERT_RECORDS)
                    )
                    for offset, decoded in pieces:
                        if decoded.kind == "digest":
                            outcome.status = "digest"
                            break
                        for bad in decoded.bad:
                            self._reject_record(outcome, offset + bad.index, bad.reason, bad.raw, result)
                        result.time_from_timestamp += decoded.time_from_timestamp
                        result.control_messages += decoded.control_messages
                        result.not_carried.update(decoded.not_carried)
                        outcome.events += len(decoded.records)
                        start = 0
                        while start < len(decoded.records):
                            end = min(len(decoded.records), start + _CONVERT_RECORDS - pending_records)
                            pending.append((outcome, decoded, start, end, offset))
                            pending_records += end - start
                            start = end
                            if pending_records >= _CONVERT_RECORDS:
                                self._convert(pending, result)
                                pending, pending_records = [], 0
                        del decoded
                except FileRejected as exc:
                    self._reject(outcome, data, str(exc), result)
                del data
            self._convert(pending, result)
            self._convert_compiled(result)
        finally:
            if gc_was_enabled:
                gc.enable()
        release_memory()
        return result

    def _take_compiled(self, text: bytes, outcome: FileOutcome, result: TaskResult) -> bool:
        """Read a file with the compiled decoder if it takes it (see :mod:`.compiled`); False if not."""
        if self._compiled is None:
            return False
        rows = self._compiled.add(text, outcome.uri)
        if rows is None:
            return False
        outcome.events += rows
        _count(result.decoders, compiled.COMPILED, 1)
        if rows:  # the form the Python path names: it reads a large envelope's records as an array of them
            self._compiled_forms.append("array" if len(text) > LARGE_TEXT else "records")
        if self._compiled.rows >= _CONVERT_RECORDS:
            self._convert_compiled(result)
        return True

    def _convert_compiled(self, result: TaskResult) -> None:
        """Stage the rows of the files the compiled decoder took (whole files, in their order)."""
        if self._compiled is None or not self._compiled.rows:
            return
        batch, files = self._compiled.take()
        file_forms, self._compiled_forms = self._compiled_forms, []
        forms: dict[str, int] = {}
        for form, (_, rows) in zip(file_forms, files, strict=True):
            _count(forms, form, rows)
        starts = list(accumulate((rows for _, rows in files), initial=0))

        def uncount(insight: pa.BooleanArray) -> None:
            for row in pc.indices_nonzero(insight).to_pylist():
                forms[file_forms[bisect.bisect_right(starts, row) - 1]] -= 1

        self._store(batch, forms, uncount, result)

    def _convert(
        self, pending: list[tuple[FileOutcome, DecodedFile, int, int, int]], result: TaskResult
    ) -> None:
        if not pending:
            return
        records: list[Record] = []
        uris: list[str] = []
        extras: dict[int, bytes] = {}
        starts: list[int] = []
        for outcome, decoded, start, end, _ in pending:
            starts.append(len(records))
            for position, text in decoded.extras.items():
                if start <= position < end:
                    extras[len(records) + position - start] = text
            records.extend(decoded.records[start:end])
            uris.extend([outcome.uri] * (end - start))
        converted = to_batch(records, uris, extras)
        del records
        forms: dict[str, int] = {}
        for _, decoded, start, end, _ in pending:
            forms[decoded.form] = forms.get(decoded.form, 0) + end - start
        for position, reason in converted.rejected:
            index = bisect.bisect_right(starts, position) - 1
            outcome, decoded, start, _, offset = pending[index]
            local = position - starts[index] + start
            original = decoded.positions[local] if decoded.positions is not None else local
            self._reject_record(outcome, offset + original, reason, decoded.raw_record(original), result)
            outcome.events -= 1
            forms[decoded.form] -= 1
        self._store(
            converted.batch,
            forms,
            lambda insight: _uncount_insights(forms, pending, starts, converted.rejected, insight),
            result,
        )

    def _store(
        self,
        batch: pa.RecordBatch,
        forms: dict[str, int],
        uncount: Callable[[pa.BooleanArray], None],
        result: TaskResult,
    ) -> None:
        """Stage a converted batch without its Insights rows (counted; ``uncount`` takes them out of
        ``forms``, the batch's events by input form)."""
        insight = pc.fill_null(pc.equal(batch.column("eventType"), "AwsCloudTrailInsight"), False)
        if insight.true_count:
            result.insight_records += insight.true_count
            uncount(insight)
            batch = batch.filter(pc.invert(insight))
        result.events += batch.num_rows
        for form, count in forms.items():
            _count(result.events_by_form, form, count)
        self._stage(batch, result)

    def _stage(self, batch: pa.RecordBatch, result: TaskResult) -> None:
        if not batch.num_rows:
            return
        dates = pc.cast(batch.column("eventTime"), pa.date32())
        # Rows come file by file, so dates usually come in runs: slice the runs (no copy). When they are
        # interleaved, sort once by date (a stable sort: file order is kept within a date).
        runs = pc.run_end_encode(dates)
        if len(runs.run_ends) > 1 and len(runs.run_ends) > len(pc.unique(dates)):
            order = pc.sort_indices(dates)
            batch, dates = batch.take(order), dates.take(order)
            runs = pc.run_end_encode(dates)
        start = 0
        for end, value in zip(runs.run_ends.to_pylist(), runs.values.to_pylist(), strict=True):
            date, rows = value.isoformat(), batch.slice(start, end - start)
            # without the events this worker already wrote (see .copies): slices, not a copy
            kept = self._copies.keep(date, rows.column("eventID"), rows.column("sourceFile"))
            for first, last in [(0, rows.num_rows)] if kept is None else kept:
                self._write(date, rows.slice(first, last - first))
            if kept is not None:
                result.duplicates += rows.num_rows - sum(last - first for first, last in kept)
            start = end

    def _write(self, date: str, batch: pa.RecordBatch) -> None:
        writer = self._writers.get(date)
        if writer is None:
            if len(self._writers) >= self.options.max_open_files:
                self._close(next(iter(self._writers)))
            directory = Path(self.options.staging) / f"{PARTITION_COLUMN}={date}"
            writer = _ParquetRows(directory, date, self._name)
            self._writers[date] = writer
        writer.write(batch)
        if len(self._writers) > 1 and sum(w.pending_rows for w in self._writers.values()) > _PENDING_ROWS:
            # Rows wait for a full row group of their date; when many dates are open at once, the fuller
            # ones go out early (shorter row groups) rather than holding a row group's worth of each.
            for open_writer in self._writers.values():
                if open_writer.pending_rows >= ROW_GROUP_ROWS // 4:
                    open_writer.flush()

    def _name(self) -> str:
        self._sequence += 1
        return f"{self.options.prefix}-w{self.options.worker_id}-{self._sequence:05d}.parquet"

    def _close(self, date: str) -> None:
        writer = self._writers.pop(date)
        self._done.extend(writer.close())

    def flush(self) -> FlushResult:
        """Close every open file; returns the staged data files and quarantine index part."""
        for date in list(self._writers):
            self._close(date)
        done, self._done = self._done, []
        staged_quarantine = None
        if self._quarantined:
            Path(self.options.staging).mkdir(parents=True, exist_ok=True)
            staged_quarantine = str(
                Path(self.options.staging) / f"quarantine-w{self.options.worker_id}.parquet"
            )
            pq.write_table(quarantine.to_table(self._quarantined), staged_quarantine, compression="zstd")
            self._quarantined = []
        release_memory()  # the last row groups are out: idle until the commit asks again
        return FlushResult(done, staged_quarantine)

    # --- phase 2 ---------------------------------------------------------------------------------

    def finalize(self, task: FinalizeTask) -> list[FinalFile]:
        """Write ``task``'s files again, minus the rows it leaves out (see the module docstring)."""
        numbers = itertools.count()
        out = _ParquetRows(
            Path(task.directory), task.date, lambda: f"{task.prefix}-{next(numbers):03d}.parquet"
        )
        for path, drops in task.inputs:
            offset = 0
            # One row group at a time, unthreaded, not pre-buffered: iter_batches holds far more (a 680k-row
            # file measured 418 MB peak for the process against 282 MB this way, at the same speed).
            with pq.ParquetFile(path, pre_buffer=False) as source:
                for index in range(source.num_row_groups):
                    for batch in source.read_row_group(index, use_threads=False).to_batches():
                        out.write(_without(batch, offset, drops))
                        offset += batch.num_rows
        return out.close()

    # --- bad input -------------------------------------------------------------------------------

    def _reject(self, outcome: FileOutcome, data: bytes | None, reason: str, result: TaskResult) -> None:
        outcome.status, outcome.reason = "quarantined", reason
        stored = None
        if data is not None:
            root = Path(self.options.warehouse_root)
            stored = quarantine.store_file(data, Path(self.options.quarantine_files), root)
        self._quarantined.append(quarantine.Item(outcome.uri, None, reason, None, stored))
        result.problems.append((outcome.uri, None, reason))

    def _reject_record(
        self, outcome: FileOutcome, index: int, reason: str, raw: bytes, result: TaskResult
    ) -> None:
        outcome.bad_records += 1
        self._quarantined.append(quarantine.Item(outcome.uri, index, reason, raw, None))
        result.problems.append((outcome.uri, index, reason))


class _ParquetRows:
    """Rows of one date written to Parquet in the final format: files of at most ``TARGET_ROWS`` rows, row
    groups of ``ROW_GROUP_ROWS`` (shorter only at a file's end, or when ``flush`` is called early).
    ``name()`` names each new file."""

    def __init__(self, directory: Path, date: str, name: Callable[[], str]) -> None:
        self.directory = directory
        self.date = date
        self.name = name
        self.files: list[FinalFile] = []
        self.pending_rows = 0  # rows held in memory for the next row group
        self._writer: pq.ParquetWriter | None = None
        self._path = ""
        self._rows = 0  # rows of the open file, written or pending
        self._pending: list[pa.RecordBatch] = []

    def write(self, batch: pa.RecordBatch) -> None:
        while batch.num_rows:
            room = min(ROW_GROUP_ROWS - self.pending_rows, TARGET_ROWS - self._rows)
            head, batch = batch.slice(0, room), batch.slice(room)
            self._pending.append(head)
            self.pending_rows += head.num_rows
            self._rows += head.num_rows
            if self.pending_rows >= ROW_GROUP_ROWS:
                self.flush()
            if self._rows >= TARGET_ROWS:
                self._finish()

    def flush(self) -> None:
        """Write the rows held as a row group (a short one when called before it is full)."""
        if not self._pending:
            return
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._path = str(self.directory / self.name())
            self._writer = pq.ParquetWriter(self._path, EVENTS_SCHEMA, **PARQUET_OPTIONS)
        self._writer.write_table(
            pa.Table.from_batches(self._pending, EVENTS_SCHEMA), row_group_size=ROW_GROUP_ROWS
        )
        self._pending, self.pending_rows = [], 0

    def _finish(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.close()
            self.files.append(FinalFile(self._path, self.date, self._rows, os.path.getsize(self._path)))
        self._writer, self._rows = None, 0

    def close(self) -> list[FinalFile]:
        self._finish()
        return self.files


def _uncount_insights(
    forms: dict[str, int],
    pending: list[tuple[FileOutcome, DecodedFile, int, int, int]],
    starts: list[int],
    rejected: list[tuple[int, str]],
    insight: pa.BooleanArray,
) -> None:
    """Take the Insights rows of a batch (``insight``, over its rows) out of the events counted by form."""
    gone = {position for position, _ in rejected}
    records = starts[-1] + pending[-1][3] - pending[-1][2]
    kept = [position for position in range(records) if position not in gone]  # batch row -> record
    for row in pc.indices_nonzero(insight).to_pylist():
        forms[pending[bisect.bisect_right(starts, kept[row]) - 1][1].form] -= 1


def _count(counts: dict[str, int], key: str, n: int) -> None:
    counts[key] = counts.get(key, 0) + n


def _without(batch: pa.RecordBatch, offset: int, drops: list[int]) -> pa.RecordBatch:
    """``batch`` (rows ``offset``.. of its file) minus the file rows listed in sorted ``drops``."""
    low = bisect.bisect_left(drops, offset)
    high = bisect.bisect_left(drops, offset + batch.num_rows)
    if low == high:
        return batch
    keep = [True] * batch.num_rows
    for row in drops[low:high]:
        keep[row - offset] = False
    return batch.filter(pa.array(keep, pa.bool_()))


_malloc_trim: Any = None


def release_memory() -> None:
    """Give freed heap memory back to the system (glibc keeps it otherwise): a worker's resident memory then
    reflects what it holds, not the peak of the largest file it ever read. A no-op off glibc."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
