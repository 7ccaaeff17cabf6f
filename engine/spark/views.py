"""The derived views on Spark: ``actions``, ``calls``, ``principals``, ``resources_touched``.

They are :mod:`trailsmith.sql.views`' own SQL, translated by sqlglot (:mod:`trailsmith.spark.translate`), so
the two engines cannot drift apart; the parity tests compare every saved query built on them. ``actions``
is the same Arrow table as on DuckDB (:func:`trailsmith.actions.mapping.mapping_table` of the distinct
(eventSource, eventName) pairs present), handed to Spark as a small DataFrame: the mapping is Python,
checked against the IAM reference data, and a warehouse holds a few thousand pairs at most.

All four are session temp views over the ``events`` temp view (:func:`trailsmith.spark.sql.attach_views`),
so a filter on ``eventDate`` through them still prunes partitions. Finding the distinct pairs is a pass
over two columns of every event; its result is kept per snapshot (committed files never change), so
repeated queries over one snapshot pay for it once per process.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

import pyarrow as pa

from trailsmith.actions.mapping import mapping_table
from trailsmith.spark.translate import view_body
from trailsmith.sql import views

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: The derived views, in the order they must be created (each may read the ones before it).
NAMES: tuple[str, ...] = ("actions", "calls", "principals", "resources_touched")

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
_KEEP = 8


def attach_derived(spark: SparkSession, snapshot_key: Hashable | None = None) -> None:
    """Create (or replace) the derived temp views over the ``events`` temp view.

    ``snapshot_key`` names the snapshot ``events`` shows (None: do not reuse a mapping table).
    """
    table = _MAPPINGS.get(snapshot_key) if snapshot_key is not None else None
    if table is None:
        pairs = spark.sql(_PAIRS).toArrow().to_pylist()
        table = mapping_table((row["eventSource"], row["eventName"]) for row in pairs)
        if snapshot_key is not None:
            while len(_MAPPINGS) >= _KEEP:
                _MAPPINGS.pop(next(iter(_MAPPINGS)))
            _MAPPINGS[snapshot_key] = table
    spark.createDataFrame(table).createOrReplaceTempView("actions")
    for statement in statements():
        name, body = view_body(statement)
        spark.sql(body).createOrReplaceTempView(name)
