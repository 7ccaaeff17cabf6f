"""``resource_tags`` and ``session_tags`` on Spark give DuckDB's rows, over hand-written records and the
sample, and are built only for a query that names them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import trailsmith
from helpers import tag_records as tr
from trailsmith.spark.sql import names_derived
from trailsmith.spark.sql import sql as spark_sql
from trailsmith.spark.views import TAG_NAMES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

QUERIES = {
    "resource_tags": "SELECT resourceArn, tagKey, tagValue, validFrom, validUntil, eventID, eventName, "
    "accountId, region FROM resource_tags",
    "session_tags": "SELECT roleArn, sessionArn, accessKeyId, tagKey, tagValue, transitive, eventTime, "
    "expiration, eventID, eventName, accountId FROM session_tags",
}


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("spark-tags")
    tr.write(base / "trail")
    trailsmith.ingest([str(base / "trail")], base / "wh", workers=1)
    return base / "wh"


def _rows(table: Any) -> list[tuple[Any, ...]]:
    return sorted((tuple(row.values()) for row in table.to_pylist()), key=repr)


@pytest.mark.parametrize("view", sorted(QUERIES))
def test_same_rows_as_duckdb(spark: SparkSession, tagged: Path, sample_warehouse: Path, view: str) -> None:
    for warehouse in (tagged, sample_warehouse):
        on_duckdb = trailsmith.query(QUERIES[view], warehouse)
        on_spark = spark_sql(QUERIES[view], warehouse, spark=spark)
        assert on_spark.schema.names == on_duckdb.schema.names
        assert _rows(on_spark) == _rows(on_duckdb)
    got = spark_sql(QUERIES["resource_tags"], tagged, spark=spark).to_pylist()
    assert sorted(tuple(row.values()) for row in got) == tr.RESOURCE_TAGS


def test_session_tags_on_spark(spark: SparkSession, tagged: Path) -> None:
    text = QUERIES["session_tags"].replace(", accountId FROM", " FROM") + " ORDER BY eventTime, tagKey"
    got = [tuple(row.values()) for row in spark_sql(text, tagged, spark=spark).to_pylist()]
    assert got == tr.SESSION_TAGS


def test_built_only_when_named(spark: SparkSession, tagged: Path) -> None:
    """A query that does not name the tag views never builds them (no pass over the tagging calls)."""
    assert names_derived("SELECT tagKey FROM Resource_Tags", TAG_NAMES)
    assert not names_derived("SELECT eventName FROM calls", TAG_NAMES)
    for name in TAG_NAMES:
        spark.catalog.dropTempView(name)
    spark_sql("SELECT count(*) AS n FROM calls", tagged, spark=spark)
    assert not {name for name in TAG_NAMES if spark.catalog.tableExists(name)}
    table = spark_sql("SELECT count(*) AS n FROM session_tags", tagged, spark=spark)
    assert table.to_pylist() == [{"n": len(tr.SESSION_TAGS)}]
