"""``policy --conditions all`` with the usage aggregation on Spark gives DuckDB's policies, byte for byte.

The request-context columns the keys read (``s3Prefix`` included, a JSON extraction sqlglot translates) are
grouped by on Spark; the proposals, the replay and the documents are built in this process from its rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from trailsmith.iam import replay
from trailsmith.policy.render import explanation_json

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def test_conditioned_policies_are_the_same_on_both_engines(
    sample_warehouse: Path, spark: SparkSession
) -> None:
    expected = replay.generate(sample_warehouse, conditions="all")
    assert any(s.conditions for p in expected for s in p.statements if p.conditions_asked)
    found = replay.generate(sample_warehouse, conditions="all", engine="spark", spark_master="local[2]")
    assert [p.principal for p in found] == [p.principal for p in expected]
    for mine, theirs in zip(found, expected, strict=True):
        assert mine.to_json() == theirs.to_json(), mine.principal
        assert explanation_json(mine) == explanation_json(theirs), mine.principal
