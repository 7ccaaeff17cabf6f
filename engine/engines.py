"""Which engine runs the work: DuckDB on this machine (the default) or Apache Spark (optional extra).

Both write and read the same warehouse (same layout, types, snapshots and exactly-once rules), so a
warehouse written by one is read and appended to by the other. This module only dispatches: it imports
neither engine until one is asked for, so choosing DuckDB never loads pyspark, and choosing Spark without
pyspark installed says how to install it (:class:`trailsmith.errors.MissingDependencyError`).

What goes to the engine: ingest, SQL, saved queries, and the policy aggregation (:class:`UsageSource`:
the heavy pass over the events); what stays in this process: the policy documents built from the few
thousand aggregated rows.

>>> Engine("spark").value
'spark'
"""

from __future__ import annotations

import abc
import contextlib
import enum
import os
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import pyarrow as pa

from trailsmith.ingest import IngestReport
from trailsmith.spark_session import DEFAULT_MASTER

if TYPE_CHECKING:
    import duckdb

    from trailsmith.policy_usage import Filters


class Engine(str, enum.Enum):
    """The engines, by the names ``--engine`` takes."""

    duckdb = "duckdb"
    spark = "spark"


def ingest(
    sources: Sequence[str],
    warehouse: str | os.PathLike[str] | None = None,
    *,
    engine: Engine | str = Engine.duckdb,
    spark_master: str = DEFAULT_MASTER,
    **options: Any,
) -> IngestReport:
    """:func:`trailsmith.ingest` on ``engine``; ``options`` are its keyword arguments.

    With Spark, ``workers`` is not used (the master decides the parallelism) and ``spark_master`` is any
    Spark master URL or a Spark Connect ``sc://`` URL.
    """
    if Engine(engine) is Engine.spark:
        from trailsmith.spark_session import require_pyspark

        require_pyspark(spark_master)
        from trailsmith.spark_ingest import ingest as spark_ingest

        options.pop("workers", None)
        return spark_ingest(sources, warehouse, master=spark_master, **options)
    from trailsmith.ingest import ingest as duckdb_ingest

    return duckdb_ingest(sources, warehouse, **options)


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
    if Engine(engine) is Engine.spark:
        from trailsmith.spark_session import require_pyspark

        require_pyspark(spark_master)
        from trailsmith.spark_sql import sql as spark_sql

        return spark_sql(sql, warehouse, params, master=spark_master)
    from trailsmith.db import query as duckdb_query

    return duckdb_query(sql, warehouse, params)


def run_saved(
    name: str,
    warehouse: str | os.PathLike[str] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    engine: Engine | str = Engine.duckdb,
    spark_master: str = DEFAULT_MASTER,
) -> pa.Table:
    """:func:`trailsmith.run_saved` on ``engine``: saved query ``name`` with ``params`` over its defaults.

    On Spark the query is its sqlglot translation or hand-written variant (:mod:`trailsmith.spark_saved`).
    """
    if Engine(engine) is Engine.spark:
        from trailsmith.spark_session import require_pyspark

        require_pyspark(spark_master)
        from trailsmith.spark_saved import run_saved as spark_run_saved

        return spark_run_saved(name, warehouse, master=spark_master, **dict(params or {}))
    from trailsmith.saved import run_saved as duckdb_run_saved

    return duckdb_run_saved(name, warehouse, **dict(params or {}))


def saved_sql(name: str, engine: Engine | str = Engine.duckdb) -> str:
    """The SQL text saved query ``name`` runs on ``engine`` (Spark SQL: ``:name`` parameters)."""
    if Engine(engine) is Engine.spark:
        from trailsmith.spark_saved import spark_sql

        return spark_sql(name)
    from trailsmith.saved import load

    return load(name).sql


class UsageSource(abc.ABC):
    """The queries policy generation sends to an engine (:mod:`trailsmith.policy_usage`): the heavy
    aggregation, and the two small lookups that resolve principals and instance profiles."""

    @abc.abstractmethod
    def known_principals(self) -> list[str]:
        """Every policy holder ARN in the warehouse, sorted."""

    @abc.abstractmethod
    def instance_profile_roles(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """(account, instance profile name) -> role names, from successful AddRoleToInstanceProfile."""

    @abc.abstractmethod
    def aggregate(self, filters: Filters) -> pa.Table:
        """The usage aggregation (:func:`trailsmith.policy_usage.usage_sql`) as an Arrow table."""


class DuckDBUsage(UsageSource):
    """The usage queries on a DuckDB connection of :func:`trailsmith.db.connect`."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection

    def known_principals(self) -> list[str]:
        from trailsmith.policy_usage import known_principals

        return known_principals(self.connection)

    def instance_profile_roles(self) -> dict[tuple[str, str], tuple[str, ...]]:
        from trailsmith.policy_usage import instance_profile_roles

        return instance_profile_roles(self.connection)

    def aggregate(self, filters: Filters) -> pa.Table:
        from trailsmith.policy_usage import aggregate

        return aggregate(self.connection, filters)


def as_usage_source(source: UsageSource | duckdb.DuckDBPyConnection) -> UsageSource:
    """``source`` itself, or a DuckDB connection wrapped (callers that hold a connection keep working)."""
    return source if isinstance(source, UsageSource) else DuckDBUsage(source)


@contextlib.contextmanager
def usage_source(
    warehouse: str | os.PathLike[str] | None = None,
    *,
    engine: Engine | str = Engine.duckdb,
    spark_master: str = DEFAULT_MASTER,
) -> Iterator[UsageSource]:
    """The warehouse's latest snapshot, open on ``engine`` for policy generation; closed on exit."""
    if Engine(engine) is Engine.spark:
        from trailsmith.spark_session import require_pyspark

        require_pyspark(spark_master)
        from trailsmith.spark_policy import SparkUsage

        yield SparkUsage.open(warehouse, master=spark_master)
        return
    from trailsmith.db import connect

    connection = connect(warehouse)
    try:
        yield DuckDBUsage(connection)
    finally:
        connection.close()
