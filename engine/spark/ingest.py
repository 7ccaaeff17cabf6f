"""``ingest`` on Apache Spark: the same warehouse, the same semantics, the parsing spread over executors.

The driver is the DuckDB path's (:func:`trailsmith.ingestion.driver.run`): it takes the warehouse's write
lock, recovers from a killed run, lists the sources and skips the files already read, and cuts the new
files into the same batches and tasks. For each batch:

1. **parse**: the tasks become a DataFrame of one row per Spark partition, and ``mapInArrow`` runs the
   project's own parser on them (:mod:`trailsmith.spark.parse`), staging the rows as Parquet under
   ``_trailsmith/staging``, so the files are read and parsed exactly once;
2. **outcomes** come back to the driver as the job's result (they are small): per-file outcomes,
   quarantined items and the bytes of bad files, written as the DuckDB path writes them; ``strict`` stops
   here;
3. **deduplicate** with the rule of :mod:`trailsmith.warehouse.commit`: a row whose ``(eventDate,
   eventID)`` is already committed is left out, and of the copies within the batch the first in
   ``(sourceFile, position in the file)`` order is kept;
4. **write** one task per date (files of up to ``TARGET_ROWS`` rows, zstd), folding in the date's small
   committed files (compact as you go), then **commit** through
   :func:`trailsmith.warehouse.commit.commit`: the snapshot lists the files, exactly as the DuckDB path's
   does.

The warehouse must be a directory that the driver and every executor see at the same path (one machine,
or a shared file system on a cluster): the driver commits by renaming files in it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from trailsmith.engines import DEFAULT_MASTER
from trailsmith.ingestion.driver import (  # one driver for both engines: listing, batching, reporting
    DEFAULT_BATCH_BYTES,
    BatchIngest,
    IngestReport,
    Progress,
    collect,
    commit_tag,
    refuse,
    run,
    sources_table,
    tasks,
)
from trailsmith.ingestion.entry import SourceEntry
from trailsmith.ingestion.worker import TARGET_ROWS
from trailsmith.spark.files import read_events, uri
from trailsmith.spark.parse import META_DDL, TaskMeta, parse_tasks, task_table
from trailsmith.spark.schema import ROW_COLUMN, STAGED_SCHEMA, spark_schema
from trailsmith.spark.session import quiet_pyspark, require_pyspark, session
from trailsmith.warehouse import quarantine
from trailsmith.warehouse.commit import SMALL_ROWS, commit
from trailsmith.warehouse.schema import PARTITION_COLUMN
from trailsmith.warehouse.staging import FinalFile
from trailsmith.warehouse.store import DataFile, Snapshot, Warehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def ingest(
    sources: Sequence[str],
    warehouse: str | os.PathLike[str] | None = None,
    *,
    master: str = DEFAULT_MASTER,
    spark: SparkSession | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> IngestReport:
    """Ingest CloudTrail files into a warehouse with Spark; arguments and report as
    :func:`trailsmith.ingestion.driver.ingest`.

    ``master`` picks the cluster (``local[*]``, ``spark://host:7077``, ``yarn``, or a Spark Connect
    ``sc://host:15002`` URL) unless a running ``spark`` session is given. The session is started only when
    there is something to read.
    """
    if spark is None:
        require_pyspark(master)  # before taking the lock or listing anything: fail fast

    @contextlib.contextmanager
    def open_session(
        target: Warehouse, todo: list[SourceEntry], report: IngestReport, progress: Progress
    ) -> Iterator[BatchIngest]:
        progress.status("starting Spark")
        started = spark if spark is not None else session(master)
        yield functools.partial(_ingest_batch, started, target, report, progress, strict)

    return run(sources, warehouse, open_session, progress=progress, batch_bytes=batch_bytes)


def _ingest_batch(
    spark: SparkSession,
    target: Warehouse,
    report: IngestReport,
    progress: Progress,
    strict: bool,
    snapshot: Snapshot,
    batch: list[SourceEntry],
    number: int,
) -> Snapshot:
    """Parse, deduplicate, write and commit one batch; returns the new snapshot."""
    staging = target.staging_dir / f"spark-{number:05d}"
    progress.status(f"reading batch {number + 1}")
    metas = _parse(spark, batch, staging / "parsed")
    outcomes, problems = collect((meta.result for meta in metas), report, progress)
    if strict:
        refuse(problems)
    events = sum(meta.result.events for meta in metas)
    tag = commit_tag(snapshot)
    written: list[FinalFile] = []
    replaced: list[DataFile] = []
    if events:
        progress.status(f"deduplicating and writing batch {number + 1}")
        written, replaced = _write(spark, target, snapshot, metas, staging / f"final-{tag}", tag)
    quarantine_part = _quarantine_part(target, metas, staging / "quarantine.parquet")
    snapshot, stats = commit(
        target,
        snapshot,
        written,
        replaced,
        sources_part=sources_table(outcomes),
        quarantine_parts=[quarantine_part] if quarantine_part else [],
        tag=tag,
    )
    shutil.rmtree(staging, ignore_errors=True)
    report.events_new += stats.rows_added
    report.events_duplicate += events - stats.rows_added
    report.commits += 1
    return snapshot


def _parse(spark: SparkSession, batch: list[SourceEntry], directory: Path) -> list[TaskMeta]:
    """Run the parser over ``batch`` on the executors, staging rows in ``directory``; the tasks' outcomes."""
    units = list(tasks(batch))
    # One task per partition: range partitioning on distinct task numbers puts each in its own (hash or
    # round-robin partitioning would pair some and leave others empty).
    table = task_table(units, str(directory.absolute()))
    frame = spark.createDataFrame(table).repartitionByRange(len(units), "task")
    with quiet_pyspark():
        cells = frame.mapInArrow(parse_tasks, META_DDL).toArrow().column("meta").to_pylist()
    return sorted((TaskMeta.decode(cell) for cell in cells), key=lambda meta: meta.task)


def _write(
    spark: SparkSession,
    target: Warehouse,
    snapshot: Snapshot,
    metas: list[TaskMeta],
    directory: Path,
    tag: str,
) -> tuple[list[FinalFile], list[DataFile]]:
    """Deduplicate the staged rows against each other and the committed ones; write the dates they touch."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = [PARTITION_COLUMN, "eventID"]
    staged = [uri(Path(meta.staged)) for meta in metas if meta.staged is not None]
    rows = spark.read.schema(spark_schema(STAGED_SCHEMA)).parquet(*staged)
    dates = {date for meta in metas for date in meta.dates}
    touched = dates
    existing = snapshot.files_for(dates)
    if existing:
        committed = read_events(spark, target, existing).select(*keys)
        rows = rows.join(committed, keys, "left_anti")  # the committed copy wins
        # a date whose rows are all known is left alone, as the DuckDB path does (only key columns are read)
        touched = {value.isoformat() for (value,) in rows.select(PARTITION_COLUMN).distinct().collect()}
        if not touched:
            return [], []
    merge = [f for f in snapshot.files_for(touched) if f.rows < SMALL_ROWS]
    columns = STAGED_SCHEMA.names
    out = rows.select(*columns)
    if merge:
        folded = read_events(spark, target, merge).withColumn(ROW_COLUMN, F.lit(None).cast("long"))
        out = out.unionByName(folded.select(*columns))
    first = Window.partitionBy(*keys).orderBy("sourceFile", ROW_COLUMN)
    out = (
        out.repartition(PARTITION_COLUMN)  # one task per date: large files; also clusters the window's keys
        .withColumn("_copy", F.row_number().over(first))
        .where(F.col("_copy") == 1)
        .drop("_copy", ROW_COLUMN)
    )
    (
        out.write.mode("overwrite")
        .partitionBy(PARTITION_COLUMN)
        .option("compression", "zstd")
        .option("parquet.compression.codec.zstd.level", "1")  # as worker.PARQUET_OPTIONS writes
        .option("maxRecordsPerFile", TARGET_ROWS)
        .parquet(uri(directory))
    )
    return _written(directory, tag), merge


def _written(directory: Path, tag: str) -> list[FinalFile]:
    """The files Spark wrote, renamed as the DuckDB path names them (``part-<tag>-NNN.parquet``)."""
    files: list[FinalFile] = []
    for date_dir in sorted(directory.glob(f"{PARTITION_COLUMN}=*")):
        date = date_dir.name.partition("=")[2]
        for number, path in enumerate(sorted(date_dir.glob("part-*.parquet"))):
            rows = pq.read_metadata(path).num_rows
            named = date_dir / f"part-{tag}-{number:03d}.parquet"
            os.rename(path, named)
            files.append(FinalFile(str(named), date, rows, named.stat().st_size))
    return files


def _quarantine_part(target: Warehouse, metas: list[TaskMeta], path: Path) -> str | None:
    """Store the bad files' bytes and write the batch's quarantine index part, as the DuckDB workers do."""
    items: list[quarantine.Item] = []
    for meta in metas:
        for item in meta.quarantined:
            data = meta.bad_files.get(item.source) if item.record_index is None else None
            if data is not None:
                stored = quarantine.store_file(data, target.quarantine_dir / "files", target.root)
                item = quarantine.Item(item.source, None, item.reason, None, stored)
            items.append(item)
    if not items:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(quarantine.to_table(items), path, compression="zstd")
    return str(path)
