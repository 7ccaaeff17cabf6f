"""Which engine runs the work: DuckDB on this machine (the default) or Apache Spark (optional extra).

Both write and read the same warehouse (same layout, types, snapshots and exactly-once rules), so a
warehouse written by one is read and appended to by the other. This module only dispatches: each engine is
one :class:`Backend` object, registered below by module name and imported when it is first asked for, so
choosing DuckDB never loads pyspark, and choosing Spark without pyspark installed says how to install it
(:class:`trailsmith.errors.MissingDependencyError`).

What goes to the engine: ingest, SQL, saved queries, and the policy aggregation (the heavy pass over the
events, :class:`trailsmith.policy.source.UsageSource`); what stays in this process: the policy documents
built from the few thousand aggregated rows.

>>> Engine("spark").value
'spark'
>>> sorted(e.value for e in Engine) == sorted(BACKENDS)
True
"""

from __future__ import annotations

import enum
import importlib
import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from trailsmith.ingestion.driver import IngestReport
    from trailsmith.policy.source import UsageSource

#: The default ``--spark-master``: every core of this machine.
DEFAULT_MASTER = "local[*]"


class Engine(str, enum.Enum):
    """The engines, by the names ``--engine`` takes."""

    duckdb = "duckdb"
    spark = "spark"


class Backend(Protocol):
    """What one engine does for trailsmith. ``warehouse`` is a path, or None for the default one."""

    def ingest(
        self, sources: Sequence[str], warehouse: str | os.PathLike[str] | None, **options: Any
    ) -> IngestReport:
        """:func:`trailsmith.ingest` on this engine; ``options`` are its keyword arguments."""
        ...

    def query(
        self, sql: str, warehouse: str | os.PathLike[str] | None, params: Mapping[str, Any]
    ) -> pa.Table:
        """One reading statement in the engine's own dialect, the result as an Arrow table."""
        ...

    def stream(
        self,
        sql: str,
        warehouse: str | os.PathLike[str] | None,
        params: Mapping[str, Any],
        *,
        timeout: float | None = None,
        memory_limit: str | None = None,
    ) -> AbstractContextManager[pa.RecordBatchReader]:
        """The same, as batches read while the warehouse stays open (closed on exit).

        ``timeout`` (seconds) and ``memory_limit`` bound the query where the engine can
        (:func:`trailsmith.sql.db.connect`, :func:`trailsmith.sql.db.execute`); None: the engine's default.
        """
        ...

    def run_saved(
        self, name: str, warehouse: str | os.PathLike[str] | None, params: Mapping[str, Any]
    ) -> pa.Table:
        """Saved query ``name`` with ``params`` over its defaults."""
        ...

    def saved_sql(self, name: str) -> str:
        """The SQL text saved query ``name`` runs on this engine."""
        ...

    def show_saved(self, name: str) -> str:
        """What ``trailsmith query NAME --show`` prints for this engine."""
        ...

    def usage_source(self, warehouse: str | os.PathLike[str] | None) -> AbstractContextManager[UsageSource]:
        """The warehouse's latest snapshot, open for policy generation; closed on exit."""
        ...


#: Engine -> the module whose ``backend(spark_master)`` makes its :class:`Backend`. Imported on first use.
BACKENDS: dict[str, str] = {
    Engine.duckdb.value: "trailsmith.engines.duckdb",
    Engine.spark.value: "trailsmith.spark.backend",
}


def backend(engine: Engine | str = Engine.duckdb, *, spark_master: str = DEFAULT_MASTER) -> Backend:
    """The :class:`Backend` of ``engine`` (``spark_master``: any Spark master URL or a Spark Connect ``sc://``).

    >>> type(backend("duckdb")).__name__
    'DuckDBBackend'
    """
    module = importlib.import_module(BACKENDS[Engine(engine).value])
    made: Backend = module.backend(spark_master)
    return made


def ingest(
    sources: Sequence[str],
    warehouse: str | os.PathLike[str] | None = None,
    *,
    engine: Engine | str = Engine.duckdb,
    spark_master: str = DEFAULT_MASTER,
    **options: Any,
) -> IngestReport:
    """:func:`trailsmith.ingest` on ``engine``; ``options`` are its keyword arguments.

    With Spark, ``workers`` is not used (the master decides the parallelism).
    """
    return backend(engine, spark_master=spark_master).ingest(sources, warehouse, **options)


def query(
    sql: str,
    warehouse: str | os.PathLike[str] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    engine: Engine | str = Engine.duckdb,
    spark_master: str = DEFAULT_MASTER,
) -> pa.Table:
    """:func:`trailsmith.query` on ``engine``: one reading statement, the result as an Arrow table.

    The SQL is the engine's own dialect (DuckDB or Spark SQL); saved queries, written for DuckDB, run on
    either with :func:`run_saved`.
    """
    return backend(engine, spark_master=spark_master).query(sql, warehouse, params or {})


def run_saved(
    name: str,
    warehouse: str | os.PathLike[str] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    engine: Engine | str = Engine.duckdb,
    spark_master: str = DEFAULT_MASTER,
) -> pa.Table:
    """:func:`trailsmith.run_saved` on ``engine``: saved query ``name`` with ``params`` over its defaults.

    On Spark the query is its sqlglot translation or hand-written variant (:mod:`trailsmith.spark.saved`).
    """
    return backend(engine, spark_master=spark_master).run_saved(name, warehouse, params or {})


def saved_sql(name: str, engine: Engine | str = Engine.duckdb) -> str:
    """The SQL text saved query ``name`` runs on ``engine`` (Spark SQL: ``:name`` parameters)."""
    return backend(engine).saved_sql(name)


def usage_source(
    warehouse: str | os.PathLike[str] | None = None,
    *,
    engine: Engine | str = Engine.duckdb,
    spark_master: str = DEFAULT_MASTER,
) -> AbstractContextManager[UsageSource]:
    """The warehouse's latest snapshot, open on ``engine`` for policy generation; closed on exit."""
    return backend(engine, spark_master=spark_master).usage_source(warehouse)
