"""The Spark engine as one :class:`trailsmith.engines.Backend`: every call goes to a session on ``master``.

Spark's modules are imported when a call needs them, after :func:`require_pyspark` has said what is
missing, so that asking for Spark where it cannot run is one clear error, not an ``ImportError``. The
saved queries' Spark SQL needs only sqlglot, not a session, so it is given without that check.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from trailsmith.spark.session import require_pyspark

if TYPE_CHECKING:
    from trailsmith.ingestion.driver import IngestReport
    from trailsmith.spark.policy import SparkUsage


@dataclass(frozen=True)
class SparkBackend:
    """:class:`trailsmith.engines.Backend` on the Spark master ``master``."""

    master: str

    def ingest(
        self, sources: Sequence[str], warehouse: str | os.PathLike[str] | None, **options: Any
    ) -> IngestReport:
        require_pyspark(self.master)
        from trailsmith.spark.ingest import ingest

        options.pop("workers", None)  # the master decides the parallelism
        return ingest(sources, warehouse, master=self.master, **options)

    def query(
        self, sql: str, warehouse: str | os.PathLike[str] | None, params: Mapping[str, Any]
    ) -> pa.Table:
        require_pyspark(self.master)
        from trailsmith.spark.sql import sql as spark_sql

        return spark_sql(sql, warehouse, params, master=self.master)

    @contextlib.contextmanager
    def stream(
        self,
        sql: str,
        warehouse: str | os.PathLike[str] | None,
        params: Mapping[str, Any],
        *,
        timeout: float | None = None,
        memory_limit: str | None = None,
    ) -> Iterator[pa.RecordBatchReader]:
        # timeout and memory_limit bound DuckDB; a Spark job is bounded by the cluster's own settings
        yield self.query(sql, warehouse, params).to_reader()

    def run_saved(
        self, name: str, warehouse: str | os.PathLike[str] | None, params: Mapping[str, Any]
    ) -> pa.Table:
        require_pyspark(self.master)
        from trailsmith.spark.saved import run_saved

        return run_saved(name, warehouse, master=self.master, **dict(params))

    def saved_sql(self, name: str) -> str:
        from trailsmith.spark.saved import spark_sql

        return spark_sql(name)

    def show_saved(self, name: str) -> str:
        from trailsmith.spark.saved import show

        return show(name)

    @contextlib.contextmanager
    def usage_source(self, warehouse: str | os.PathLike[str] | None) -> Iterator[SparkUsage]:
        require_pyspark(self.master)
        from trailsmith.spark.policy import SparkUsage

        yield SparkUsage.open(warehouse, master=self.master)


def backend(spark_master: str) -> SparkBackend:
    """The Spark backend on ``spark_master``."""
    return SparkBackend(spark_master)
