"""How Spark reads the warehouse's files: explicit file lists and explicit schemas, never discovery.

Every read names the files of one snapshot (so a concurrent ingest never shows a partial commit, and a
killed run's leftovers are never read) and gives the schema (so nothing is inferred from the data: see
:mod:`trailsmith.spark.schema`). ``eventDate`` comes from the ``eventDate=YYYY-MM-DD`` directory names,
typed DATE by the schema, as DuckDB's ``hive_types`` types it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from trailsmith.spark.schema import events_schema, spark_schema
from trailsmith.warehouse.store import DataFile, Warehouse

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def uri(path: Path) -> str:
    """``file://`` and the absolute path: on a cluster a bare path means the default file system (often HDFS).

    >>> uri(Path("/wh/events"))
    'file:///wh/events'
    """
    return "file://" + str(path.absolute())


def read_events(spark: SparkSession, warehouse: Warehouse, files: Sequence[DataFile]) -> DataFrame:
    """The events in ``files`` (committed files of the warehouse), with ``eventDate`` typed DATE."""
    schema = events_schema()
    if not files:
        return spark.createDataFrame([], schema)
    return (
        spark.read.schema(schema)
        .option("basePath", uri(warehouse.events_dir))
        .parquet(*[uri(warehouse.path(f.path)) for f in files])
        .select(*schema.names)  # the documented order: file columns, then the partition column
    )


def read_table(
    spark: SparkSession, warehouse: Warehouse, parts: Sequence[str], schema: pa.Schema
) -> DataFrame:
    """One of the warehouse's index tables (quarantine, sources): its snapshot's parts, with ``schema``."""
    typed = spark_schema(schema)
    if not parts:
        return spark.createDataFrame([], typed)
    return spark.read.schema(typed).parquet(*[uri(warehouse.path(p)) for p in parts])
