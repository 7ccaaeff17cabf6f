"""Policies with the usage aggregation on Spark are DuckDB's, byte for byte.

The aggregation (:func:`trailsmith.policy.usage.usage_sql`, translated by sqlglot) and its two lookups run
on Spark; the documents are built in this process from the rows Spark returns. The golden policies of
data/sample must come out unchanged, and so must the policies, explanations and usage rows of a wider
warehouse (the sample, the real captures when present and ``helpers.spark_parity.edge_records``) under every
kind of filter.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

import trailsmith.policy.generator as policy
from helpers.paths import GOLDEN_POLICIES
from helpers.spark_parity import differences, edge_warehouse
from trailsmith.policy.render import explanation_json, terraform, unique_names

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SPARK: dict[str, Any] = {"engine": "spark", "spark_master": "local[2]"}  # the test session, reused


@pytest.fixture(scope="module")
def edges(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return edge_warehouse(tmp_path_factory.getbasetemp())


def golden_files(warehouse: Path, **engine: Any) -> dict[str, str]:
    """The files of tests/golden/policy, as tests/policy/test_policy_golden.py makes them, on ``engine``."""
    exact = policy.generate(warehouse, **engine)
    names = unique_names([p.principal for p in exact])
    files = {f"{names[p.principal]}.json": p.to_json() for p in exact if p.documents}
    wide = policy.generate(warehouse, resources="generalize", **engine)
    files["generalize.json"] = "".join(f"// {p.principal}\n{p.to_json()}" for p in wide if p.documents)
    sets = policy.generate(warehouse, group="permission-set", **engine)
    files["permission-sets.tf"] = "\n".join(
        terraform(p) for p in sets if p.principal.startswith("permission-set/")
    )
    deployer = next(p for p in exact if p.principal.endswith(":role/app-deployer"))
    files["app-deployer.explain.json"] = explanation_json(deployer)
    return files


def test_the_sample_s_golden_policies_come_out_of_spark_unchanged(
    sample_warehouse: Path, spark: SparkSession
) -> None:
    files = golden_files(sample_warehouse, **SPARK)
    assert sorted(files) == sorted(p.name for p in GOLDEN_POLICIES.iterdir())
    for name, text in sorted(files.items()):
        assert (GOLDEN_POLICIES / name).read_text(encoding="utf-8") == text, f"{name} differs on Spark"


def everything(policies: list[policy.PrincipalPolicy]) -> list[tuple[str, str, str]]:
    return [(p.principal, p.to_json(), explanation_json(p)) for p in policies]


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"since": "2024-08-02T06:00:00Z", "until": "2024-08-02"},
        {"regions": ["eu-west-1"], "accounts": ["062058595613", "012345678901"]},
        {"principals": ["arn:aws:iam::012345678901:user/ops/eve"], "resources": "generalize"},
        {"group": "permission-set", "resources": "service", "since": "2024-03-01"},
    ],
    ids=["all", "window", "regions-accounts", "one-principal", "permission-sets"],
)
def test_policies_and_explanations_are_the_same_on_both_engines(
    filters: dict[str, Any], edges: Path, spark: SparkSession
) -> None:
    options = dict(filters)
    principals = options.pop("principals", None)
    expected = everything(policy.generate(edges, principals, **options))
    assert expected
    assert everything(policy.generate(edges, principals, **options, **SPARK)) == expected


def test_usage_rows_are_the_same_on_both_engines(edges: Path, spark: SparkSession) -> None:
    expected = policy.usage(edges, since="2024-03-01")
    assert expected.num_rows > 100
    # usage() sorts on these; rows that tie on all of them keep the aggregation's order, on either engine
    order = [
        "principalArn",
        "eventSource",
        "eventName",
        "outcome",
        "reason",
        "action",
        "resource",
        "resourceKind",
    ]
    assert not differences(expected, policy.usage(edges, since="2024-03-01", **SPARK), order)


def test_policy_command_on_spark_prints_the_same_document(
    sample_warehouse: Path, spark: SparkSession
) -> None:
    from trailsmith.cli.app import _register, app

    _register()
    args = [
        "policy",
        "-p",
        "arn:aws:iam::062058595613:role/app-deployer",
        "-w",
        str(sample_warehouse),
        "--quiet",
    ]
    on_spark = CliRunner().invoke(app, [*args, "--engine", "spark", "--spark-master", "local[2]"])
    assert on_spark.exit_code == 0, on_spark.output
    assert on_spark.stdout == CliRunner().invoke(app, args).stdout
    assert '"Version": "2012-10-17"' in on_spark.stdout
