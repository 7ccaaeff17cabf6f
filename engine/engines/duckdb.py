"""The DuckDB engine: ingest by this machine's worker processes, SQL and policy aggregation in DuckDB."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from trailsmith.ingestion.driver import IngestReport
from trailsmith.ingestion.driver import ingest as ingest_files
from trailsmith.policy.source import DuckDBUsage
from trailsmith.sql import db, saved


@dataclass(frozen=True)
class DuckDBBackend:
    """:class:`trailsmith.engines.Backend` on DuckDB."""

    def ingest(
        self, sources: Sequence[str], warehouse: str | os.PathLike[str] | None, **options: Any
    ) -> IngestReport:
        return ingest_files(sources, warehouse, **options)

    def query(
        self, sql: str, warehouse: str | os.PathLike[str] | None, params: Mapping[str, Any]
    ) -> pa.Table:
        return db.query(sql, warehouse, params)

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
        connection = db.connect(warehouse, memory_limit=memory_limit)
        try:
            yield db.execute(connection, sql, params, timeout=timeout)
        finally:
            db.close(connection)

    def run_saved(
        self, name: str, warehouse: str | os.PathLike[str] | None, params: Mapping[str, Any]
    ) -> pa.Table:
        return saved.run_saved(name, warehouse, **dict(params))

    def saved_sql(self, name: str) -> str:
        return saved.load(name).sql

    def show_saved(self, name: str) -> str:
        return saved.source(name)

    @contextlib.contextmanager
    def usage_source(self, warehouse: str | os.PathLike[str] | None) -> Iterator[DuckDBUsage]:
        connection = db.connect(warehouse)
        try:
            yield DuckDBUsage(connection)
        finally:
            db.close(connection)


def backend(spark_master: str) -> DuckDBBackend:
    """The DuckDB backend (``spark_master`` is not used)."""
    return DuckDBBackend()
