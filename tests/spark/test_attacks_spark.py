"""The shared attack list (``tests/sql/attacks.py``) on Spark, through ``trailsmith.spark.sql.sql`` with a
real local session: each attack is refused in one line (or, where harmless, runs) and leaves no trace. Then
the other side: every saved query and the SQL analysts write still pass the guard, and the session's own
settings hold even for SQL that does not go through it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

import trailsmith
from sql.attacks import ATTACKS, CANARY_PROPERTY, Attack, Planted, check_attack, plant
from trailsmith.errors import QueryError
from trailsmith.spark import saved as spark_saved
from trailsmith.sql import saved

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="module")
def warehouse(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sample warehouse that the attacks may try to damage (each test checks it is intact)."""
    copy = tmp_path_factory.mktemp("attacked") / "wh"
    shutil.copytree(sample_warehouse, copy)
    return copy


@pytest.fixture
def planted(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spark: SparkSession
) -> Iterator[Planted]:
    """The attack list's plants, and the canary as a JVM system property too (the JVM's environment is
    the one it started with)."""
    found = plant(tmp_path, warehouse, monkeypatch)
    system = spark._jvm.java.lang.System  # type: ignore[union-attr]
    system.setProperty(CANARY_PROPERTY, found.canary)
    try:
        yield found
    finally:
        system.clearProperty(CANARY_PROPERTY)


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.id for attack in ATTACKS])
def test_attack_does_no_harm_on_spark(attack: Attack, planted: Planted, spark: SparkSession) -> None:
    from trailsmith.spark.sql import sql

    def run(text: str, params: dict[str, str]) -> pa.Table:
        return sql(text, planted.warehouse, params, spark=spark)

    check_attack(attack, "spark", planted, run)


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("INSERT OVERWRITE DIRECTORY '/tmp/x' SELECT 1", "INSERT OVERWRITE DIRECTORY is not allowed"),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "INSERT is not allowed"),
        ("SELECT * FROM text.`/etc/passwd`", r"reading `text`.`/etc/passwd` is not allowed"),
        (
            "SELECT `reflect`('java.lang.System', 'getenv', 'HOME')",
            r"reflect\(\) is not allowed: it calls Java",
        ),
        ("SELECT TRANSFORM(eventName) USING 'cat' FROM events", "TRANSFORM ... USING .it runs a program."),
        ("SELECT * FROM python_worker_logs()", r"table function python_worker_logs\(\) is not allowed"),
        ("SELECT no_such_udf(1)", r"no_such_udf\(\) is not allowed: only Spark's built-in functions"),
        ("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", "reading `b` is not allowed"),
    ],
)
def test_the_message_says_what_was_refused_and_why(text: str, refused: str, spark: SparkSession) -> None:
    from trailsmith.spark import guard

    with pytest.raises(QueryError, match=refused):
        guard.check(spark, text)


def test_a_raw_literal_does_not_hide_a_parameter_or_a_statement() -> None:
    from trailsmith.spark.sql import check_read_only

    assert check_read_only(r"SELECT r'\' AS a, $p AS b", {"p": 1}) == r"SELECT r'\' AS a, :p AS b"
    with pytest.raises(QueryError, match="only one statement"):
        check_read_only(r"SELECT r'\' AS a; DROP VIEW events -- '")


# --- what must still run ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", saved.names())
def test_every_saved_query_passes_the_guard(name: str, spark: SparkSession) -> None:
    from trailsmith.spark import guard
    from trailsmith.spark.sql import check_read_only

    values = {parameter.name: "1" for parameter in saved.load(name).parameters}
    guard.check(spark, check_read_only(spark_saved.spark_sql(name), values))


#: SQL analysts write, with the rows it gives over the sample warehouse (None: compared with DuckDB's).
LEGITIMATE: list[tuple[str, list[tuple[object, ...]] | None]] = [
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r ORDER BY n",
     [(1,), (2,), (3,)]),
    ("SELECT x FROM VALUES (2), (1) AS t(x) ORDER BY x", [(1,), (2,)]),
    ("SELECT id FROM range(3) ORDER BY id", [(0,), (1,), (2,)]),
    ("SELECT n FROM (SELECT explode(array(1, 2)) AS n) ORDER BY n", [(1,), (2,)]),
    ("SELECT transform(array(1, 2), x -> x * 10) AS t", [([10, 20],)]),
    ("SELECT 'DROP TABLE x' AS a, `set` FROM (SELECT 1 AS `set`) -- INSERT", [("DROP TABLE x", 1)]),
    ("SELECT eventSource, count(*) AS n FROM events GROUP BY eventSource ORDER BY eventSource", None),
    ("WITH d AS (SELECT eventName FROM events WHERE errorCode IS NOT NULL) "
     "SELECT eventName, count(*) AS n FROM d GROUP BY eventName ORDER BY eventName", None),
    ("SELECT outcome, count(DISTINCT principalArn) AS p FROM calls "
     "WHERE eventID IN (SELECT eventID FROM events) GROUP BY outcome ORDER BY outcome", None),
    ("SELECT eventName, row_number() OVER (PARTITION BY eventSource ORDER BY eventTime, eventID) AS k "
     "FROM events ORDER BY eventSource, k LIMIT 5", None),
]  # fmt: skip


@pytest.mark.parametrize(("text", "rows"), LEGITIMATE)
def test_what_analysts_write_still_runs(
    text: str, rows: list[tuple[object, ...]] | None, warehouse: Path, spark: SparkSession
) -> None:
    from trailsmith.spark.sql import sql

    got = [tuple(row.values()) for row in sql(text, warehouse, spark=spark).to_pylist()]
    if rows is None:
        rows = [tuple(row.values()) for row in trailsmith.query(text, warehouse).to_pylist()]
        assert rows
    assert got == rows


# --- the session's settings, for SQL the guard never sees -------------------------------------------------


def test_the_session_reads_no_file_and_calls_no_java_even_unchecked(
    planted: Planted, spark: SparkSession
) -> None:
    """``run`` is the path of trailsmith's own SQL, which skips the guard: the session's settings still
    refuse a file path as a table (runSQLOnFiles off) and any method for reflect (reflect.allowList)."""
    from trailsmith.spark.sql import run

    reads = f"SELECT value FROM text.`{planted.places['secret']}`"
    calls = f"SELECT reflect('java.lang.System', 'getProperty', '{CANARY_PROPERTY}') AS v"
    for text in (reads, calls):
        with pytest.raises(QueryError) as caught:
            run(spark, text)
        assert planted.secret not in str(caught.value) and planted.canary not in str(caught.value)
    assert spark.conf.get("spark.sql.runSQLOnFiles") == "false"
    assert spark.conf.get("spark.sql.scripting.enabled") == "false"


def test_parameters_are_bound_after_the_check_and_checked_again(warehouse: Path, spark: SparkSession) -> None:
    """A value that looks like SQL stays a value: the plan Spark builds with it bound passes the guard."""
    from trailsmith.spark.sql import sql

    text = (
        "SELECT count(*) AS n FROM events "
        "WHERE eventDate >= $start OR eventName = $name OR array_contains($regions, awsRegion)"
    )
    params: dict[str, object] = {
        "start": "2024-08-02",
        "name": "x' OR reflect('java.lang.System', 'getenv', 'HOME') = '",
        "regions": ["eu-west-1", "x')) OR reflect('java.lang.System', 'exit', 1) = (('"],
    }
    expected = trailsmith.query(
        text.replace("array_contains", "list_contains"), warehouse, params
    ).to_pylist()
    assert sql(text, warehouse, params, spark=spark).to_pylist() == expected and expected[0]["n"] > 0


def test_the_command_line_says_it_in_one_line(
    planted: Planted, spark: SparkSession, capsys: pytest.CaptureFixture[str]
) -> None:
    from trailsmith.cli.app import main

    text = f"INSERT OVERWRITE DIRECTORY '{planted.target}' USING csv SELECT eventName FROM events"
    args = ["sql", text, "-w", str(planted.warehouse), "--engine", "spark", "--spark-master", "local[2]"]
    with pytest.raises(SystemExit) as exited:
        main(args)
    err = capsys.readouterr().err
    assert exited.value.code == 1 and not planted.target.exists()
    line = next(line for line in err.splitlines() if line.startswith("trailsmith:"))
    assert line.startswith("trailsmith: error: INSERT OVERWRITE DIRECTORY is not allowed"), err
    assert "Traceback" not in err and line == err.splitlines()[-1]
