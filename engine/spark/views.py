"""The derived views on Spark: ``actions``, ``calls``, ``principals``, ``resources_touched``,
``resource_tags`` and ``session_tags``.

They are :mod:`trailsmith.sql.views`' own SQL, translated by sqlglot (:mod:`trailsmith.spark.translate`), so
the two engines cannot drift apart; the parity tests compare every saved query built on them. ``actions``
is the same Arrow table as on DuckDB (:func:`trailsmith.actions.mapping.mapping_table` of the distinct
(eventSource, eventName) pairs present), handed to Spark as a small DataFrame: the mapping is Python,
checked against the IAM reference data, and a warehouse holds a few thousand pairs at most.

All are session temp views over the ``events`` temp view (:func:`trailsmith.spark.sql.attach_views`),
so a filter on ``eventDate`` through them still prunes partitions. Finding the distinct pairs is a pass
over two columns of every event; its result is kept per snapshot (committed files never change), so
repeated queries over one snapshot pay for it once per process.

``resource_tags`` and ``session_tags`` are the tables :mod:`trailsmith.sql.tags` builds, from the candidate
events its own SQL selects (translated), collected to the driver and handed back as small DataFrames, as
``actions`` is: Spark's read-only guard admits no Python function in a plan, so the DuckDB views' functions
cannot be called here. They are built only for a query that names them (``tags``), and kept per snapshot.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

import pyarrow as pa

from trailsmith.actions.mapping import mapping_table
from trailsmith.spark.translate import to_spark, view_body
from trailsmith.sql import tags as tag_tables
from trailsmith.sql import views

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: The derived views, in the order they must be created (each may read the ones before it).
NAMES: tuple[str, ...] = (
    "actions",
    "calls",
    "principals",
    "resources_touched",
    "resource_tags",
    "session_tags",
)

#: The derived views made by Python over a few events, built only for a query that names them.
TAG_NAMES: tuple[str, ...] = ("resource_tags", "session_tags")

_PAIRS = (
    "SELECT DISTINCT eventSource, eventName FROM events "
    "WHERE eventSource IS NOT NULL AND eventName IS NOT NULL"
)


def statements() -> list[str]:
    """The DuckDB statements that create ``calls``, ``principals`` and ``resources_touched``."""
    # views.py builds them in private helpers; they are read here so there is one definition of each view
    return [views._calls_sql(), views._PRINCIPALS, views._resources_sql()]


#: mapping tables of recent snapshots, by the key :func:`attach_derived` is given
_MAPPINGS: dict[Hashable, pa.Table] = {}
#: tag tables of recent snapshots, by (key, view name)
_TAGS: dict[Hashable, pa.Table] = {}
_KEEP = 8


def attach_derived(spark: SparkSession, snapshot_key: Hashable | None = None, *, tags: bool = True) -> None:
    """Create (or replace) the derived temp views over the ``events`` temp view.

    ``snapshot_key`` names the snapshot ``events`` shows (None: do not reuse a mapping table); ``tags``
    also builds ``resource_tags`` and ``session_tags`` (a pass over the tagging and session calls).
    """
    table = _cached(_MAPPINGS, snapshot_key, lambda: _mapping(spark))
    spark.createDataFrame(table).createOrReplaceTempView("actions")
    for statement in statements():
        name, body = view_body(statement)
        spark.sql(body).createOrReplaceTempView(name)
    if tags:
        attach_tags(spark, snapshot_key)


def attach_tags(spark: SparkSession, snapshot_key: Hashable | None = None) -> None:
    """Create ``resource_tags`` and ``session_tags``: :mod:`trailsmith.sql.tags`' tables of the candidate
    events its SQL selects from the ``events`` temp view."""
    builders: dict[str, tuple[str, Callable[[pa.Table], pa.Table]]] = {
        "resource_tags": (tag_tables.resource_events_sql(), tag_tables.resource_tags),
        "session_tags": (tag_tables.session_events_sql(), tag_tables.session_tags),
    }
    for name, (sql, build) in builders.items():
        key = None if snapshot_key is None else (snapshot_key, name)
        table = _cached(_TAGS, key, functools.partial(_tag_table, spark, sql, build))
        spark.createDataFrame(table).createOrReplaceTempView(name)


def _tag_table(spark: SparkSession, sql: str, build: Callable[[pa.Table], pa.Table]) -> pa.Table:
    return build(spark.sql(to_spark(sql)).toArrow())


def _mapping(spark: SparkSession) -> pa.Table:
    pairs = spark.sql(_PAIRS).toArrow().to_pylist()
    return mapping_table((row["eventSource"], row["eventName"]) for row in pairs)


def _cached(cache: dict[Hashable, pa.Table], key: Hashable | None, make: Callable[[], pa.Table]) -> pa.Table:
    """``make()``, kept in ``cache`` under ``key`` (the last :data:`_KEEP`; None: not kept)."""
    table = cache.get(key) if key is not None else None
    if table is None:
        table = make()
        if key is not None:
            while len(cache) >= _KEEP:
                cache.pop(next(iter(cache)))
            cache[key] = table
    return table
