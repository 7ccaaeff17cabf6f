"""Which engine runs the work: DuckDB on this machine (the default) or Apache Spark (optional extra).

Both write and read the same warehouse (same layout, types, snapshots and exactly-once rules), so a
warehouse written by one is read and appended to by the other. This module only dispatches: it imports
neither engine until one is asked for, so choosing DuckDB never loads pyspark, and choosing Spark without
pyspark installed says how to install it (:class:`trailsmith.errors.MissingDependencyError`).

>>> Engine("spark").value
'spark'
"""

from __future__ import annotations

import enum
import os
from typing import Any, Mapping, Sequence

import pyarrow as pa

from trailsmith.ingest import IngestReport
from trailsmith.spark_session import DEFAULT_MASTER


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

    The SQL is the engine's own dialect (DuckDB or Spark SQL) until saved queries are translated.
    """
    if Engine(engine) is Engine.spark:
        from trailsmith.spark_session import require_pyspark

        require_pyspark(spark_master)
        from trailsmith.spark_sql import sql as spark_sql

        return spark_sql(sql, warehouse, params, master=spark_master)
    from trailsmith.db import query as duckdb_query

    return duckdb_query(sql, warehouse, params)
