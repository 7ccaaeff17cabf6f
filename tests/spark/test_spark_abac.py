"""``policy --abac`` with its queries on Spark (the aggregation, the tagging and session calls, the access
keys) gives DuckDB's policies, byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from helpers import abac_records
from trailsmith.iam import replay
from trailsmith.policy.render import explanation_json

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def test_abac_policies_are_the_same_on_both_engines(tmp_path: Path, spark: SparkSession) -> None:
    warehouse = abac_records.warehouse(tmp_path)
    expected = replay.generate(warehouse, abac=True)
    assert any(s.conditions for p in expected for s in p.statements)
    found = replay.generate(warehouse, abac=True, engine="spark", spark_master="local[2]")
    assert [p.principal for p in found] == [p.principal for p in expected]
    for mine, theirs in zip(found, expected, strict=True):
        assert mine.to_json() == theirs.to_json(), mine.principal
        assert explanation_json(mine) == explanation_json(theirs), mine.principal
