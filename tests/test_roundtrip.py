"""Property tests: any record survives JSON -> Parquet -> SQL unchanged, whatever its file boundaries."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trailsmith
from trailsmith.ingestion.arrowize import to_batch
from trailsmith.ingestion.decode import decode_file
from trailsmith.warehouse.schema import EVENTS_SCHEMA

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
maybe_text = st.none() | text
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def records(draw: Any, n: int) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventID": f"id-{n}-" + draw(st.text("abcdef0123456789", min_size=1, max_size=8)),
        "eventTime": draw(
            st.datetimes(datetime(1990, 1, 1), datetime(2200, 1, 1), timezones=st.just(timezone.utc))
        ).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": draw(st.sampled_from(["s3.amazonaws.com", "iam.amazonaws.com", "ünïcode.example"])),
        "eventName": draw(text.filter(bool)),
    }
    for name in ("awsRegion", "errorCode", "userAgent", "sourceIPAddress", "recipientAccountId"):
        if draw(st.booleans()):
            record[name] = draw(maybe_text)
    for name in ("requestParameters", "responseElements", "additionalEventData", "serviceEventDetails"):
        if draw(st.booleans()):
            record[name] = draw(json_values)
    if draw(st.booleans()):
        record["readOnly"] = draw(st.none() | st.booleans())
    if draw(st.booleans()):
        record["userIdentity"] = {
            key: draw(maybe_text)
            for key in draw(
                st.lists(st.sampled_from(["type", "arn", "accountId", "userName", "invokedBy"]), unique=True)
            )
        }
    if draw(st.booleans()):
        record["resources"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {}, optional={"ARN": maybe_text, "type": maybe_text, "accountId": maybe_text}
                ),
                max_size=3,
            )
        )
    if draw(st.booleans()):
        record[draw(st.sampled_from(["@timestamp", "newTopLevel", "x y"]))] = draw(json_values)
    return record


def as_stored(record: dict[str, Any]) -> dict[str, Any]:
    """What SQL should give back for ``record``."""
    out = {
        k: record.get(k)
        for k in (
            "eventID",
            "eventSource",
            "eventName",
            "awsRegion",
            "errorCode",
            "userAgent",
            "sourceIPAddress",
            "recipientAccountId",
            "readOnly",
        )
    }
    for name in ("requestParameters", "responseElements", "additionalEventData", "serviceEventDetails"):
        out[name] = record.get(name)
    identity = record.get("userIdentity")
    out["identity"] = None if identity is None else {k: v for k, v in identity.items() if v is not None}
    resources = record.get("resources")
    out["resources"] = (
        None if resources is None else [{k: v for k, v in r.items() if v is not None} for r in resources]
    )
    extra = {k: v for k, v in record.items() if k in ("@timestamp", "newTopLevel", "x y")}
    out["extra"] = extra or None
    out["time"] = record["eventTime"]
    return out


def from_sql(row: dict[str, Any]) -> dict[str, Any]:
    out = {
        k: row[k]
        for k in (
            "eventID",
            "eventSource",
            "eventName",
            "awsRegion",
            "errorCode",
            "userAgent",
            "sourceIPAddress",
            "recipientAccountId",
            "readOnly",
        )
    }
    for name in ("requestParameters", "responseElements", "additionalEventData", "serviceEventDetails"):
        out[name] = None if row[name] is None else json.loads(row[name])
    identity = row["userIdentity"]
    out["identity"] = None if identity is None else {k: v for k, v in identity.items() if v is not None}
    out["resources"] = (
        None
        if row["resources"] is None
        else [{k: v for k, v in r.items() if v is not None} for r in row["resources"]]
    )
    out["extra"] = None if row["extraFields"] is None else json.loads(row["extraFields"])
    out["time"] = row["t"]
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=12, unique=True).flatmap(
        lambda ns: st.tuples(*[records(n) for n in ns])
    ),
    st.integers(1, 4),
    st.sampled_from(["records", "array", "lines"]),
)
def test_any_record_survives_the_warehouse(batch: tuple[dict[str, Any], ...], files: int, form: str) -> None:
    expected = {r["eventID"]: as_stored(r) for r in batch}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for part in range(files):  # file boundaries must not matter
            chunk = list(batch[part::files])
            if not chunk:
                continue
            if form == "records":
                body = json.dumps({"Records": chunk}, ensure_ascii=part % 2 == 0)
            elif form == "array":
                body = json.dumps(chunk, indent=part, ensure_ascii=False)
            else:
                body = "\n".join(json.dumps(r, ensure_ascii=False) for r in chunk)
            (root / "in").mkdir(exist_ok=True)
            (root / "in" / f"f{part}.json").write_text(body, encoding="utf-8")
        report = trailsmith.ingest([str(root / "in")], root / "wh", workers=1)
        assert report.quarantined == 0, report.quarantined_records
        table = trailsmith.query(
            "SELECT *, strftime(eventTime, '%Y-%m-%dT%H:%M:%SZ') AS t FROM events", root / "wh"
        )
    got = {row["eventID"]: from_sql(row) for row in table.to_pylist()}
    assert got == expected


@settings(max_examples=40, deadline=None)
@given(st.lists(records(0), min_size=1, max_size=6))
def test_conversion_is_independent_of_batching(batch: list[dict[str, Any]]) -> None:
    """Converting records together or one by one gives the same rows (per-batch shortcuts are safe)."""
    decoded = [decode_file(json.dumps(r).encode()) for r in batch]
    together_records = [rec for d in decoded for rec in d.records]
    extras: dict[int, bytes] = {}
    for d_index, d in enumerate(decoded):
        for position, value in d.extras.items():
            extras[d_index + position] = value
    together = to_batch(together_records, ["f"] * len(together_records), extras).batch
    alone = pa.Table.from_batches(
        [to_batch(d.records, ["f"] * len(d.records), dict(d.extras)).batch for d in decoded], EVENTS_SCHEMA
    )
    assert pa.Table.from_batches([together]).to_pylist() == alone.to_pylist()
