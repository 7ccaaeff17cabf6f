"""What the Spark parity tests share: the warehouses both engines read, and how two results are compared.

Two results are the same when they have the same columns and Arrow types and the same rows, where

- rows are compared as a multiset, and their order only as far as the query's ORDER BY fixes it: rows
  that tie on every ORDER BY key may come in any order (a query without ORDER BY has no order at all);
- timestamps are compared as instants in UTC, floats with a relative tolerance of 1e-9, lists in order
  and structs by field.
"""

from __future__ import annotations

import functools
import io
import math
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import trailsmith
from helpers.events import ACCOUNT, assume_role, event, write_records
from helpers.paths import REALDATA, SAMPLE
from trailsmith.cli.output import Format, write

# --- warehouses: data/sample is the session's shared ``sample_warehouse`` fixture (tests/conftest.py) -----


@functools.cache
def edge_warehouse(base: Path) -> Path:
    """data/sample, the real captures when present, and records made to find where two engines differ."""
    root = base / "spark-parity-edges"
    write_records(root / "in" / "edges.json.gz", edge_records())
    sources = [str(root / "in"), str(SAMPLE)] + ([str(REALDATA)] if REALDATA.is_dir() else [])
    trailsmith.ingest(sources, root / "wh", workers=1)
    return root / "wh"


def edge_records() -> list[dict[str, Any]]:
    """Records on which a careless translation would differ: a cross-account chain, a missing region,
    unicode and backslashes in request parameters, numbers, resources absent vs empty, empty error codes,
    unmapped calls, a root sign-in without MFAUsed, IAM changes, sub-second times."""
    second, third = "222222222222", "333333333333"
    user = {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/ops/eve",
        "accountId": ACCOUNT,
        "userName": "eve",
        "accessKeyId": "AKIAEVE",
    }
    hop = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{second}:assumed-role/hop/s1",
        "accountId": second,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{second}:role/hop", "accountId": second}
        },
    }
    root = {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT}
    records = [
        assume_role(9001, user, f"arn:aws:iam::{second}:role/hop", "AKIAEVE", "ASIAHOP", ACCOUNT),
        assume_role(9002, hop, f"arn:aws:iam::{third}:role/target", "ASIAHOP", "ASIATARGET", second),
        assume_role(9003, user, f"arn:aws:iam::{third}:role/target", "AKIAEVE", "ASIADIRECT", ACCOUNT),
        {
            **assume_role(9004, user, f"arn:aws:iam::{third}:role/nope", "AKIAEVE", "x", ACCOUNT),
            "errorCode": "AccessDenied",
            "responseElements": None,
        },
        event(9010, awsRegion=None, userIdentity=user, eventTime="2024-03-01T23:59:59.999999Z"),
        event(
            9011,
            requestParameters={"bucketName": "b\u00fcck\\et", "key": 'd\u00e9j\u00e0/\\n/"q".txt'},
            resources=None,
            eventTime="2024-03-02T00:00:00.000001Z",
        ),
        event(
            9012,
            requestParameters={"bucketName": "nums", "key": "k", "n": 1.50, "big": 12345678901234567890},
            resources=[],
        ),
        event(
            9013,
            eventSource="dynamodb.amazonaws.com",
            eventName="GetItem",
            resources=None,
            eventCategory="Data",
            requestParameters={"tableName": "orders", "key": {"id": {"S": "1"}}},
        ),
        event(
            9014,
            eventSource="kms.amazonaws.com",
            eventName="Decrypt",
            resources=[],
            eventCategory="Management",
            requestParameters={"keyId": "alias/app"},
            errorCode="",
        ),
        event(
            9015,
            eventSource="sqs.amazonaws.com",
            eventName="SendMessage",
            resources=None,
            requestParameters={"queueUrl": f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/q1"},
        ),
        event(
            9016,
            eventSource="ssm.amazonaws.com",
            eventName="GetParameter",
            resources=None,
            requestParameters={"name": "app/db-password"},
            errorCode="ThrottlingException",
        ),
        event(
            9017,
            eventSource="made-up.amazonaws.com",
            eventName="DoThing",
            resources=None,
            requestParameters=None,
        ),
        event(
            9018,
            eventType="AwsServiceEvent",
            userIdentity={"accountId": ACCOUNT, "invokedBy": "s3.amazonaws.com"},
        ),
        event(
            9019,
            eventSource="signin.amazonaws.com",
            eventName="ConsoleLogin",
            userIdentity=root,
            eventType="AwsConsoleSignIn",
            requestParameters=None,
            resources=None,
            responseElements={"ConsoleLogin": "Success"},
            additionalEventData={"LoginTo": "https://console"},
        ),
        event(
            9020,
            eventSource="iam.amazonaws.com",
            eventName="AttachRolePolicy",
            readOnly=False,
            resources=None,
            requestParameters={"roleName": "app", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
            userIdentity=user,
            eventCategory="Management",
        ),
        event(
            9021,
            eventSource="iam.amazonaws.com",
            eventName="CreateAccessKey",
            readOnly=False,
            resources=None,
            requestParameters=None,
            responseElements={"accessKey": {"accessKeyId": "AKIANEW"}},
            userIdentity=user,
            eventCategory="Management",
        ),
        event(
            9022,
            eventSource="iam.amazonaws.com",
            eventName="DeleteRole",
            resources=None,
            readOnly=None,
            requestParameters={"roleName": "old"},
            userIdentity=user,
            errorCode="Client.UnauthorizedOperation",
        ),
        event(
            9023,
            eventSource="lambda.amazonaws.com",
            eventName="CreateFunction20150331",
            resources=None,
            requestParameters={
                "functionName": "thumb",
                "role": f"arn:aws:iam::{ACCOUNT}:role/service-role/x",
            },
        ),
    ]
    return records


# --- comparing results -----------------------------------------------------------------------------------


def order_columns(sql: str, columns: list[str]) -> list[str] | None:
    """The output columns the outermost ORDER BY of ``sql`` (DuckDB dialect) sorts on, in order: [] when it
    has none, None when a sort key is not an output column (then only rows are compared, not their order)."""
    sqlglot = pytest.importorskip("sqlglot")
    tree = sqlglot.parse_one(sql, read="duckdb")
    order = tree.args.get("order")
    if order is None:
        return []
    found: list[str] = []
    for ordered in order.expressions:
        term = ordered.this
        by_expression = [s.alias_or_name for s in tree.selects if s.unalias() == term]
        by_name = [c for c in columns if isinstance(term, sqlglot.exp.Column) and c == term.name]
        match = (by_expression or by_name or [None])[0]
        if match is None or match not in columns:
            return None
        found.append(match)
    return found


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, float):
        return float(f"{value:.9g}") if math.isfinite(value) else value
    if isinstance(value, (list, tuple)):
        return tuple(_normal(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _normal(v)) for k, v in value.items()))
    return value


def as_csv(table: pa.Table) -> bytes:
    """The bytes ``trailsmith query NAME --format csv`` prints for ``table``
    (as tests/sql/test_queries.py does)."""
    buffer = io.BytesIO()
    write(table.to_batches(), table.schema, Format.csv, buffer)
    return buffer.getvalue()


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(_normal(v) for v in row.values()) for row in table.to_pylist()]


def differences(expected: pa.Table, got: pa.Table, order: list[str] | None = None) -> list[str]:
    """Why ``got`` is not ``expected`` (empty when they are the same, see the module docstring)."""
    if expected.schema.names != got.schema.names:
        return [f"columns {got.schema.names} instead of {expected.schema.names}"]
    problems = [
        f"{field.name}: {got.schema.field(field.name).type} instead of {field.type}"
        for field in expected.schema
        if got.schema.field(field.name).type != field.type
    ]
    left, right = rows(expected), rows(got)
    if Counter(left) != Counter(right):
        missing = list((Counter(left) - Counter(right)).elements())[:3]
        extra = list((Counter(right) - Counter(left)).elements())[:3]
        problems.append(f"{len(right)} rows instead of {len(left)}; missing {missing}; unexpected {extra}")
    elif order:
        at = [expected.schema.names.index(name) for name in order]
        keys = [[tuple(row[i] for i in at) for row in result] for result in (left, right)]
        if keys[0] != keys[1]:
            first = next(i for i, (a, b) in enumerate(zip(*keys, strict=True)) if a != b)
            problems.append(f"row {first} out of order: {keys[1][first]} where {keys[0][first]} belongs")
    return problems
