"""``trailsmith sql`` and the read side: views, Athena-style names, partition pruning, parameters, safety,
errors as one line, output formats."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import trailsmith
from helpers.warehouses import fingerprint
from trailsmith.errors import QueryError
from trailsmith.sql import authz, db

# ``sample_warehouse`` (tests/conftest.py): data/sample ingested once per session, only read here.


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "trailsmith.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        env={**os.environ, "TZ": "America/New_York"},  # the answers must not depend on the machine's zone
    )


def sql(warehouse: Path, text: str, **params: object) -> list[dict[str, object]]:
    return trailsmith.query(text, warehouse, params or None).to_pylist()


# --- views ---------------------------------------------------------------------------------------


def test_athena_style_lower_case_names(sample_warehouse: Path) -> None:
    camel = sql(
        sample_warehouse,
        "SELECT userIdentity.arn AS a, eventTime AS t, eventName AS n FROM events ORDER BY eventID",
    )
    lower = sql(
        sample_warehouse,
        "SELECT useridentity.arn AS a, eventtime AS t, eventname AS n FROM events ORDER BY eventid",
    )
    upper = sql(
        sample_warehouse,
        "SELECT USERIDENTITY.ARN AS a, EVENTTIME AS t, EVENTNAME AS n FROM EVENTS ORDER BY EVENTID",
    )
    assert camel == lower == upper and len(camel) == 1000
    nested = sql(
        sample_warehouse,
        "SELECT count(*) AS n FROM events WHERE useridentity.sessioncontext.sessionissuer.arn IS NOT NULL",
    )
    assert nested[0]["n"] > 500


def test_calls_view(sample_warehouse: Path) -> None:
    counts = sql(
        sample_warehouse,
        "SELECT (SELECT count(*) FROM calls) AS calls, "
        "(SELECT count(*) FROM events WHERE eventType IS DISTINCT FROM 'AwsServiceEvent') AS api_events",
    )[0]
    assert counts["calls"] == counts["api_events"] > 900
    [copy] = sql(
        sample_warehouse, "SELECT DISTINCT actions, mapping FROM calls WHERE eventName = 'CopyObject'"
    )
    assert copy == {"actions": ["s3:GetObject", "s3:PutObject"], "mapping": "mapped"}
    [login] = sql(
        sample_warehouse, "SELECT DISTINCT actions, mapping FROM calls WHERE eventName = 'ConsoleLogin'"
    )
    assert login == {"actions": [], "mapping": "no_permission"}
    outcomes = sql(sample_warehouse, "SELECT DISTINCT errorCode, outcome FROM calls")
    assert all(row["outcome"] == authz.outcome(row["errorCode"]) for row in outcomes)
    assert {row["outcome"] for row in outcomes} == {"allowed", "denied"}
    [row] = sql(sample_warehouse, "SELECT * FROM calls WHERE eventName = 'CreateAccessKey'")
    assert row["principalArn"] == row["identityArn"] == "arn:aws:iam::374535920883:user/engineering/alice"
    assert (row["identityType"], row["accountId"], row["accessKeyId"]) == (
        "IAMUser",
        "374535920883",
        "AKIAFFTNSV6SZN2GPULM",
    )


def test_principals_view(sample_warehouse: Path) -> None:
    rows = {r["principalArn"]: r for r in sql(sample_warehouse, "SELECT * FROM principals")}
    pipeline = rows["arn:aws:iam::062058595613:role/service/data-pipeline"]
    assert (pipeline["principalType"], pipeline["accountId"], pipeline["calls"], pipeline["denied"]) == (
        "role",
        "062058595613",
        130,
        3,
    )
    assert rows["arn:aws:iam::374535920883:root"]["principalType"] == "root"
    total = sql(sample_warehouse, "SELECT count(*) AS n FROM calls WHERE principalArn IS NOT NULL")[0]["n"]
    assert sum(r["calls"] for r in rows.values()) == total


def test_resources_touched_view(sample_warehouse: Path) -> None:
    rows = sql(sample_warehouse, "SELECT origin, resourceType, resourceArn, eventName FROM resources_touched")
    origins = {r["origin"] for r in rows}
    assert {"resources", "requestParameters.logGroupName", "requestParameters.queueUrl"} <= origins
    from_resources = {
        r["resourceArn"] for r in rows if r["eventName"] == "GetObject" and r["origin"] == "resources"
    }
    assert any(arn.startswith("arn:aws:s3:::prod-data-") and "/" in arn for arn in from_resources)
    queues = {r["resourceArn"] for r in rows if r["resourceType"] == "AWS::SQS::Queue"}
    assert queues and all(re.fullmatch(r"arn:aws:sqs:[a-z0-9-]+:\d{12}:[\w-]+", arn) for arn in queues)


def test_time_filter_prunes_partitions(sample_warehouse: Path) -> None:
    def files_read(text: str, **params: object) -> int:
        connection = trailsmith.connect(sample_warehouse)
        try:
            result = db.execute(connection, f"EXPLAIN ANALYZE {text}", params).read_all()
            plan = "\n".join(str(value) for row in result.to_pylist() for value in row.values())
        finally:
            connection.close()
        return sum(int(n) for n in re.findall(r"Total Files Read: (\d+)", plan))

    assert files_read("SELECT count(*) FROM events") == 2
    assert files_read("SELECT count(*) FROM events WHERE eventDate >= DATE '2024-08-02'") == 1
    assert files_read("SELECT count(*) FROM events WHERE eventDate >= $start", start="2024-08-02") == 1
    assert files_read("SELECT count(*) FROM calls WHERE eventdate = $day", day="2024-08-01") == 1


# --- parameters ------------------------------------------------------------------------------------


def test_values_are_bound_never_pasted(sample_warehouse: Path) -> None:
    hostile = "x' OR '1'='1"
    assert sql(
        sample_warehouse, "SELECT count(*) AS n FROM events WHERE eventName = $name", name=hostile
    ) == [{"n": 0}]
    assert sql(sample_warehouse, "SELECT $name AS echoed", name=hostile) == [{"echoed": hostile}]


def test_parameter_errors_say_what_to_do(sample_warehouse: Path) -> None:
    with pytest.raises(QueryError, match=r"no value for \$start\. .*--param start=VALUE"):
        trailsmith.query("SELECT count(*) FROM events WHERE eventDate >= $start", sample_warehouse)
    with pytest.raises(QueryError, match="the query has no parameter extra"):
        trailsmith.query("SELECT 1", sample_warehouse, {"extra": 1})


def test_cli_typed_parameters(sample_warehouse: Path) -> None:
    result = run(
        "sql",
        "SELECT count(*) AS n, $regions AS r, $limit + 1 AS l FROM events WHERE eventDate >= $start "
        "AND list_contains($regions, awsRegion)",
        "-w",
        str(sample_warehouse),
        "-p",
        "start:DATE=2024-08-02",
        "-p",
        "regions:VARCHAR[]=eu-west-1,us-west-2",
        "-p",
        "limit:INTEGER=4",
        "-f",
        "json",
    )
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["r"] == ["eu-west-1", "us-west-2"] and row["l"] == 5 and 0 < row["n"] < 500
    bad = run("sql", "SELECT $d", "-w", str(sample_warehouse), "-p", "d:DATE=tomorrow")
    assert (
        bad.returncode == 1
        and bad.stderr.strip() == "trailsmith: error: parameter d: 'tomorrow' is not a DATE. Give YYYY-MM-DD"
    )


# --- safety --------------------------------------------------------------------------------------

ATTACKS = [
    ("DELETE FROM events", "DELETE statements are not allowed"),
    ("DROP VIEW events", "DROP statements are not allowed"),
    ("CREATE TABLE copy AS SELECT eventID FROM events", "CREATE statements are not allowed"),
    ("CREATE OR REPLACE VIEW events AS SELECT 1 AS eventID", "CREATE statements are not allowed"),
    ("INSERT INTO events SELECT * FROM events", "INSERT statements are not allowed"),
    ("UPDATE events SET eventName = 'x'", "UPDATE statements are not allowed"),
    (
        "COPY (SELECT 1 AS a) TO '{part}' (FORMAT parquet, USE_TMP_FILE false)",
        "COPY statements are not allowed",
    ),
    ("COPY (SELECT 1 AS a) TO '{outside}'", "COPY statements are not allowed"),
    ("EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{part}'", "EXPLAIN of a COPY statement is not allowed"),
    ("EXPORT DATABASE '{warehouse}'", "EXPORT statements are not allowed"),
    ("ATTACH '{part}' AS w", "ATTACH statements are not allowed"),
    ("INSTALL httpfs", "INSTALL/LOAD statements are not allowed"),
    ("LOAD httpfs", "INSTALL/LOAD statements are not allowed"),
    ("SET enable_external_access = true", "SET statements are not allowed"),
    ("PRAGMA enable_profiling", "PRAGMA statements are not allowed"),
    ("SELECT 1; DROP VIEW events", "one statement at a time, got 2 (SELECT, DROP)"),
    ("SELECT * FROM read_csv('/etc/passwd', sep = ':')", 'Cannot access file "/etc/passwd"'),
    ("SELECT * FROM read_text('{snapshot}')", "file system operations are disabled"),
    ("SELECT * FROM glob('{warehouse}/**')", "file system operations are disabled"),
    ("SELECT * FROM read_parquet('https://example.com/x.parquet')", "file system operations are disabled"),
    ("SELECT * FROM query('COPY (SELECT 1) TO ''{outside}''')", "Expected a single SELECT statement"),
]


@pytest.fixture()
def scratch(tmp_path: Path, sample_warehouse: Path) -> Path:
    """A warehouse of its own for tests that try to damage it: a copy of the shared sample warehouse."""
    warehouse = tmp_path / "wh"
    shutil.copytree(sample_warehouse, warehouse)
    return warehouse


def _fill(text: str, warehouse: Path, outside: Path) -> str:
    part = next(warehouse.rglob("part-*.parquet"))
    snapshot = next((warehouse / "_trailsmith" / "snapshots").glob("*.json"))
    return text.format(part=part, outside=outside, warehouse=warehouse, snapshot=snapshot)


def test_no_query_can_change_the_warehouse_or_reach_other_files(scratch: Path, tmp_path: Path) -> None:
    before = fingerprint(scratch)
    outside = tmp_path / "stolen.csv"
    connection = trailsmith.connect(scratch)
    try:
        for template, expected in ATTACKS:
            text = _fill(template, scratch, outside)
            with pytest.raises(QueryError) as caught:
                db.execute(connection, text).read_all()
            message = str(caught.value)
            assert expected in message, (text, message)
            assert "\n" not in message
        assert db.execute(connection, "SELECT count(*) AS n FROM events").read_all().to_pylist() == [
            {"n": 1000}
        ]
    finally:
        connection.close()
    assert fingerprint(scratch) == before
    assert not outside.exists()


@pytest.mark.parametrize(
    ("template", "expected"),
    [ATTACKS[0], ATTACKS[6], ATTACKS[8], ATTACKS[16]],
)
def test_cli_refuses_with_one_line(scratch: Path, tmp_path: Path, template: str, expected: str) -> None:
    before = fingerprint(scratch)
    result = run("sql", _fill(template, scratch, tmp_path / "stolen.csv"), "-w", str(scratch))
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("trailsmith: error: ") and expected in line
    assert fingerprint(scratch) == before


def test_out_may_not_replace_warehouse_files(scratch: Path) -> None:
    before = fingerprint(scratch)
    part = next(scratch.rglob("part-*.parquet"))
    result = run("sql", "SELECT 1 AS a", "-w", str(scratch), "--format", "parquet", "--out", str(part))
    assert result.returncode == 1 and "inside the warehouse" in result.stderr
    assert fingerprint(scratch) == before


def test_the_connection_itself_is_locked(sample_warehouse: Path) -> None:
    connection = trailsmith.connect(sample_warehouse)
    try:
        with pytest.raises(Exception, match="configuration has been locked"):
            connection.execute("SET enable_external_access = true")
        with pytest.raises(Exception, match="file system operations are disabled"):
            connection.execute("SELECT * FROM read_csv('/etc/passwd')")
    finally:
        connection.close()


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "SELECT eventNam FROM events",
            'Referenced column "eventNam" not found in FROM clause! Candidate bindings: "eventName"',
        ),
        ("SELEC 1", 'syntax error at or near "SELEC" (line 1, column 1)'),
        ("SELECT eventName\nFROM events\nWHERE readOnly = 'maybe'", "(line 3, column"),
        ("SELECT * FROM evnts", 'Table with name evnts does not exist! Did you mean "events"?'),
        ("SELECT lenght(eventName) FROM events", 'Did you mean "length"'),
    ],
)
def test_bad_sql_is_one_clear_line(sample_warehouse: Path, text: str, expected: str) -> None:
    result = run("sql", text, "-w", str(sample_warehouse))
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert expected in line and "Traceback" not in line


def test_error_column_is_the_editor_s(sample_warehouse: Path) -> None:
    padding = ", ".join(f"{n} AS c{n}" for n in range(60))
    text = f"SELECT {padding}, 'x'::INTEGER AS bad FROM events"
    with pytest.raises(QueryError) as caught:
        trailsmith.query(text, sample_warehouse)
    column = int(re.search(r"line 1, column (\d+)", str(caught.value)).group(1))  # type: ignore[union-attr]
    assert text[column - 1 :].startswith(("'x'", "::INTEGER"))


# --- input and output ----------------------------------------------------------------------------


def test_sql_from_file_stdin_and_argument(sample_warehouse: Path, tmp_path: Path) -> None:
    text = "SELECT eventName, count(*) AS n FROM events GROUP BY 1 ORDER BY n DESC, eventName LIMIT 3"
    (tmp_path / "q.sql").write_text(text)
    argument = run("sql", text, "-w", str(sample_warehouse), "-f", "csv")
    assert argument.returncode == 0 and argument.stdout.splitlines()[:2] == ["eventName,n", '"GetObject",142']
    assert (
        run("sql", f"@{tmp_path / 'q.sql'}", "-w", str(sample_warehouse), "-f", "csv").stdout
        == argument.stdout
    )
    assert (
        run("sql", "--file", str(tmp_path / "q.sql"), "-w", str(sample_warehouse), "-f", "csv").stdout
        == argument.stdout
    )
    assert run("sql", "-", "-w", str(sample_warehouse), "-f", "csv", stdin=text).stdout == argument.stdout
    neither = run("sql", "-w", str(sample_warehouse))
    assert neither.returncode == 1 and "give the SQL once" in neither.stderr


def test_parquet_needs_out_and_out_infers_the_format(sample_warehouse: Path, tmp_path: Path) -> None:
    text = "SELECT eventID, eventTime, resources FROM events ORDER BY eventID"
    refused = run("sql", text, "-w", str(sample_warehouse), "--format", "parquet")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip() == (
        "trailsmith: error: --format parquet writes a file, not a terminal or a pipe. Add --out FILE.parquet"
    )
    written = run("sql", text, "-w", str(sample_warehouse), "--out", str(tmp_path / "r.parquet"))
    assert written.returncode == 0 and written.stdout == "" and "wrote 1,000 rows" in written.stderr
    table = pq.read_table(tmp_path / "r.parquet")
    assert table.num_rows == 1000 and table.schema.field("eventTime").type.tz == "UTC"
    assert table.column("eventID").to_pylist() == sorted(table.column("eventID").to_pylist())
    run("sql", text, "-w", str(sample_warehouse), "--out", str(tmp_path / "r.csv"))
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    assert len(rows) == 1000 and json.loads(rows[0]["resources"]) is not None
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file left behind"


def test_failed_query_leaves_no_out_file(sample_warehouse: Path, tmp_path: Path) -> None:
    result = run(
        "sql", "SELECT nope FROM events", "-w", str(sample_warehouse), "--out", str(tmp_path / "r.csv")
    )
    assert result.returncode == 1 and not (tmp_path / "r.csv").exists()


def test_results_stream_in_batches(sample_warehouse: Path) -> None:
    connection = trailsmith.connect(sample_warehouse)
    try:
        reader = db.execute(connection, "SELECT eventID FROM events", batch_rows=100)
        sizes = [batch.num_rows for batch in reader]
    finally:
        connection.close()
    assert sum(sizes) == 1000 and len(sizes) >= 5


def test_query_command(sample_warehouse: Path) -> None:
    listing = run("query", "--list")
    lines = listing.stdout.splitlines()
    assert listing.returncode == 0 and len(lines) == len(trailsmith.saved_queries())
    assert any(re.match(r"^denied_calls\s+Denied calls by principal", line) for line in lines)
    result = run("query", "top_principals", "-w", str(sample_warehouse), "-p", "limit=3", "-f", "ndjson")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["calls"] for r in rows] == [130, 77, 60]
    shown = run("query", "usage", "--show")
    assert shown.stdout.startswith("-- Usage by principal") and "$start DATE" in shown.stdout
    unknown = run("query", "nope", "-w", str(sample_warehouse))
    assert unknown.returncode == 1 and "no saved query 'nope'" in unknown.stderr


def test_notebook_helpers(sample_warehouse: Path) -> None:
    table = trailsmith.run_saved("top_principals", sample_warehouse, limit=2)
    assert table.num_rows == 2
    frame = trailsmith.saved_frame("top_principals", sample_warehouse, limit=2)
    assert frame.columns == table.schema.names and frame["calls"].to_list() == [130, 77]
    calls = trailsmith.query_frame(
        "SELECT outcome, count(*) AS n FROM calls GROUP BY 1 ORDER BY 1", sample_warehouse
    )
    assert calls["outcome"].to_list() == ["allowed", "denied"]
