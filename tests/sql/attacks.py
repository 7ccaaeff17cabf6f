"""Hostile queries, run on both engines through their public APIs (``test_attacks_duckdb.py``,
``tests/spark/test_attacks_spark.py``): each tries to write, read outside the warehouse, change the session
or reach the environment, and must be refused with one line, or (where listed in ``runs_on``) run without
doing any of that.

An attack's SQL is a template: :func:`render` fills in paths planted by the test:

- ``{secret}``: a file outside the warehouse whose content must never come back; ``{secret_dir}`` its folder;
- ``{target}``: a directory that must not exist afterwards (the attack tries to write it);
- ``{target_escaped}``: the same path with every ``/`` written as the unicode escape ``\\u002f``;
- ``{warehouse}``: the warehouse's root; ``{warehouse_file}``: one of its committed Parquet files;
- ``{canary_env}``: an environment variable planted with a value that must never come back, and
  ``{canary_property}``: a JVM system property planted likewise (a running JVM does not see later
  changes of the environment, so on Spark the property is what ``reflect`` would find).

:func:`plant` plants them and :func:`check_attack` runs one attack and looks for every trace of harm.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest

from helpers.warehouses import fingerprint
from trailsmith.errors import QueryError
from trailsmith.warehouse.store import Warehouse


@dataclass(frozen=True)
class Attack:
    id: str
    sql: str
    tries: str
    #: engines on which the query is harmless and runs ("duckdb", "spark"); refused everywhere else
    runs_on: frozenset[str] = frozenset()
    #: parameters, templates like ``sql``
    params: dict[str, str] = field(default_factory=dict)


GETENV = "'java.lang.System', 'getenv', '{canary_env}'"

ATTACKS: list[Attack] = [
    # --- writing files --------------------------------------------------------------------------------
    Attack(
        "insert-overwrite-directory",
        "INSERT OVERWRITE DIRECTORY '{target}' USING csv SELECT eventName FROM events",
        "write any directory",
    ),
    Attack(
        "insert-overwrite-directory-raw-literal",
        r"FROM (SELECT r'\' AS a) x INSERT OVERWRITE DIRECTORY '{target}' USING csv SELECT a -- '",
        "hide the write from a scanner that takes the raw literal r'\\' for an escaped quote",
    ),
    Attack(
        "insert-overwrite-warehouse",
        "INSERT OVERWRITE DIRECTORY '{warehouse}/events' USING parquet SELECT * FROM events LIMIT 1",
        "replace the warehouse's files (the day of data the issue lost)",
    ),
    Attack(
        "insert-overwrite-unicode-escapes",
        "INSERT OVERWRITE DIRECTORY '{target_escaped}' USING csv SELECT 1 AS a",
        "write a path spelled with \\u002f escapes",
    ),
    Attack(
        "cte-wrapping-insert",
        "WITH x AS (SELECT 1 AS a) INSERT OVERWRITE DIRECTORY '{target}' USING csv SELECT a FROM x",
        "a write that starts with WITH like a query",
    ),
    Attack("insert-into-view", "INSERT INTO events SELECT * FROM events", "add rows to a view"),
    Attack(
        "comment-then-second-statement",
        "SELECT 1 AS a /* ; */; INSERT OVERWRITE DIRECTORY '{target}' USING csv SELECT 1 AS a -- ;",
        "a second statement after a comment",
    ),
    Attack("copy-to", "COPY (SELECT * FROM events) TO '{target}/out.csv'", "write a file with COPY"),
    Attack(
        "copy-over-warehouse-file",
        "COPY (SELECT 1 AS a) TO '{warehouse_file}' (FORMAT parquet, USE_TMP_FILE false)",
        "overwrite a file the engine is allowed to read",
    ),
    Attack("export-database", "EXPORT DATABASE '{target}'", "write the whole database out"),
    Attack("attach", "ATTACH '{target}/x.duckdb' AS x", "create a database file"),
    Attack(
        "explain-of-a-write",
        "EXPLAIN INSERT OVERWRITE DIRECTORY '{target}' USING csv SELECT 1 AS a",
        "a write under EXPLAIN",
    ),
    Attack(
        "explain-analyze-copy",
        "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{target}/x.csv'",
        "EXPLAIN ANALYZE runs it",
    ),
    Attack(
        "sql-script",
        "BEGIN INSERT OVERWRITE DIRECTORY '{target}' USING csv SELECT 1 AS a; END",
        "a SQL script block around a write",
    ),
    Attack(
        "execute-immediate",
        "EXECUTE IMMEDIATE 'INSERT OVERWRITE DIRECTORY ''{target}'' USING csv SELECT 1 AS a'",
        "a write built from a string",
    ),
    # --- changing the session ---------------------------------------------------------------------------
    Attack("multiple-statements", "SELECT 1 AS a; DROP VIEW events", "a second statement"),
    Attack("drop-view", "DROP VIEW events", "lose a view"),
    Attack("create-temp-view", "CREATE TEMP VIEW events AS SELECT 1 AS eventName", "replace a view"),
    Attack("set-spark", "SET spark.sql.runSQLOnFiles = true", "turn a safety setting back on"),
    Attack("set-duckdb", "SET enable_external_access = true", "turn a safety setting back on"),
    Attack("reset", "RESET", "restore default settings"),
    Attack("unlock-configuration", "SET lock_configuration = false", "unlock DuckDB's settings"),
    Attack("call", "CALL enable_profiling()", "call a procedure"),
    Attack("pragma", "PRAGMA enable_profiling", "change a setting with PRAGMA"),
    Attack("cache-table", "CACHE TABLE events", "pin data, change the session"),
    Attack("add-jar", "ADD JAR '{secret}'", "load code from a file"),
    Attack(
        "create-function",
        "CREATE TEMPORARY FUNCTION f AS 'java.lang.System'",
        "name a Java class as a function",
    ),
    Attack("install", "INSTALL httpfs", "install an extension"),
    Attack("load", "LOAD httpfs", "load an extension"),
    Attack("update-extensions", "UPDATE EXTENSIONS", "download extension code"),
    Attack("declare-variable", "DECLARE x INT DEFAULT 1", "create a session variable"),
    # --- reading outside the warehouse ----------------------------------------------------------------
    Attack("text-file", "SELECT * FROM text.`{secret}`", "read any file as text"),
    Attack(
        "text-file-quoted-format", "SELECT * FROM `text`.`{secret}`", "the same with a back-quoted format"
    ),
    Attack("csv-file", "SELECT * FROM csv.`{secret}`", "read any file as CSV"),
    Attack("json-file", "SELECT * FROM json.`{secret_dir}`", "read a folder of files as JSON"),
    Attack("binary-file", "SELECT content FROM binaryFile.`{secret}`", "read any file's bytes"),
    Attack(
        "parquet-warehouse-file",
        "SELECT count(*) AS n FROM parquet.`{warehouse_file}`",
        "read a warehouse file behind the views' back",
    ),
    Attack(
        "file-in-a-subquery",
        "SELECT eventName FROM events WHERE eventName IN (SELECT value FROM text.`{secret}`)",
        "a file read hidden in a subquery",
    ),
    Attack(
        "file-in-a-lateral-subquery",
        "SELECT e.eventName, t.value FROM events e, LATERAL (SELECT value FROM text.`{secret}`) t",
        "a file read hidden in a lateral join",
    ),
    Attack("identifier-file", "SELECT * FROM IDENTIFIER('text.`{secret}`')", "a file named by IDENTIFIER()"),
    Attack(
        "identifier-parameter",
        "SELECT * FROM IDENTIFIER($t)",
        "a file named by a parameter's value",
        params={"t": "text.`{secret}`"},
    ),
    Attack("catalog-table", "SELECT * FROM spark_catalog.default.events", "a catalog table, not a view"),
    Attack("view-options", "SELECT * FROM events WITH ('path' = '{secret_dir}')", "options on a view's read"),
    Attack("time-travel", "SELECT * FROM events VERSION AS OF 0", "another version of a table"),
    Attack("read-csv", "SELECT * FROM read_csv('{secret}')", "read any file as CSV"),
    Attack("read-text", "SELECT content FROM read_text('{secret}')", "read any file as text"),
    Attack("from-first-read-text", "FROM read_text('{secret}')", "the same, FROM-first"),
    Attack("read-blob", "SELECT content FROM read_blob('{secret}')", "read any file's bytes"),
    Attack("replacement-scan", "SELECT * FROM '{secret}'", "a file path as a table"),
    Attack("glob", "SELECT * FROM glob('{secret_dir}/*')", "list a directory"),
    Attack(
        "read-parquet-warehouse-file",
        "SELECT count(*) AS n FROM read_parquet('{warehouse_file}')",
        "read one of the snapshot's files directly: the files the views show, so harmless",
        runs_on=frozenset({"duckdb"}),
    ),
    Attack(
        "script-transform",
        "SELECT TRANSFORM(eventName) USING 'cat {secret}' AS (line) FROM events",
        "run a program on the driver",
    ),
    Attack("python-worker-logs", "SELECT * FROM python_worker_logs()", "a table function that reads logs"),
    Attack(
        "xml-external-entity",
        "SELECT xpath_string('<!DOCTYPE a [<!ENTITY x SYSTEM \"file://{secret}\">]><a>&x;</a>', 'a') AS v",
        "an XML external entity that names the secret file (Spark's parser does not expand it)",
        runs_on=frozenset({"spark"}),
    ),
    # --- calling out: Java methods, the environment ------------------------------------------------------
    Attack("reflect", f"SELECT reflect({GETENV}) AS v", "read an environment variable through Java"),
    Attack(
        "reflect-property",
        "SELECT reflect('java.lang.System', 'getProperty', '{canary_property}') AS v",
        "read a JVM system property through Java",
    ),
    Attack("java-method", f"SELECT java_method({GETENV}) AS v", "the same under its other name"),
    Attack("reflect-back-quoted", f"SELECT `reflect`({GETENV}) AS v", "a back-quoted name"),
    Attack("try-reflect-upper-case", f"SELECT TRY_REFLECT({GETENV}) AS v", "the try_ form, upper case"),
    Attack("reflect-qualified", f"SELECT system.builtin.reflect({GETENV}) AS v", "a qualified name"),
    Attack("reflect-identifier", f"SELECT IDENTIFIER('reflect')({GETENV}) AS v", "a name from IDENTIFIER()"),
    Attack(
        "reflect-in-a-cte",
        f"WITH x AS (SELECT reflect({GETENV}) AS v) SELECT v FROM x",
        "a call hidden in a CTE's body",
    ),
    Attack(
        "reflect-in-a-scalar-subquery",
        f"SELECT eventName FROM events WHERE eventName = (SELECT reflect({GETENV}))",
        "a call hidden in a subquery",
    ),
    Attack(
        "reflect-in-a-lambda",
        f"SELECT transform(array(1), x -> reflect({GETENV})) AS v",
        "a call hidden in a lambda",
    ),
    Attack(
        "reflect-as-a-generator",
        f"SELECT v FROM events LATERAL VIEW java_method({GETENV}) t AS v",
        "a call in LATERAL VIEW",
    ),
    Attack(
        "reflect-in-a-hint",
        f"SELECT /*+ REPARTITION(reflect({GETENV})) */ 1 AS a",
        "a call in a hint (to DuckDB only a comment)",
        runs_on=frozenset({"duckdb"}),
    ),
    Attack("reflect-in-values", f"SELECT * FROM VALUES (reflect({GETENV})) AS t(v)", "a call in VALUES"),
    Attack(
        "reflect-in-a-window",
        f"SELECT row_number() OVER (PARTITION BY reflect({GETENV}) ORDER BY eventID) AS k FROM events",
        "a call in a window's partitioning",
    ),
    Attack(
        "reflect-in-order-by",
        f"SELECT eventName FROM events ORDER BY reflect({GETENV})",
        "a call in ORDER BY",
    ),
    Attack("unknown-function", "SELECT no_such_udf(eventName) AS v FROM events", "a UDF or catalog function"),
    Attack("getenv", "SELECT getenv('{canary_env}') AS v", "read an environment variable"),
    # --- harmless look-alikes -----------------------------------------------------------------------------
    Attack(
        "input-file-name",
        "SELECT input_file_name() AS f FROM events LIMIT 1",
        "the file a row came from: a warehouse file, so harmless",
        runs_on=frozenset({"spark"}),
    ),
    Attack(
        "current-user",
        "SELECT current_user() AS u",
        "the user's name: harmless",
        runs_on=frozenset({"spark", "duckdb"}),
    ),
    Attack(
        "words-in-literals",
        "SELECT 'INSERT OVERWRITE DIRECTORY' AS a, `set` FROM (SELECT 1 AS `set`) -- DROP VIEW events",
        "write-like words in literals, names and comments are only text",
        runs_on=frozenset({"spark", "duckdb"}),
    ),
    Attack(
        "describe",
        "DESCRIBE events",
        "DuckDB reads DESCRIBE as a SELECT of the view's columns; Spark runs it as a command",
        runs_on=frozenset({"duckdb"}),
    ),
]


def render(attack: Attack, places: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The attack's SQL and parameters with the planted paths and names filled in."""
    return attack.sql.format(**places), {
        name: value.format(**places) for name, value in attack.params.items()
    }


@dataclass(frozen=True)
class Planted:
    """What a test planted before an attack, to look for afterwards."""

    places: dict[str, str]
    secret: str  # the secret file's content
    canary: str  # the environment variable's (and JVM property's) value
    target: Path
    outside: Path  # the folder holding the secret file and the target
    warehouse: Path
    before: dict[str, str]  # the warehouse's fingerprint


CANARY_ENV = "TRAILSMITH_ATTACK_CANARY"
CANARY_PROPERTY = "trailsmith.attack.canary"


def plant(tmp_path: Path, warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> Planted:
    """A secret file and a canary variable with fresh values, a target path, the warehouse's fingerprint."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = f"secret-{uuid.uuid4().hex}"
    (outside / "secret.txt").write_text(secret + "\n")
    canary = f"canary-{uuid.uuid4().hex}"
    monkeypatch.setenv(CANARY_ENV, canary)
    target = outside / "target"
    file = Warehouse(warehouse).snapshot().files[0]
    places = {
        "secret": str(outside / "secret.txt"),
        "secret_dir": str(outside),
        "target": str(target),
        "target_escaped": str(target).replace("/", "\\u002f"),
        "warehouse": str(warehouse.absolute()),
        "warehouse_file": str(Warehouse(warehouse).path(file.path).absolute()),
        "canary_env": CANARY_ENV,
        "canary_property": CANARY_PROPERTY,
    }
    return Planted(places, secret, canary, target, outside, warehouse, fingerprint(warehouse))


def check_attack(
    attack: Attack, engine: str, planted: Planted, run: Callable[[str, dict[str, str]], pa.Table]
) -> None:
    """Run ``attack`` with ``run`` (``engine``'s public API) and assert it did no harm.

    Refused unless ``engine`` is in ``attack.runs_on``, with one line; neither the result nor the message
    holds the secret or the canary; the target does not exist, nothing else appeared next to the secret,
    and the warehouse is byte for byte what it was.
    """
    sql, params = render(attack, planted.places)
    if engine in attack.runs_on:
        shown = str(run(sql, params).to_pylist())
    else:
        with pytest.raises(QueryError) as caught:
            run(sql, params)
        shown = str(caught.value)
        assert "\n" not in shown and len(shown) < 600, f"not one clear line: {shown!r}"
    assert planted.secret not in shown, "the secret file's content came back"
    assert planted.canary not in shown, "the canary's value came back"
    assert not planted.target.exists(), f"{planted.target} was written"
    assert sorted(p.name for p in planted.outside.iterdir()) == ["secret.txt"], "a file was written outside"
    assert fingerprint(planted.warehouse) == planted.before, "the warehouse changed"
