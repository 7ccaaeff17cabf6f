"""Saved queries: documented headers, portable SQL, golden results over data/sample, and a differential check
of the SQL answers against aggregates recomputed in plain Python from the raw JSON."""

from __future__ import annotations

import gzip
import io
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import trailsmith
from helpers.events import ACCOUNT, assume_role, write_records
from helpers.paths import GOLDEN_QUERIES, SAMPLE
from trailsmith.actions.mapping import map_event
from trailsmith.cli.output import Format, write
from trailsmith.errors import QueryError
from trailsmith.ingestion.driver import ingest
from trailsmith.sql import db, saved
from trailsmith.warehouse.store import Warehouse

NAMES = saved.names()

# ``sample_warehouse`` (tests/conftest.py): data/sample ingested once per session (new events, nothing
# quarantined), only read here.


def as_csv(table: pa.Table) -> bytes:
    """The bytes ``trailsmith query NAME --format csv`` prints for ``table``."""
    buffer = io.BytesIO()
    write(table.to_batches(), table.schema, Format.csv, buffer)
    return buffer.getvalue()


def test_the_issue_s_questions_are_all_there() -> None:
    assert {
        "usage",
        "denied_calls",
        "top_principals",
        "root_activity",
        "console_logins_without_mfa",
        "access_keys",
        "new_actions",
        "cross_account",
        "activity_by_region",
        "errors_by_service",
        "s3_data_access",
        "iam_changes",
        "passed_roles",
    } <= set(NAMES)


# --- headers and portability ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_header_documents_parameters_and_columns(name: str, sample_warehouse: Path) -> None:
    query = saved.load(name)
    assert query.description and len(query.description) < 120, "one-line description"
    assert query.columns, "the header lists the output columns"
    connection = trailsmith.connect(sample_warehouse)
    try:
        [statement] = connection.extract_statements(query.sql)
        assert statement.named_parameters == {p.name for p in query.parameters}, "declared == used parameters"
        result = db.execute(connection, query.sql, query.bind()).read_all()
    finally:
        connection.close()
    assert result.schema.names == [column for column, _ in query.columns]


_NOT_PORTABLE = {
    "SELECT *": re.compile(r"select\s+\*|\.\*", re.IGNORECASE),
    "len(list)": re.compile(r"\blen\s*\(", re.IGNORECASE),
    "time_bucket": re.compile(r"\btime_bucket\b", re.IGNORECASE),
    "epoch_ms": re.compile(r"\bepoch_ms\b", re.IGNORECASE),
    "dayofweek": re.compile(r"\b(dayofweek|isodow)\b", re.IGNORECASE),
    "ordered list()": re.compile(r"\blist\s*\([^)]*order\s+by", re.IGNORECASE),
    "lambda": re.compile(r"\blambda\s+\w+(\s*,\s*\w+)*\s*:", re.IGNORECASE),
}


@pytest.mark.parametrize("name", NAMES)
def test_sql_is_portable(name: str) -> None:
    sql = saved.load(name).sql
    for what, pattern in _NOT_PORTABLE.items():
        assert not pattern.search(sql), f"{name} uses {what}, which does not transpile to Spark"
    sqlglot = pytest.importorskip("sqlglot")
    [spark] = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    assert "SELECT" in spark


def test_header_parsing_types_defaults() -> None:
    text = (
        "-- What it answers.\n--\n-- More words.\n--\n-- Parameters:\n"
        "--   $start DATE = '2024-08-01'   first day\n"
        "--   $n INTEGER = 5               how many\n"
        "--   $regions VARCHAR[] = ['us-east-1', 'it''s']   list\n"
        "--   $flag BOOLEAN = false        a switch\n"
        "--   $who VARCHAR = NULL          nobody\n"
        "--\n-- Columns:\n--   a   the a\nSELECT 1 AS a WHERE $flag AND $n > 0\n"
    )
    query = saved.parse("x", text)
    assert query.description == "What it answers." and query.about == "More words."
    assert query.bind() == {
        "start": date(2024, 8, 1),
        "n": 5,
        "regions": ["us-east-1", "it's"],
        "flag": False,
        "who": None,
    }
    bound = query.bind({"n": "7", "regions": "a, b", "flag": "yes", "start": date(2024, 1, 2)})
    assert (bound["n"], bound["regions"], bound["flag"], bound["start"]) == (
        7,
        ["a", "b"],
        True,
        date(2024, 1, 2),
    )
    assert query.columns == (("a", "the a"),)
    assert query.sql.startswith("SELECT 1")
    with pytest.raises(
        QueryError, match=r"has no parameter nope\. Its parameters: flag, n, regions, start, who"
    ):
        query.bind({"nope": "1"})
    with pytest.raises(QueryError, match="'soon' is not a DATE"):
        query.bind({"start": "soon"})
    with pytest.raises(QueryError, match=r'is not "\$name TYPE = default'):
        saved.parse("y", "-- Q.\n-- Parameters:\n--   $broken\nSELECT 1")


def test_unknown_saved_query_names_the_known_ones() -> None:
    with pytest.raises(QueryError, match=r"no saved query 'nope'.*usage"):
        saved.load("nope")
    with pytest.raises(QueryError):
        saved.load("../usage")


# --- golden results ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str, sample_warehouse: Path, update_golden: bool) -> None:
    """Each saved query, with its defaults over data/sample, gives exactly its golden CSV."""
    got = as_csv(trailsmith.run_saved(name, sample_warehouse))
    golden = GOLDEN_QUERIES / f"{name}.csv"
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(got)
        return
    assert golden.exists(), f"saved query {name} has no golden file {golden}: run pytest --update-golden"
    assert got.decode() == golden.read_text()


def test_every_saved_query_runs_on_an_empty_warehouse(tmp_path: Path) -> None:
    Warehouse(tmp_path / "wh").create()
    for name in NAMES:
        table = trailsmith.run_saved(name, tmp_path / "wh")
        assert table.num_rows == 0 and table.schema.names == [c for c, _ in saved.load(name).columns], name


def test_no_golden_file_without_its_query() -> None:
    assert {p.stem for p in GOLDEN_QUERIES.glob("*.csv")} <= set(NAMES)


# --- results that matter, asserted ----------------------------------------------------------------


def test_usage_pairs_actions_with_resources(sample_warehouse: Path) -> None:
    rows = trailsmith.run_saved(
        "usage", sample_warehouse, principal="%:role/service/data-pipeline"
    ).to_pylist()
    assert rows and {r["principalArn"] for r in rows} == {
        f"arn:aws:iam::{a}:role/service/data-pipeline"
        for a in ("062058595613", "374535920883", "442483717183")
    }
    copy = [
        r for r in rows if r["action"] == "s3:GetObject" and r["resource"] and "/raw/orders/" in r["resource"]
    ]
    assert copy, "CopyObject's source object is read with s3:GetObject"
    assert all(r["firstSeen"] <= r["lastSeen"] and r["denied"] <= r["calls"] for r in rows)
    narrowed = trailsmith.run_saved(
        "usage", sample_warehouse, start="2024-08-02", principal="%:role/service/data-pipeline"
    )
    assert 0 < narrowed.num_rows < len(rows)
    assert min(narrowed.column("firstSeen").to_pylist()).date() == date(2024, 8, 2)


def test_activity_by_region_allow_list(sample_warehouse: Path) -> None:
    default = {
        r["awsRegion"]: r["unexpected"]
        for r in trailsmith.run_saved("activity_by_region", sample_warehouse).to_pylist()
    }
    assert default == {"us-east-1": False, "eu-west-1": True}
    both = trailsmith.run_saved("activity_by_region", sample_warehouse, allowed=["us-east-1", "eu-west-1"])
    assert set(both.column("unexpected").to_pylist()) == {False}


def test_new_actions_window(sample_warehouse: Path) -> None:
    last_day = trailsmith.run_saved("new_actions", sample_warehouse).to_pylist()
    assert last_day and all(r["firstSeen"].date() == date(2024, 8, 2) for r in last_day)
    both_days = trailsmith.run_saved("new_actions", sample_warehouse, days=2).num_rows
    distinct = (
        trailsmith.query(
            "SELECT count(DISTINCT principalArn || action) FROM calls, UNNEST(actions) AS a(action) "
            "WHERE principalArn IS NOT NULL",
            sample_warehouse,
        )
        .column(0)[0]
        .as_py()
    )
    assert both_days == distinct > len(last_day)


def test_console_logins_without_mfa_and_root(sample_warehouse: Path) -> None:
    [login] = trailsmith.run_saved("console_logins_without_mfa", sample_warehouse).to_pylist()
    assert (login["identityType"], login["mfaUsed"], login["result"]) == ("IAMUser", "No", "Success")
    root = trailsmith.run_saved("root_activity", sample_warehouse).to_pylist()
    assert {r["eventName"] for r in root} >= {"ConsoleLogin", "ListBuckets", "GetAccountSummary"}
    assert len({r["accountId"] for r in root}) == 3


def test_passed_roles_and_iam_changes(sample_warehouse: Path) -> None:
    passed = {
        (r["role"].rsplit("/", 1)[-1], r["service"])
        for r in trailsmith.run_saved("passed_roles", sample_warehouse).to_pylist()
    }
    assert {
        ("orders-worker-task", "ecs-tasks.amazonaws.com"),
        ("ecsTaskExecutionRole", "ecs-tasks.amazonaws.com"),
        ("orders-api-exec", "lambda.amazonaws.com"),
        ("cfn-exec", "cloudformation.amazonaws.com"),
        ("ec2-worker", "ec2.amazonaws.com"),
    } <= passed
    changes = trailsmith.run_saved("iam_changes", sample_warehouse).to_pylist()
    key = [r for r in changes if r["eventName"] == "CreateAccessKey"]
    assert (
        key
        and key[0]["targetType"] == "user"
        and key[0]["target"] == "alice"
        and key[0]["accessKeyId"].startswith("AKIA")
    )
    denied = [r for r in changes if r["outcome"] == "denied"]
    assert denied and all(r["errorCode"] == "AccessDenied" for r in denied)


def test_access_keys_long_term_unless_asked(sample_warehouse: Path) -> None:
    long_term = trailsmith.run_saved("access_keys", sample_warehouse)
    assert set(long_term.column("keyType").to_pylist()) == {"long-term"}
    every = trailsmith.run_saved("access_keys", sample_warehouse, temporary=True)
    assert set(every.column("keyType").to_pylist()) == {"long-term", "temporary"}


def test_cross_account_chain(tmp_path: Path) -> None:
    """A user in one account assumes a role in a second, whose session assumes a role in a third."""
    second, third = "222222222222", "333333333333"
    user = {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/ops",
        "accountId": ACCOUNT,
        "userName": "ops",
    }
    session = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{second}:assumed-role/hop/s1",
        "accountId": second,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{second}:role/hop", "accountId": second}
        },
    }
    records = [
        assume_role(1, user, f"arn:aws:iam::{second}:role/hop", "AKIAUSER", "ASIAHOP", ACCOUNT),
        assume_role(2, session, f"arn:aws:iam::{third}:role/target", "ASIAHOP", "ASIATARGET", second),
        assume_role(3, user, f"arn:aws:iam::{ACCOUNT}:role/local", "AKIAUSER", "ASIALOCAL", ACCOUNT),
    ]
    write_records(tmp_path / "in" / "a.json.gz", records)
    ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    rows = trailsmith.run_saved("cross_account", tmp_path / "wh").to_pylist()
    hops = [(r["callerArn"], r["roleArn"], r["assumedVia"], r["calls"]) for r in rows]
    assert hops == [
        (f"arn:aws:iam::{ACCOUNT}:user/ops", f"arn:aws:iam::{second}:role/hop", None, 1),
        (
            f"arn:aws:iam::{second}:role/hop",
            f"arn:aws:iam::{third}:role/target",
            f"arn:aws:iam::{ACCOUNT}:user/ops",
            1,
        ),
    ]


# --- differential: the same aggregates in plain Python from the raw JSON ---------------------------


def raw_events() -> list[dict[str, Any]]:
    """Every record of data/sample's log files (digests are not logs), duplicates included."""
    records: list[dict[str, Any]] = []
    for path in sorted(SAMPLE.rglob("*.json.gz")):
        if "/CloudTrail/" in path.as_posix():
            records.extend(json.loads(gzip.decompress(path.read_bytes()))["Records"])
    return records


def policy_holder(identity: dict[str, Any]) -> str | None:
    kind = identity.get("type")
    if kind == "AssumedRole":
        return identity["sessionContext"]["sessionIssuer"]["arn"]
    if kind in ("IAMUser", "Root"):
        return identity["arn"]
    return None


def denied(code: str | None) -> bool:
    return bool(code) and ("AccessDenied" in code or "UnauthorizedOperation" in code)


def test_differential_against_raw_json(sample_warehouse: Path) -> None:
    raw = raw_events()
    unique = {record["eventID"]: record for record in raw}
    assert len(raw) > len(unique), "data/sample has duplicate deliveries"
    assert trailsmith.query("SELECT count(*) AS n FROM events", sample_warehouse).column("n")[
        0
    ].as_py() == len(unique)

    per_name = Counter((policy_holder(r.get("userIdentity", {})), r["eventName"]) for r in unique.values())
    sql = trailsmith.query(
        "SELECT principalArn, eventName, count(*) AS n FROM events GROUP BY ALL", sample_warehouse
    )
    assert {(r["principalArn"], r["eventName"]): r["n"] for r in sql.to_pylist()} == per_name

    calls = [r for r in unique.values() if r.get("eventType") != "AwsServiceEvent"]
    refused = Counter(policy_holder(r["userIdentity"]) for r in calls if denied(r.get("errorCode")))
    sql = trailsmith.query(
        "SELECT principalArn, count(*) AS n FROM calls WHERE outcome = 'denied' GROUP BY ALL",
        sample_warehouse,
    )
    assert {r["principalArn"]: r["n"] for r in sql.to_pylist()} == refused and sum(refused.values()) > 10

    per_action: Counter[tuple[str, str]] = Counter()
    for r in calls:
        holder = policy_holder(r["userIdentity"])
        for action in map_event(r["eventSource"], r["eventName"]).actions if holder else ():
            per_action[(holder, action)] += 1
    sql = trailsmith.query(
        "SELECT principalArn, action, count(*) AS n FROM calls, UNNEST(actions) AS a(action) "
        "WHERE principalArn IS NOT NULL GROUP BY ALL",
        sample_warehouse,
    )
    assert {(r["principalArn"], r["action"]): r["n"] for r in sql.to_pylist()} == per_action

    s3 = Counter(
        (r["requestParameters"]["bucketName"], policy_holder(r["userIdentity"]))
        for r in calls
        if r["eventSource"] == "s3.amazonaws.com" and r.get("eventCategory") == "Data"
    )
    sql = trailsmith.run_saved("s3_data_access", sample_warehouse).to_pylist()
    assert {(r["bucket"], r["principal"]): r["calls"] for r in sql} == s3
