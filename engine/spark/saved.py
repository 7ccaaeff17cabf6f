"""Saved queries on Spark: each ``queries/<name>.sql`` translated by sqlglot, unless it has a variant.

A saved query is written once, in DuckDB's dialect, and translated (:mod:`trailsmith.spark.translate`).
Where the translation is not faithful (it fails, or gives other results), a hand-written Spark SQL
variant sits in ``queries/spark/<name>.sql`` and :data:`VARIANTS` says why. The parity tests
(``tests/spark/test_spark_queries.py``) run every saved query on both engines over the same warehouse, so a
query that is neither faithfully translated nor given a variant fails there, and so does a variant
listed here without a reason that still holds.

A variant keeps its query's contract: the same ``$parameters`` (written ``$name`` as in the DuckDB file,
bound as Spark named parameters) and the same columns, in the same order.
"""

from __future__ import annotations

import os
from importlib import resources
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from trailsmith.engines import DEFAULT_MASTER
from trailsmith.spark.translate import to_spark
from trailsmith.sql import saved

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Saved queries that need a hand-written Spark variant, with the reason the translation is not faithful.
VARIANTS: dict[str, str] = {
    "activity_by_region": "list_contains($allowed, awsRegion) becomes array_contains, which differs on a "
    "NULL region: DuckDB's is false for an empty list whatever the value, Spark's is NULL",
}

_FOLDER = "spark"


def variant_source(name: str) -> str | None:
    """The text of ``queries/spark/<name>.sql``, or None when ``name`` has no variant."""
    entry = resources.files(saved.PACKAGE).joinpath(_FOLDER).joinpath(f"{name}.sql")
    return entry.read_text(encoding="utf-8") if entry.is_file() else None


def variant_names() -> list[str]:
    """Names of the saved queries that have a variant file, sorted."""
    folder = resources.files(saved.PACKAGE).joinpath(_FOLDER)
    if not folder.is_dir():
        return []
    return sorted(entry.name[: -len(".sql")] for entry in folder.iterdir() if entry.name.endswith(".sql"))


def translated(name: str) -> str:
    """Saved query ``name`` translated from DuckDB's dialect by sqlglot (``:name`` parameters)."""
    return to_spark(saved.load(name).sql)


def spark_sql(name: str) -> str:
    """The Spark SQL that runs for saved query ``name``: its variant's, else its translation.

    >>> print(spark_sql("root_activity").splitlines()[0])  # doctest: +ELLIPSIS
    SELECT eventTime, accountId, awsRegion, eventSource, eventName, outcome, errorCode, ...
    """
    variant = variant_source(name)
    return saved.parse(name, variant).sql if variant is not None else translated(name)


def show(name: str) -> str:
    """What ``trailsmith query NAME --show --engine spark`` prints: the Spark SQL, with where it came from."""
    variant = variant_source(name)
    if variant is not None:
        return variant
    origin = f"-- {name}: translated from queries/{name}.sql by sqlglot (DuckDB -> Spark SQL)"
    return f"{origin}\n{translated(name)}\n"


def run_saved(
    name: str,
    warehouse: str | os.PathLike[str] | None = None,
    *,
    master: str = DEFAULT_MASTER,
    spark: SparkSession | None = None,
    **params: Any,
) -> pa.Table:
    """:func:`trailsmith.run_saved` on Spark: saved query ``name`` with ``params`` over its defaults.

    >>> run_saved("denied_calls", "warehouse", start="2024-08-01")  # doctest: +SKIP
    """
    from trailsmith.spark.sql import sql

    query = saved.load(name)
    text = spark_sql(name)
    return sql(text, warehouse, query.bind(params), master=master, spark=spark, trusted=True)
