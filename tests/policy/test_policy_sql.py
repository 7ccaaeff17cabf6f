"""The usage aggregation's SQL: portable to Spark through sqlglot, parameters bound, and equal to a plain
Python recount of the raw events."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import sqlglot

import trailsmith
from helpers.paths import SAMPLE
from trailsmith.policy.usage import Filters, Window, aggregate, parse_time, usage_sql
from trailsmith.sql.authz import outcome

FULL = Filters(
    principals=("arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"),
    window=Window(parse_time("2024-08-01"), parse_time("2024-08-02", end=True)),
    accounts=("111122223333",),
    regions=("eu-west-1",),
)


def test_sql_follows_the_portable_subset_and_binds_every_value() -> None:
    sql, params = usage_sql(FULL, packed=False)  # the form Spark runs
    assert not re.search(
        r"SELECT\s+\*|\blen\(|list\(.*ORDER BY|->|\blambda\s+\w+\s*:|time_bucket|epoch_ms", sql, re.I
    )
    for value in ("arn:aws:iam::1:role/a", "111122223333", "eu-west-1", "2024-08"):
        assert value not in sql
    assert set(params) == {
        "principal_0",
        "principal_1",
        "first_day",
        "since",
        "last_day",
        "until",
        "account_0",
        "region_0",
    }
    spark = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
    assert "GET_JSON_OBJECT" in spark and "REGEXP_EXTRACT_ALL" in spark and "GROUP BY 1, 2" in spark
    sqlglot.parse_one(spark, read="spark")  # Spark SQL that parses back


def test_time_parsing() -> None:
    assert parse_time("2024-08-01").isoformat() == "2024-08-01T00:00:00+00:00"  # type: ignore[union-attr]
    assert str(parse_time("2024-08-01", end=True)) == "2024-08-02 00:00:00+00:00"
    assert str(parse_time("2024-08-01T10:00:00+02:00")) == "2024-08-01 10:00:00+02:00"
    now = parse_time("2024-08-10T00:00:00Z")
    assert parse_time("7d", now=now).isoformat() == "2024-08-03T00:00:00+00:00"  # type: ignore[union-attr]
    assert Window(parse_time("2024-08-01"), parse_time("2024-08-03", end=True)).partition_bounds() == (
        parse_time("2024-08-01").date(),
        parse_time("2024-08-03").date(),
    )  # type: ignore[union-attr]


def test_aggregation_agrees_with_a_python_recount(sample_warehouse: Path) -> None:
    """Per (principal, event, outcome): the same number of distinct events as counting the raw JSON."""
    expected: Counter[tuple[str, str, str, str]] = Counter()
    seen: set[str] = set()
    for path in sorted(SAMPLE.rglob("*.json.gz")):
        if "CloudTrail-Digest" in str(path):
            continue
        for record in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            if record["eventID"] in seen:
                continue
            seen.add(record["eventID"])
            identity = record["userIdentity"]
            holder = (
                identity.get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
                if identity.get("type") == "AssumedRole"
                else identity.get("arn")
                if identity.get("type") in ("IAMUser", "Root")
                else None
            )
            if holder:
                expected[
                    (holder, record["eventSource"], record["eventName"], outcome(record.get("errorCode")))
                ] += 1
    connection = trailsmith.connect(sample_warehouse)
    try:
        table = aggregate(connection, Filters())
    finally:
        connection.close()
    got: Counter[tuple[str, str, str, str]] = Counter()
    for row in table.to_pylist():
        got[(row["principalArn"], row["eventSource"], row["eventName"], row["outcome"])] += row["events"]
    assert got == expected


def test_packed_and_slotted_fields_give_the_same_calls(sample_warehouse: Path) -> None:
    """DuckDB's form (one list of every field of the service) and Spark's (one column per slot, only the
    calls that carry a field) give the same request fields to the same events, so the same policies."""
    from trailsmith.actions.mapping import event_host
    from trailsmith.policy.extract.registry import request_paths
    from trailsmith.policy.usage import layout

    connection = trailsmith.connect(sample_warehouse)
    forms: list[Counter[tuple[object, ...]]] = []
    try:
        for packed in (True, False):
            sql, params = usage_sql(Filters(), packed=packed)
            calls: Counter[tuple[object, ...]] = Counter()
            for r in connection.sql(sql, params=params).to_arrow_table().to_pylist():
                fields = tuple(sorted(layout().fields(event_host(r["eventSource"]), r).items()))
                calls[(r["principalArn"], r["eventSource"], r["eventName"], r["outcome"], fields)] += r[
                    "events"
                ]
            forms.append(calls)
    finally:
        connection.close()
    packed_calls, slotted_calls = forms
    assert packed_calls == slotted_calls
    # The sample's calls do name resources through these fields (the comparison is not of empty sets).
    assert sum(1 for call in packed_calls if call[4]) > 50
    assert any(prefixes for host in ("s3", "lambda", "iam") for _, prefixes in request_paths(host))
