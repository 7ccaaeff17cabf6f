"""Saved queries and derived views on Spark give DuckDB's results, over the same warehouses.

Every saved query runs on both engines over data/sample with its defaults (and Spark's CSV must be the
golden file, byte for byte), then over a wider warehouse (the sample, the real captures when present, and
records made to find differences: see ``helpers.spark_parity.edge_records``) with its defaults and with other
values for its parameters. On Spark a query runs as its sqlglot translation unless it has a hand-written
variant (``trailsmith.spark.saved.VARIANTS``): a query whose translation is not faithful and which has
no variant fails here, with what to do about it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

import trailsmith
from helpers.paths import GOLDEN_QUERIES
from helpers.spark_parity import as_csv, differences, edge_warehouse, order_columns
from trailsmith.errors import QueryError
from trailsmith.spark import saved as spark_saved
from trailsmith.sql import saved
from trailsmith.warehouse.store import Warehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

NAMES = saved.names()

#: Values other than the defaults, so that every parameter type is bound on Spark (dates, booleans, lists,
#: empty lists, integers, LIKE patterns) and windows cut through the data.
CASES: dict[str, list[dict[str, Any]]] = {
    "access_keys": [{"temporary": "true"}, {"start": "2024-08-02", "end": "2024-08-02"}],
    "activity_by_region": [{"allowed": "us-east-1,eu-west-1"}, {"allowed": []}],
    "console_logins_without_mfa": [{"start": "2024-03-02"}],
    "cross_account": [{"end": "2024-03-02"}],
    "denied_calls": [{"end": "2024-08-01"}],
    "errors_by_service": [{"start": "2024-08-02"}],
    "iam_changes": [{"start": "2024-08-02"}],
    "new_actions": [{"days": "2"}, {"days": "0"}],
    "passed_roles": [{"start": "2024-08-02"}],
    "root_activity": [{"end": "2024-08-01"}],
    "s3_data_access": [{"bucket": "%data%"}, {"bucket": "b_ck%"}],
    "top_principals": [{"limit": "3"}],
    "usage": [{"principal": "%:role/service/%", "start": "2024-08-02"}, {"principal": "%:user/%"}],
}


@pytest.fixture(scope="module")
def edges(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return edge_warehouse(tmp_path_factory.getbasetemp())


def on_spark(spark: SparkSession, name: str, warehouse: Path, params: dict[str, Any]) -> Any:
    return spark_saved.run_saved(name, warehouse, spark=spark, **params)


# --- every saved query ------------------------------------------------------------------------------------


def test_every_saved_query_has_cases_for_its_parameters() -> None:
    for name in NAMES:
        if saved.load(name).parameters:
            assert CASES.get(name), f"give {name} parameter values to check on Spark in CASES"
    assert set(CASES) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_saved_query_gives_duckdb_s_results_on_spark(
    name: str, sample_warehouse: Path, edges: Path, spark: SparkSession
) -> None:
    query = saved.load(name)
    order = order_columns(query.sql, [column for column, _ in query.columns])
    assert order, f"{name}: its ORDER BY keys should be output columns, so that the order is compared too"
    sparked = on_spark(spark, name, sample_warehouse, {})
    assert as_csv(sparked).decode() == (GOLDEN_QUERIES / f"{name}.csv").read_text(), (
        f"{name} on Spark is not its golden file"
    )
    failures: list[str] = []
    for params in [{}, *CASES.get(name, [])]:
        expected = trailsmith.run_saved(name, edges, **params)
        try:
            got = on_spark(spark, name, edges, params)
        except QueryError as exc:
            failures.append(f"with {params or 'defaults'} it fails on Spark: {exc}")
            continue
        failures += [
            f"with {params or 'defaults'}: {problem}" for problem in differences(expected, got, order)
        ]
    if name in spark_saved.VARIANTS:
        assert not failures, f"{name}: the variant queries/spark/{name}.sql is wrong: " + "; ".join(failures)
    assert not failures, (
        f"{name}: the sqlglot translation is not faithful on Spark: "
        + "; ".join(failures)
        + f". Write a Spark SQL variant in queries/spark/{name}.sql and list it, with the reason, in "
        "trailsmith.spark.saved.VARIANTS"
    )


def test_variants_are_listed_with_a_reason_that_still_holds(edges: Path, spark: SparkSession) -> None:
    """Each variant file is in VARIANTS with its reason, keeps its query's parameters, and is still needed:
    the translation of its query fails or differs on at least one case."""
    assert set(spark_saved.variant_names()) == set(spark_saved.VARIANTS)
    from trailsmith.spark.sql import _scan, attach_views, check_read_only, run

    for name, reason in spark_saved.VARIANTS.items():
        assert len(reason) > 20, f"{name}: say why the translation is not faithful"
        declared = {p.name for p in saved.load(name).parameters}
        assert _scan(spark_saved.spark_sql(name))[2] == declared, f"{name}: the variant's parameters differ"
        attach_views(spark, Warehouse(edges))
        still_needed = False
        for params in [{}, *CASES.get(name, [])]:
            values = saved.load(name).bind(params)
            try:
                got = run(spark, check_read_only(spark_saved.translated(name), values), values)
            except QueryError:
                still_needed = True
                break
            query = saved.load(name)
            expected = trailsmith.run_saved(name, edges, **params)
            still_needed = bool(
                differences(expected, got, order_columns(query.sql, list(expected.schema.names)))
            )
            if still_needed:
                break
        assert still_needed, (
            f"{name}: its translation is faithful now; drop queries/spark/{name}.sql and its entry"
        )


def test_every_saved_query_runs_on_spark_over_an_empty_warehouse(tmp_path: Path, spark: SparkSession) -> None:
    Warehouse(tmp_path / "wh").create()
    for name in NAMES:
        table = on_spark(spark, name, tmp_path / "wh", {})
        assert table.num_rows == 0, name
        assert table.schema == trailsmith.run_saved(name, tmp_path / "wh").schema, name


# --- what the check catches ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duckdb_sql", "why"),
    [
        # DuckDB counts days of the week from Sunday = 0, Spark from Sunday = 1; sqlglot keeps the name
        ("SELECT eventID, dayofweek(eventTime) AS day FROM events ORDER BY eventID", "day"),
        # len(list) becomes length(), which Spark refuses on an array
        ("SELECT eventID, len(actions) AS n FROM calls ORDER BY eventID", "fails"),
    ],
)
def test_the_parity_check_catches_what_sqlglot_gets_wrong(
    duckdb_sql: str, why: str, sample_warehouse: Path, spark: SparkSession
) -> None:
    from trailsmith.spark.sql import sql
    from trailsmith.spark.translate import to_spark

    expected = trailsmith.query(duckdb_sql, sample_warehouse)
    if why == "fails":
        with pytest.raises(QueryError):
            sql(to_spark(duckdb_sql), sample_warehouse, spark=spark)
        return
    found = differences(expected, sql(to_spark(duckdb_sql), sample_warehouse, spark=spark), ["eventID"])
    assert any("rows instead of" in problem for problem in found), found


# --- the derived views --------------------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["actions", "calls", "principals", "resources_touched"])
def test_derived_view_is_the_same_on_both_engines(view: str, edges: Path, spark: SparkSession) -> None:
    from trailsmith.spark.sql import sql

    columns = trailsmith.query(f"SELECT * FROM {view} LIMIT 0", edges).schema.names
    text = f"SELECT {', '.join(columns)} FROM {view}"
    expected = trailsmith.query(text, edges)
    assert expected.num_rows > 0
    assert not differences(expected, sql(text, edges, spark=spark))


def test_views_do_not_depend_on_spark_s_ansi_mode(edges: Path, spark: SparkSession) -> None:
    """With ANSI mode off (Spark 3's default), size(NULL) is -1 unless the session pins it: resources_touched
    would lose the events without resources[]."""
    from trailsmith.spark.sql import sql

    text = "SELECT eventID, resourceArn, origin FROM resources_touched"
    before = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        got = sql(text, edges, spark=spark)
    finally:
        spark.conf.set("spark.sql.ansi.enabled", before)
    assert not differences(trailsmith.query(text, edges), got)


# --- the command line -----------------------------------------------------------------------------------


def cli(*args: str) -> Any:
    """The CLI in this process, so that it uses the test session's Spark (a subprocess would start one)."""
    from trailsmith.cli.app import _register, app

    _register()
    return CliRunner().invoke(app, list(args))


def test_query_command_on_spark_prints_what_duckdb_prints(
    sample_warehouse: Path, spark: SparkSession
) -> None:
    args = ["query", "top_principals", "-w", str(sample_warehouse), "--format", "csv", "--param", "limit=3"]
    on_spark = cli(*args, "--engine", "spark", "--spark-master", "local[2]")
    on_duckdb = cli(*args)
    assert on_spark.exit_code == 0, on_spark.output
    assert on_spark.stdout == on_duckdb.stdout and on_spark.stdout.count("\n") == 4


def test_query_show_on_spark_prints_the_spark_sql() -> None:
    shown = cli("query", "usage", "--show", "--engine", "spark")
    assert shown.exit_code == 0
    assert "translated from queries/usage.sql" in shown.stdout
    assert "EXPLODE(actions)" in shown.stdout and ":principal" in shown.stdout and "$" not in shown.stdout


def test_sql_on_spark_takes_colon_parameters_and_derived_views(
    sample_warehouse: Path, spark: SparkSession
) -> None:
    text = (
        "SELECT outcome, count(*) AS n FROM calls WHERE eventDate >= :day GROUP BY outcome ORDER BY outcome"
    )
    result = cli(
        "sql",
        text,
        "-w",
        str(sample_warehouse),
        "-p",
        "day:DATE=2024-08-02",
        "--format",
        "csv",
        "--engine",
        "spark",
    )
    assert result.exit_code == 0, result.output
    duckdb_text = text.replace(":day", "$day")
    assert (
        result.stdout
        == cli(
            "sql", duckdb_text, "-w", str(sample_warehouse), "-p", "day:DATE=2024-08-02", "--format", "csv"
        ).stdout
    )


def test_colon_parameters_are_found_outside_literals_and_casts() -> None:
    from trailsmith.spark.sql import check_read_only, names_derived

    text = "SELECT 'a:b', eventDate::string FROM events WHERE x = :p AND arn LIKE 'arn:aws:%' -- :q"
    assert check_read_only(text, {"p": 1}) == text
    with pytest.raises(QueryError, match="no value for"):
        check_read_only(text)
    assert not names_derived(text) and names_derived("select 1 from RESOURCES_TOUCHED")


def test_the_duckdb_path_never_imports_spark_or_sqlglot(sample_warehouse: Path) -> None:
    code = (
        "import sys, trailsmith, trailsmith.policy.generator, trailsmith.engines, trailsmith.cli.app as app\n"
        "app._register()\n"
        f"trailsmith.run_saved('usage', {str(sample_warehouse)!r}); "
        f"trailsmith.policy.generator.generate({str(sample_warehouse)!r}); "
        "print(sorted(m for m in ('pyspark', 'sqlglot', 'py4j') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_pyspark_or_sqlglot_spark_says_how_to_install(
    sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trailsmith.policy.generator as policy
    from trailsmith import engines
    from trailsmith.errors import MissingDependencyError
    from trailsmith.spark.translate import to_spark

    hint = r"pip install 'trailsmith\[spark\]'"
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "pyspark", None)  # import pyspark now raises ImportError
        with pytest.raises(MissingDependencyError, match=hint):
            engines.run_saved("usage", sample_warehouse, engine="spark")
        with pytest.raises(MissingDependencyError, match=hint):
            policy.generate(sample_warehouse, engine="spark")
    monkeypatch.setitem(sys.modules, "sqlglot", None)
    with pytest.raises(MissingDependencyError, match="needs sqlglot.*" + hint):
        to_spark("SELECT 1 AS never_translated_before")


def test_a_list_holding_null_is_refused_on_spark_in_one_line(
    sample_warehouse: Path, spark: SparkSession
) -> None:
    with pytest.raises(QueryError, match="a list with NULL elements cannot be bound on Spark"):
        on_spark(spark, "activity_by_region", sample_warehouse, {"allowed": ["us-east-1", None]})
