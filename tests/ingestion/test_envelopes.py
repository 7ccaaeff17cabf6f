"""Forwarders' envelopes: CloudWatch Logs subscriptions and EventBridge rules through Firehose,
CloudWatch Logs exports. Recognised by content and opened; their events stored once, what the envelope
knew kept in ``extraFields``, broken envelopes and bad events quarantined with a reason naming the form.

The envelopes are built here from the sample archive's real events (``data/sample``).
"""

from __future__ import annotations

import functools
import gzip
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

import trailsmith
from helpers.paths import SAMPLE
from helpers.s3server import S3Server
from trailsmith.ingestion.decode import LARGE_TEXT, FileRejected, decode_file, decode_pieces

Event = dict[str, Any]

GROUP, STREAM, OWNER = (
    "aws-cloudtrail-logs-123456789012-1a2b3c4d",
    "123456789012_CloudTrail_us-east-1",
    "123456789012",
)
CONTROL = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [{"id": "", "timestamp": 1722513600000, "message": "CWL CONTROL MESSAGE: Checking health"}],
}


@functools.cache
def _sample_events() -> tuple[bytes, ...]:
    """The JSON text of every event of the sample's CloudTrail files (not digests), as found."""
    texts: list[bytes] = []
    for path in sorted(SAMPLE.rglob("*.json.gz")):
        decoded = decode_file(path.read_bytes())
        if decoded.kind == "events":
            texts.extend(decoded.raw_record(i) for i in range(len(decoded.records)))
    return tuple(texts)


def sample(count: int, start: int = 0) -> list[Event]:
    """``count`` real events of the sample (fresh copies): API calls (not Insights), one copy of each (the
    sample holds redeliveries)."""
    events = {}
    for text in _sample_events():
        event = orjson.loads(text)
        events.setdefault(event["eventID"], event)
    calls = [e for e in events.values() if e.get("eventType") != "AwsCloudTrailInsight"]
    assert len(calls) >= start + count
    return calls[start : start + count]


def ids(events: list[Event]) -> set[str]:
    return {e["eventID"] for e in events}


def data_message(events: list[Event | str], first_id: int = 0) -> dict[str, Any]:
    """A CloudWatch Logs subscription DATA_MESSAGE carrying ``events`` (a str is a message as is)."""
    return {
        "messageType": "DATA_MESSAGE",
        "owner": OWNER,
        "logGroup": GROUP,
        "logStream": STREAM,
        "subscriptionFilters": ["cloudtrail-to-firehose"],
        "logEvents": [
            {
                "id": f"3{first_id + n:055d}",
                "timestamp": 1722513600000 + n,
                "message": e if isinstance(e, str) else json.dumps(e),
            }
            for n, e in enumerate(events)
        ],
    }


def subscription(
    events: list[Event], *, per_message: int = 3, separator: bytes = b"", controls: int = 1
) -> bytes:
    """A Firehose object of a CloudWatch Logs subscription: DATA_MESSAGEs and control messages."""
    objects = [CONTROL] * controls
    objects += [data_message(events[i : i + per_message], i) for i in range(0, len(events), per_message)]
    return separator.join(orjson.dumps(o) for o in objects)


def eventbridge(
    events: list[Event], *, separator: bytes = b"\n", detail_type: str = "AWS API Call via CloudTrail"
) -> bytes:
    """A Firehose object of an EventBridge rule: one event per object."""
    return separator.join(orjson.dumps(_bridge_event(e, detail_type)) for e in events)


def _bridge_event(event: Event, detail_type: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_OID, event["eventID"])),
        "detail-type": detail_type,
        "source": "aws." + event["eventSource"].split(".")[0],
        "account": event["recipientAccountId"],
        "time": event["eventTime"],
        "region": event["awsRegion"],
        "resources": [],
        "detail": event,
    }


def export(events: list[Event]) -> bytes:
    """A CloudWatch Logs export task's file: ``<timestamp> <event JSON>`` lines."""
    return b"".join(
        b"2024-08-01T12:00:%02d.000Z " % (n % 60) + orjson.dumps(e) + b"\n" for n, e in enumerate(events)
    )


def plain(events: list[Event]) -> bytes:
    """The trail's own S3 export of ``events``."""
    return gzip.compress(orjson.dumps({"Records": events}))


def write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def stored(warehouse: Path) -> dict[str, Any]:
    """eventID -> extraFields (parsed) of every stored event; fails if an eventID is stored twice."""
    table = trailsmith.query("SELECT eventID, extraFields FROM events", warehouse).to_pylist()
    out = {row["eventID"]: orjson.loads(row["extraFields"]) if row["extraFields"] else None for row in table}
    assert len(out) == len(table), "an eventID is stored twice"
    return out


def quarantined(warehouse: Path) -> list[dict[str, Any]]:
    sql = "SELECT sourceFile, recordIndex, reason, rawRecord FROM quarantine ORDER BY sourceFile, recordIndex"
    return trailsmith.query(sql, warehouse).to_pylist()


# --- each form, end to end --------------------------------------------------------------------------------


def test_one_subscription_message_alone(tmp_path: Path) -> None:
    events = sample(5)
    source = write(
        tmp_path / "in" / "one.json.gz", gzip.compress(subscription(events, per_message=5, controls=0))
    )
    report = trailsmith.ingest([source], tmp_path / "wh", workers=1)
    assert (report.events_new, report.quarantined, report.events_by_form) == (
        5,
        0,
        {"cloudwatch-subscription": 5},
    )
    assert set(stored(tmp_path / "wh")) == ids(events)


def test_a_log_event_without_a_message_is_quarantined() -> None:
    events = sample(2)
    message = data_message(events)
    message["logEvents"].insert(1, {"id": "1", "timestamp": 1})
    decoded = decode_file(orjson.dumps(message))
    assert [r.eventID for r in decoded.records] == [e["eventID"] for e in events]
    [bad] = decoded.bad
    assert (bad.index, bad.reason) == (
        1,
        "CloudWatch Logs subscription envelope: a log event has no message string",
    )
    assert orjson.loads(bad.raw) == {"id": "1", "timestamp": 1}


@pytest.mark.parametrize("separator", [b"", b"\n"], ids=["concatenated", "newlines"])
@pytest.mark.parametrize("compress", [gzip.compress, bytes], ids=["gzip", "plain"])
def test_cloudwatch_subscription_through_firehose(
    tmp_path: Path, separator: bytes, compress: Callable[[bytes], bytes]
) -> None:
    events = sample(20)
    body = subscription(events, separator=separator, controls=2)
    source = write(tmp_path / "in" / "aws-cloudtrail-delivery-1-2024-08-01-12-00-00-abc.gz", compress(body))
    report = trailsmith.ingest([source], tmp_path / "wh", workers=1)
    assert (report.events_new, report.quarantined) == (20, 0)
    assert report.events_by_form == {"cloudwatch-subscription": 20}
    assert report.skipped == {"control-message": 2}
    extras = stored(tmp_path / "wh")
    assert set(extras) == ids(events)
    first = extras[events[0]["eventID"]]["forwarder"]
    assert first == {
        "form": "cloudwatch-subscription",
        "owner": OWNER,
        "logGroup": GROUP,
        "logStream": STREAM,
        "id": f"3{0:055d}",
        "timestamp": 1722513600000,
    }


@pytest.mark.parametrize("separator", [b"", b"\n"], ids=["concatenated", "lines"])
@pytest.mark.parametrize("compress", [gzip.compress, bytes], ids=["gzip", "plain"])
def test_eventbridge_through_firehose(
    tmp_path: Path, separator: bytes, compress: Callable[[bytes], bytes]
) -> None:
    events = sample(12)
    body = eventbridge(events[:10], separator=separator)
    body += separator + eventbridge(
        events[10:], separator=separator, detail_type="AWS Console Sign In via CloudTrail"
    )
    source = write(tmp_path / "in" / "eventbridge-1.gz", compress(body))
    report = trailsmith.ingest([source], tmp_path / "wh", workers=1)
    assert (report.events_new, report.quarantined, report.events_by_form) == (12, 0, {"eventbridge": 12})
    extras = stored(tmp_path / "wh")
    assert set(extras) == ids(events)
    for e in events:
        assert extras[e["eventID"]] == {
            "forwarder": {"form": "eventbridge", "id": str(uuid.uuid5(uuid.NAMESPACE_OID, e["eventID"]))}
        }


@pytest.mark.parametrize("compress", [gzip.compress, bytes], ids=["gzip", "plain"])
def test_cloudwatch_logs_export(tmp_path: Path, compress: Callable[[bytes], bytes]) -> None:
    events = sample(15)
    source = write(
        tmp_path / "in" / "exportedlogs" / "task-1" / STREAM / "000000.gz", compress(export(events))
    )
    report = trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    assert (report.events_new, report.quarantined, report.events_by_form) == (
        15,
        0,
        {"cloudwatch-export": 15},
    )
    extras = stored(tmp_path / "wh")
    assert set(extras) == ids(events)
    assert extras[events[1]["eventID"]] == {
        "forwarder": {"form": "cloudwatch-export", "timestamp": "2024-08-01T12:00:01.000Z"}
    }
    assert source.endswith("000000.gz")


def test_an_event_with_unknown_keys_keeps_them_beside_its_envelope(tmp_path: Path) -> None:
    [event] = sample(1)
    event["@version"] = "1"  # a key CloudTrail never writes: kept, as in any other form
    event["userIdentity"]["extraThing"] = True
    source = write(tmp_path / "in" / "f.json", eventbridge([event]))
    trailsmith.ingest([source], tmp_path / "wh", workers=1)
    assert stored(tmp_path / "wh")[event["eventID"]] == {
        "@version": "1",
        "userIdentity.extraThing": True,
        "forwarder": {"form": "eventbridge", "id": str(uuid.uuid5(uuid.NAMESPACE_OID, event["eventID"]))},
    }


def test_plain_json_lines_are_not_taken_for_an_envelope() -> None:
    events = sample(4)
    decoded = decode_file(b"\n".join(orjson.dumps(e) for e in events))
    assert (decoded.form, len(decoded.records), decoded.extras) == ("lines", 4, {})


# --- from s3:// -------------------------------------------------------------------------------------------


def test_every_form_from_s3(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    events = sample(30)
    client = s3_server.client()
    # Firehose's default object names carry no extension (read: their content says what they are), or the
    # suffix the delivery stream was given
    bodies = {
        "firehose/cloudwatch/2024/08/01/12/cloudtrail-cw-1-2024-08-01-12-00-00-1": gzip.compress(
            subscription(events[:10], controls=3)
        ),
        "firehose/eventbridge/2024/08/01/12/cloudtrail-eb-1-2024-08-01-12-00-00-1.gz": gzip.compress(
            eventbridge(events[10:20], separator=b"")
        ),
        f"exportedlogs/task-1/{STREAM}/000000.gz": gzip.compress(export(events[20:])),
    }
    for key, body in bodies.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
    report = trailsmith.ingest([f"s3://{bucket}/"], tmp_path / "wh", workers=2)
    assert (report.files_read, report.events_new, report.quarantined) == (3, 30, 0)
    assert report.events_by_form == {
        "cloudwatch-subscription": 10,
        "eventbridge": 10,
        "cloudwatch-export": 10,
    }
    assert report.skipped == {"control-message": 3}
    extras = stored(tmp_path / "wh")
    assert set(extras) == ids(events)
    assert {extras[e["eventID"]]["forwarder"]["form"] for e in events[:10]} == {"cloudwatch-subscription"}


# --- duplicates across forms ------------------------------------------------------------------------------


def every_form(inputs: Path, events: list[Event]) -> list[str]:
    """The same 24 events as the trail exports them and as three forwarders deliver them (in part)."""
    assert len(events) == 24
    trail = inputs / "AWSLogs" / "123456789012" / "CloudTrail" / "us-east-1" / "2024" / "08" / "01"
    return [
        write(trail / "123456789012_CloudTrail_us-east-1_20240801T1200Z_a.json.gz", plain(events)),
        write(inputs / "firehose" / "cw-1.gz", gzip.compress(subscription(events[:16], controls=2))),
        write(inputs / "firehose" / "eb-1.gz", gzip.compress(eventbridge(events[8:]))),
        write(inputs / "export" / "000000.gz", gzip.compress(export(events[::2]))),
    ]


#: What ``every_form`` holds, by form.
EVERY_FORM = {"records": 24, "cloudwatch-subscription": 16, "eventbridge": 16, "cloudwatch-export": 12}


def test_an_event_delivered_by_several_forms_is_stored_once(tmp_path: Path) -> None:
    events = sample(24, start=30)
    inputs = tmp_path / "in"
    report = trailsmith.ingest(every_form(inputs, events), tmp_path / "wh", workers=2)
    assert report.events_by_form == EVERY_FORM
    assert report.skipped == {"control-message": 2}
    assert (report.events_read, report.events_new, report.events_duplicate) == (68, 24, 44)
    with trailsmith.connect(tmp_path / "wh") as connection:
        count, distinct = connection.execute(
            "SELECT count(*), count(DISTINCT eventID) FROM events"
        ).fetchone()
    assert (count, distinct) == (24, 24)
    assert set(stored(tmp_path / "wh")) == ids(events)
    # a second run of a new stream with the same events adds nothing
    again = write(inputs / "firehose" / "eb-2.gz", gzip.compress(eventbridge(events, separator=b"")))
    report = trailsmith.ingest([again], tmp_path / "wh", workers=1)
    assert (report.events_new, report.events_duplicate) == (0, 24)


# --- broken envelopes and bad events ----------------------------------------------------------------------

BROKEN_FILES = {
    "logEvents not a list": (
        orjson.dumps({**data_message([]), "logEvents": {"id": "1"}}),
        "CloudWatch Logs subscription envelope: logEvents is not a list",
    ),
    "concatenated, none readable": (
        orjson.dumps({**data_message([]), "logEvents": 5})
        + orjson.dumps({**data_message([]), "logEvents": None}),
        "CloudWatch Logs subscription envelope: logEvents is not a list (and 1 more broken envelope items)",
    ),
    "unknown message type": (
        orjson.dumps({**data_message([]), "messageType": "OTHER"}) + b"\n" + orjson.dumps(CONTROL),
        "CloudWatch Logs subscription envelope: messageType is 'OTHER', not DATA_MESSAGE or CONTROL_MESSAGE",
    ),
    "not CloudTrail": (
        eventbridge(
            [
                {
                    "eventID": "x",
                    "eventSource": "ec2.amazonaws.com",
                    "recipientAccountId": "1",
                    "eventTime": "t",
                    "awsRegion": "r",
                }
            ],
            detail_type="EC2 Instance State-change Notification",
        ),
        "EventBridge envelope: detail-type 'EC2 Instance State-change Notification' is not a CloudTrail",
    ),
    "detail not an object": (
        orjson.dumps(
            {"version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail", "detail": "text"}
        ),
        "EventBridge envelope: detail is a JSON string, not an object",
    ),
}


@pytest.mark.parametrize("name", list(BROKEN_FILES))
def test_broken_envelopes_are_quarantined_with_a_reason_naming_the_form(tmp_path: Path, name: str) -> None:
    data, reason = BROKEN_FILES[name]
    source = write(tmp_path / "in" / "broken.gz", gzip.compress(data))
    report = trailsmith.ingest([source], tmp_path / "wh", workers=1)
    [(quarantined_source, found)] = report.quarantined_files
    assert quarantined_source == source and found.startswith(reason), found
    assert report.events_new == 0 and report.quarantined_records == []
    with pytest.raises(FileRejected, match="^" + reason.split(" (")[0]):
        decode_file(data)


def test_bad_events_and_envelopes_inside_a_file_are_quarantined_one_by_one(tmp_path: Path) -> None:
    events = sample(6)
    no_id = {k: v for k, v in events[5].items() if k != "eventID"}
    body = b"\n".join(
        [
            orjson.dumps(data_message([events[0], "this is not JSON", events[1]])),  # items 0, 1, 2
            orjson.dumps({**data_message([]), "logEvents": "nope"}),  # item 3
            b'{"messageType": "DATA_MESSAGE", "logEvents": [',  # item 4: cut short
            orjson.dumps(CONTROL),
            orjson.dumps(data_message([events[2], json.dumps(no_id), events[3], ["an", "array"]])),  # 5 .. 8
            orjson.dumps(_bridge_event(events[4], "AWS API Call via CloudTrail")),  # item 9: another form
        ]
    )
    source = write(tmp_path / "in" / "mixed.gz", gzip.compress(body))
    report = trailsmith.ingest([source], tmp_path / "wh", workers=1)
    assert set(stored(tmp_path / "wh")) == ids(events[:4])
    assert report.events_by_form == {"cloudwatch-subscription": 4}
    assert report.skipped == {"control-message": 1}
    label = "CloudWatch Logs subscription envelope: "
    rows = quarantined(tmp_path / "wh")
    assert [(r["recordIndex"], r["reason"].startswith(label)) for r in rows] == [
        (1, True),
        (3, True),
        (4, True),
        (6, False),  # the event decodes; what it lacks is found later, as for any event
        (8, True),
        (9, True),
    ]
    reasons = {r["recordIndex"]: r["reason"] for r in rows}
    assert reasons[1].startswith(label + "log event message: not valid JSON")
    assert reasons[3] == label + "logEvents is not a list"
    assert reasons[4].startswith(label + "not valid JSON")
    assert "eventID" in reasons[6]
    assert reasons[8] == label + "log event message: record is a JSON array, not an object"
    assert reasons[9].startswith(label + "an object of another form")
    raw = {r["recordIndex"]: r["rawRecord"] for r in rows}
    assert raw[1] == b"this is not JSON"
    assert orjson.loads(raw[6]) == no_id  # the event out of its envelope, not the envelope


# --- large files, in pieces -------------------------------------------------------------------------------


def _many(count: int) -> list[Event]:
    """``count`` distinct events: the sample's, repeated under new eventIDs."""
    base = sample(200)
    return [{**base[n % len(base)], "eventID": str(uuid.UUID(int=n + 1))} for n in range(count)]


@pytest.mark.parametrize(
    "build",
    [subscription, eventbridge, export],
    ids=["cloudwatch-subscription", "eventbridge", "cloudwatch-export"],
)
def test_large_files_come_in_pieces(build: Callable[[list[Event]], bytes]) -> None:
    events = _many(7000)
    text = build(events)
    assert len(text) > LARGE_TEXT
    pieces = list(decode_pieces(gzip.compress(text, 1), 2000))
    assert [offset for offset, _ in pieces] == [0, 2000, 4000, 6000]
    assert [len(piece.records) for _, piece in pieces] == [2000, 2000, 2000, 1000]
    assert [r.eventID for _, piece in pieces for r in piece.records] == [e["eventID"] for e in events]
    last = pieces[-1][1]
    assert orjson.loads(last.raw_record(999))["eventID"] == events[-1]["eventID"]
    assert orjson.loads(last.extras[999])["forwarder"]["form"] == last.form
    assert sum(piece.control_messages for _, piece in pieces) == (1 if build is subscription else 0)


def test_a_large_file_with_bad_events_keeps_their_positions(tmp_path: Path) -> None:
    events = _many(6000)
    messages: list[Event | str] = list(events)
    messages[4500] = "not JSON"
    body = b"".join(orjson.dumps(data_message(messages[i : i + 500], i)) for i in range(0, 6000, 500))
    assert len(body) > LARGE_TEXT
    source = write(tmp_path / "in" / "large.gz", gzip.compress(body, 1))
    report = trailsmith.ingest([source], tmp_path / "wh", workers=1)
    assert (report.events_new, report.events_by_form) == (5999, {"cloudwatch-subscription": 5999})
    [(_, index, reason)] = report.quarantined_records
    assert index == 4500 and reason.startswith("CloudWatch Logs subscription envelope: log event message")
    assert set(stored(tmp_path / "wh")) == ids(events) - {events[4500]["eventID"]}


def test_bad_lines_of_an_export_are_quarantined_one_by_one() -> None:
    events = sample(2)
    text = (
        export(events[:1]) + b"a line without its timestamp\n2024-08-01T12:00:00Z {cut\n" + export(events[1:])
    )
    decoded = decode_file(text)
    assert (decoded.form, [r.eventID for r in decoded.records]) == (
        "cloudwatch-export",
        [e["eventID"] for e in events],
    )
    assert [(bad.index, bad.reason.split(" (")[0]) for bad in decoded.bad] == [
        (1, "CloudWatch Logs export: line does not start with a timestamp and a space"),
        (2, "CloudWatch Logs export: event after the timestamp: not valid JSON"),
    ]
    assert decoded.positions == [0, 3] and decoded.raw_record(2) == b"{cut"


def test_spark_reports_the_forms_as_duckdb_does(tmp_path: Path, spark: Any) -> None:
    from trailsmith.spark.ingest import ingest as spark_ingest

    events = sample(24, start=60)
    sources = every_form(tmp_path / "in", events)
    duck = trailsmith.ingest(sources, tmp_path / "duck", workers=1)
    sparked = spark_ingest(sources, tmp_path / "spark", spark=spark)
    assert sparked.events_by_form == duck.events_by_form == EVERY_FORM
    assert sparked.skipped == duck.skipped == {"control-message": 2}
    assert (
        (sparked.events_new, sparked.events_duplicate) == (duck.events_new, duck.events_duplicate) == (24, 44)
    )
    assert stored(tmp_path / "spark") == stored(tmp_path / "duck")


def test_the_cli_summary_counts_events_by_form(tmp_path: Path) -> None:
    every_form(tmp_path / "in", sample(24, start=90))
    command = [
        sys.executable,
        "-m",
        "trailsmith.cli",
        "ingest",
        str(tmp_path / "in"),
        "-w",
        str(tmp_path / "wh"),
    ]
    result = subprocess.run([*command, "-j", "1", "--json"], capture_output=True, text=True, check=True)
    summary = json.loads(result.stdout)
    assert summary["events_by_form"] == EVERY_FORM
    assert summary["skipped"] == {"control-message": 2}
    lines = " ".join(result.stderr.split())  # however the console wraps it
    assert (
        "events read by input form: 12 CloudWatch Logs export, 16 CloudWatch Logs subscription, "
        "16 EventBridge, 24 S3 export" in lines
    )
    assert "skipped: 2 control-message;" in lines


def test_a_file_of_control_messages_only_holds_no_events() -> None:
    decoded = decode_file(gzip.compress(orjson.dumps(CONTROL) + b"\n" + orjson.dumps(CONTROL)))
    assert (decoded.form, decoded.records, decoded.bad, decoded.control_messages) == (
        "cloudwatch-subscription",
        [],
        [],
        2,
    )
    alone = decode_file(orjson.dumps(CONTROL))
    assert (alone.form, alone.records, alone.control_messages) == ("cloudwatch-subscription", [], 1)


def test_events_by_form_count_what_is_read_not_what_is_dropped(tmp_path: Path) -> None:
    """Insights records and events rejected late (no eventID) are not counted for their form."""
    events = sample(8, start=120)
    insights = [
        {**events[6], "eventID": str(uuid.uuid4()), "eventType": "AwsCloudTrailInsight"} for _ in "ab"
    ]
    no_id = {k: v for k, v in events[7].items() if k != "eventID"}
    # converted together: the second insight is the first record of its file, after a rejected record
    sources = [
        write(tmp_path / "in" / "cw.gz", gzip.compress(subscription([*events[:3], insights[0], no_id]))),
        write(tmp_path / "in" / "plain.json.gz", plain([insights[1], *events[3:6]])),
    ]
    report = trailsmith.ingest(sources, tmp_path / "wh", workers=1)
    assert report.events_by_form == {"cloudwatch-subscription": 3, "records": 3}
    assert (report.events_read, report.insight_records, len(report.quarantined_records)) == (6, 2, 1)
    assert set(stored(tmp_path / "wh")) == ids(events[:6])
