"""Ingest: every input form, bad input, duplicates, re-runs, incremental appends, concurrency."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import trailsmith
from helpers.events import event, s3_key, write_records
from trailsmith.errors import BadInputError, WarehouseBusyError
from trailsmith.warehouse.store import Warehouse


def rows(warehouse: Path, sql: str) -> list[tuple]:
    connection = trailsmith.connect(warehouse)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def event_ids(warehouse: Path) -> list[str]:
    return [r[0] for r in rows(warehouse, "SELECT eventID FROM events ORDER BY eventID")]


@pytest.mark.parametrize(
    ("form", "gz"),
    [
        ("records", True),
        ("records", False),
        ("array", True),
        ("array", False),
        ("lines", True),
        ("lines", False),
    ],
)
def test_every_input_form_gives_the_same_events(tmp_path: Path, form: str, gz: bool) -> None:
    records = [event(n) for n in range(5)]
    write_records(tmp_path / "in" / f"file.json{'.gz' if gz else ''}", records, form=form, gz=gz)
    report = trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    assert (report.files_read, report.events_new, report.quarantined) == (1, 5, 0)
    stored = rows(
        tmp_path / "wh",
        "SELECT eventID, eventName, principalArn, userIdentity.sessionContext.sessionIssuer.userName, "
        "resources[1].ARN, requestParameters, eventDate, strftime(eventTime, '%Y-%m-%dT%H:%M:%SZ') "
        "FROM events "
        "ORDER BY eventID",
    )
    for record, row in zip(records, stored, strict=True):
        assert row[0] == record["eventID"]
        assert row[1] == "GetObject"
        assert row[2] == "arn:aws:iam::012345678901:role/ci/Builder"
        assert row[3] == "Builder"
        assert row[4] == record["resources"][0]["ARN"]
        assert json.loads(row[5]) == record["requestParameters"]
        assert row[6].isoformat() == record["eventTime"][:10]
        assert row[7] == record["eventTime"]


def test_a_single_event_object_is_read(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps(event(7)))
    report = trailsmith.ingest([str(tmp_path / "one.json")], tmp_path / "wh", workers=1)
    assert report.events_new == 1
    assert event_ids(tmp_path / "wh") == [event(7)["eventID"]]


def test_json_blobs_are_stored_byte_for_byte(tmp_path: Path) -> None:
    text = (
        '{"Records": [{"eventID": "e1", "eventTime": "2024-03-01T00:00:00Z", '
        '"eventSource": "iam.amazonaws.com", '
        '"eventName": "PutRolePolicy", "requestParameters": {"roleName" : "r",  '
        '"policyDocument": "{\\"a\\": 1}", '
        '"n": 1.50, "u": "\\u00e9t\\u00e9"}, "responseElements": null, '
        '"additionalEventData": {"x":[1, 2 ,3]}}]}'
    )
    (tmp_path / "blob.json").write_text(text)
    trailsmith.ingest([str(tmp_path / "blob.json")], tmp_path / "wh", workers=1)
    [(request, response, additional)] = rows(
        tmp_path / "wh", "SELECT requestParameters, responseElements, additionalEventData FROM events"
    )
    assert (
        request == '{"roleName" : "r",  "policyDocument": "{\\"a\\": 1}", "n": 1.50, "u": "\\u00e9t\\u00e9"}'
    )
    assert response is None
    assert additional == '{"x":[1, 2 ,3]}'


def test_unknown_keys_are_kept_in_extra_fields(tmp_path: Path) -> None:
    record = event(1, **{"@version": "1", "newField": {"a": [1]}})
    record["userIdentity"]["futureKey"] = "x"
    write_records(tmp_path / "f.json.gz", [record, event(2)])
    report = trailsmith.ingest([str(tmp_path / "f.json.gz")], tmp_path / "wh", workers=1)
    assert report.events_new == 2
    extras = rows(tmp_path / "wh", "SELECT eventID, extraFields FROM events ORDER BY eventID")
    assert json.loads(extras[0][1]) == {
        "@version": "1",
        "newField": {"a": [1]},
        "userIdentity.futureKey": "x",
    }
    assert extras[1][1] is None


def test_forwarder_timestamp_stands_in_for_a_missing_event_time(tmp_path: Path) -> None:
    record = event(3)
    del record["eventTime"]
    record["@timestamp"] = "2024-03-02T10:00:00.000Z"
    write_records(tmp_path / "f.jsonl", [record], form="lines", gz=False)
    report = trailsmith.ingest([str(tmp_path / "f.jsonl")], tmp_path / "wh", workers=1)
    assert (report.events_new, report.time_from_timestamp, report.quarantined) == (1, 1, 0)
    [(when, extra)] = rows(
        tmp_path / "wh", "SELECT strftime(eventTime, '%Y-%m-%d %H:%M'), extraFields FROM events"
    )
    assert when == "2024-03-02 10:00"
    assert json.loads(extra) == {"@timestamp": "2024-03-02T10:00:00.000Z"}


BAD_FILES = {
    "truncated.json.gz": (
        gzip.compress(json.dumps({"Records": [event(1)]}).encode())[:-12],
        "corrupt or truncated gzip",
    ),
    "garbage.json": (b"this is not json at all", "not JSON"),
    "broken.json": (b'{"Records": [{"eventID": ', "not valid JSON"),
    "empty.json.gz": (b"", "empty file"),
    "blank.json": (b"  \n\n ", "only whitespace"),
    "no-events.json": (b'{"hello": "world"}', "JSON object without CloudTrail events"),
    "records-not-list.json": (b'{"Records": {"eventID": "x"}}', "'Records' is not a JSON array"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_are_quarantined_with_their_reason(tmp_path: Path, name: str) -> None:
    data, reason = BAD_FILES[name]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / name).write_bytes(data)
    write_records(tmp_path / "in" / "good.json.gz", [event(1)])
    report = trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    assert report.events_new == 1  # the good file still goes in
    [(source, problem)] = report.quarantined_files
    assert source.endswith(name) and reason in problem
    [(q_source, q_index, q_reason, stored)] = rows(
        tmp_path / "wh", "SELECT sourceFile, recordIndex, reason, storedFile FROM quarantine"
    )
    assert (q_source, q_index, q_reason) == (source, None, problem)
    assert (tmp_path / "wh" / stored).read_bytes() == data  # kept aside byte for byte
    assert stored.startswith("quarantine/files/")


BAD_RECORDS = [
    (
        {"eventTime": "2024-03-01T00:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "GetObject"},
        "no eventID",
    ),
    ({"eventID": "id-1", "eventSource": "s3.amazonaws.com", "eventName": "GetObject"}, "no eventTime"),
    ({**event(50), "eventName": 42}, "wrong type: Expected `str | null`, got `int` - at `$.eventName`"),
    ({**event(51), "readOnly": "yes"}, "at `$.readOnly`"),
    ({**event(52), "eventTime": "yesterday"}, "is not an ISO 8601 time"),
    ({**event(53), "eventTime": "2024-03-01T00:00:00"}, "has no time zone"),
    ({**event(54), "eventID": ""}, "no eventID"),
    ([1, 2], "record is a JSON array, not an object"),
    ("text", "record is a JSON string, not an object"),
]


@pytest.mark.parametrize("form", ["records", "array", "lines"])
def test_bad_records_are_quarantined_and_their_neighbours_kept(tmp_path: Path, form: str) -> None:
    records = [event(0)] + [bad for bad, _ in BAD_RECORDS] + [event(1)]
    write_records(tmp_path / "mixed.json.gz", records, form=form)
    report = trailsmith.ingest([str(tmp_path / "mixed.json.gz")], tmp_path / "wh", workers=1)
    assert report.events_new == 2
    assert event_ids(tmp_path / "wh") == sorted([event(0)["eventID"], event(1)["eventID"]])
    reasons = {index: reason for _, index, reason in report.quarantined_records}
    assert sorted(reasons) == list(range(1, len(BAD_RECORDS) + 1))
    for index, (_, expected) in enumerate(BAD_RECORDS, start=1):
        assert expected in reasons[index], (index, reasons[index])
    kept = rows(tmp_path / "wh", "SELECT recordIndex, rawRecord FROM quarantine ORDER BY recordIndex")
    assert [json.loads(raw) for _, raw in kept] == [bad for bad, _ in BAD_RECORDS]


def test_strict_mode_fails_and_commits_nothing(tmp_path: Path) -> None:
    write_records(tmp_path / "in" / "good.json.gz", [event(1)])
    (tmp_path / "in" / "bad.json").write_bytes(b"nope")
    with pytest.raises(BadInputError) as caught:
        trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1, strict=True)
    assert caught.value.problems[0][0].endswith("bad.json")
    assert "bad.json" in str(caught.value)
    assert event_ids(tmp_path / "wh") == []
    # without --strict the same input goes in, and the good file was not marked as read by the failed run
    report = trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    assert (report.events_new, len(report.quarantined_files)) == (1, 1)


def test_digest_insight_and_non_log_files_are_skipped_and_counted(tmp_path: Path) -> None:
    root = tmp_path / "AWSLogs" / "012345678901"
    write_records(root / "CloudTrail" / "eu-west-1" / "2024" / "03" / "01" / "a.json.gz", [event(1)])
    digest = {
        "awsAccountId": "012345678901",
        "digestStartTime": "x",
        "digestEndTime": "y",
        "digestS3Bucket": "b",
        "digestS3Object": "o",
        "logFiles": [],
    }
    (root / "CloudTrail-Digest" / "eu-west-1").mkdir(parents=True)
    (root / "CloudTrail-Digest" / "eu-west-1" / "d_CloudTrail-Digest_x.json.gz").write_bytes(
        gzip.compress(json.dumps(digest).encode())
    )
    write_records(
        root / "CloudTrail-Insight" / "eu-west-1" / "i.json.gz", [event(2, eventType="AwsCloudTrailInsight")]
    )
    (tmp_path / "README.txt").write_text("not a log")
    # a digest file under a log-like name is recognised by its content
    (root / "misnamed.json").write_text(json.dumps(digest))
    report = trailsmith.ingest([str(tmp_path)], tmp_path / "wh", workers=1)
    assert report.skipped == {"digest": 2, "insight": 1, "other": 1}
    assert report.events_new == 1 and report.quarantined == 0


def test_insight_records_inside_a_log_file_are_counted_not_stored(tmp_path: Path) -> None:
    write_records(tmp_path / "f.json.gz", [event(1), event(2, eventType="AwsCloudTrailInsight")])
    report = trailsmith.ingest([str(tmp_path / "f.json.gz")], tmp_path / "wh", workers=1)
    assert (report.events_new, report.insight_records) == (1, 1)


def test_duplicates_are_stored_once_within_and_across_runs(tmp_path: Path) -> None:
    source = tmp_path / "in"
    write_records(source / s3_key(1, 1), [event(n) for n in range(10)] + [event(3)])  # a repeat inside a file
    write_records(source / s3_key(1, 2), [event(n) for n in range(5, 15)])  # redelivery overlap
    report = trailsmith.ingest([str(source)], tmp_path / "wh", workers=1)
    assert (report.events_read, report.events_new, report.events_duplicate) == (21, 15, 6)
    assert event_ids(tmp_path / "wh") == sorted(event(n)["eventID"] for n in range(15))
    # the copy kept is the one from the first file in URI order
    kept = dict(rows(tmp_path / "wh", "SELECT eventID, sourceFile FROM events"))
    assert kept[event(7)["eventID"]].endswith(s3_key(1, 1))
    # a later run that delivers known events again adds nothing
    write_records(source / s3_key(2, 3), [event(n) for n in range(20)])
    report = trailsmith.ingest([str(source)], tmp_path / "wh", workers=1)
    assert (report.files_read, report.files_already_ingested, report.events_new, report.events_duplicate) == (
        1,
        2,
        5,
        15,
    )
    assert len(event_ids(tmp_path / "wh")) == 20


def test_rerun_adds_nothing_and_new_files_are_picked_up(tmp_path: Path) -> None:
    source = tmp_path / "in"
    for n in range(3):
        write_records(source / s3_key(1, n), [event(10 * n + k) for k in range(10)])
    first = trailsmith.ingest([str(source)], tmp_path / "wh", workers=1)
    snapshot = Warehouse(tmp_path / "wh").snapshot()
    again = trailsmith.ingest([str(source)], tmp_path / "wh", workers=1)
    assert (first.events_new, again.events_new, again.files_read, again.files_already_ingested) == (
        30,
        0,
        0,
        3,
    )
    assert Warehouse(tmp_path / "wh").snapshot() == snapshot  # not even a new commit
    write_records(source / s3_key(2, 9), [event(100 + k) for k in range(4)])
    more = trailsmith.ingest([str(source)], tmp_path / "wh", workers=1)
    assert (more.files_read, more.events_new) == (1, 4)
    assert len(event_ids(tmp_path / "wh")) == 34


def test_a_changed_file_is_read_again_but_adds_only_new_events(tmp_path: Path) -> None:
    path = write_records(tmp_path / "f.json.gz", [event(1), event(2)])
    trailsmith.ingest([str(path)], tmp_path / "wh", workers=1)
    write_records(path, [event(1), event(2), event(3)])
    report = trailsmith.ingest([str(path)], tmp_path / "wh", workers=1)
    assert (report.files_read, report.events_new, report.events_duplicate) == (1, 1, 2)


def test_two_workers_and_many_batches_give_the_same_table(tmp_path: Path) -> None:
    source = tmp_path / "in"
    for n in range(40):
        write_records(source / s3_key(1 + n % 3, n), [event(7 * n + k) for k in range(25)])
    one = trailsmith.ingest([str(source)], tmp_path / "one", workers=1)
    two = trailsmith.ingest([str(source)], tmp_path / "two", workers=2, batch_bytes=4096)
    assert two.commits > 5
    assert one.events_new == two.events_new == len({7 * n + k for n in range(40) for k in range(25)})
    query = "SELECT eventID, eventTime, principalArn, requestParameters FROM events ORDER BY eventID"
    assert rows(tmp_path / "one", query) == rows(tmp_path / "two", query)


def on_day(day: int, n: int) -> dict[str, Any]:
    return event(n, eventTime=f"2024-03-{day:02d}T10:{n % 60:02d}:00Z")


def data_files(warehouse: Path) -> list[str]:
    """The events files on disk, relative to the warehouse root."""
    return sorted(p.relative_to(warehouse).as_posix() for p in (warehouse / "events").rglob("*.parquet"))


def test_rows_are_written_once_and_only_files_with_a_duplicate_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trailsmith.ingestion.worker

    rewritten: list[list[tuple[str, list[int]]]] = []
    finalize = trailsmith.ingestion.worker.Worker.finalize

    def counted(self: trailsmith.ingestion.worker.Worker, task: Any) -> Any:
        rewritten.append([(Path(path).name, drops) for path, drops in task.inputs])
        return finalize(self, task)

    monkeypatch.setattr(trailsmith.ingestion.worker.Worker, "finalize", counted)
    source = tmp_path / "in"
    for n in range(4):  # two dates, two files each
        write_records(source / s3_key(1 + n % 2, n), [on_day(1 + n % 2, 10 * n + k) for k in range(10)])
    # a redelivered file beside its first copy, and a file that repeats its own first event
    write_records(source / s3_key(1, 4), [on_day(1, k) for k in range(10)])
    write_records(source / s3_key(1, 6), [on_day(1, 300), on_day(1, 301), on_day(1, 300)])
    report = trailsmith.ingest([str(source)], tmp_path / "wh", workers=1)
    assert (report.events_new, report.events_duplicate, report.commits) == (42, 11, 1)
    assert rewritten == []  # every staged file was committed as the worker wrote it: copies never written
    kept = dict(rows(tmp_path / "wh", "SELECT eventID, sourceFile FROM events"))
    assert kept[on_day(1, 3)["eventID"]].endswith(s3_key(1, 0))  # the copy of the first file in URI order
    snapshot = Warehouse(tmp_path / "wh").snapshot()
    assert sorted(f.rows for f in snapshot.files) == [20, 22]
    names = [Path(f.path).name for f in snapshot.files]
    assert all(re.fullmatch(r"part-00000001-[0-9a-f]{8}-w0-\d{5}\.parquet", name) for name in names)
    assert data_files(tmp_path / "wh") == sorted(f.path for f in snapshot.files)

    # a second run: one file repeats two known events of day 1, one is new on day 2
    write_records(source / s3_key(1, 8), [on_day(1, 2), on_day(1, 100), on_day(1, 4)])
    write_records(source / s3_key(2, 9), [on_day(2, 200)])
    report = trailsmith.ingest([str(source)], tmp_path / "wh", workers=1)
    assert (report.events_new, report.events_duplicate) == (2, 2)
    assert len(rewritten) == 1  # only the day-1 file that held the duplicates, without rows 0 and 2
    [[(name, drops)]] = rewritten
    assert re.fullmatch(r"part-00000002-[0-9a-f]{8}-w0-00001\.parquet", name)  # this run's staged file
    assert drops == [0, 2]
    assert len(event_ids(tmp_path / "wh")) == 44
    snapshot = Warehouse(tmp_path / "wh").snapshot()
    assert sorted(f.rows for f in snapshot.files) == [1, 1, 20, 22]
    assert data_files(tmp_path / "wh") == sorted(f.path for f in snapshot.files)
    assert not any((tmp_path / "wh" / "_trailsmith" / "staging").iterdir())


def test_the_copy_kept_is_the_first_in_uri_order_whatever_the_reading_order(tmp_path: Path) -> None:
    # read first (its path says day 1) but later in URI order (us-east-1 > eu-west-1): the commit, not the
    # worker, leaves its copy out, by writing its file again
    write_records(tmp_path / "in" / s3_key(1, 1, region="us-east-1"), [on_day(2, 5), on_day(2, 6)])
    write_records(tmp_path / "in" / s3_key(2, 2, region="eu-west-1"), [on_day(2, 5), on_day(2, 7)])
    for workers in (1, 2):
        report = trailsmith.ingest([str(tmp_path / "in")], tmp_path / f"wh{workers}", workers=workers)
        assert (report.events_new, report.events_duplicate) == (3, 1)
        kept = dict(rows(tmp_path / f"wh{workers}", "SELECT eventID, sourceFile FROM events"))
        assert kept[on_day(2, 5)["eventID"]].endswith(s3_key(2, 2, region="eu-west-1"))
        assert len(kept) == 3


def test_a_date_holds_few_small_files(tmp_path: Path) -> None:
    from trailsmith.warehouse.commit import SMALL_FILES

    source = tmp_path / "in"
    counts = []
    for n in range(3 * SMALL_FILES):  # one commit per run, each adding a small file to the same date
        write_records(source / s3_key(1, n), [event(3 * (20 * n + k)) for k in range(20)])
        trailsmith.ingest([str(source)], tmp_path / "wh", workers=1)
        snapshot = Warehouse(tmp_path / "wh").snapshot()
        assert snapshot.version == n + 1
        counts.append(len(snapshot.files))
        assert data_files(tmp_path / "wh") == sorted(f.path for f in snapshot.files)  # replaced files gone
    # each commit adds its file as written, until a commit would leave more than SMALL_FILES: that one
    # folds them all into one
    assert counts == [*range(1, SMALL_FILES + 1), *range(1, SMALL_FILES + 1), *range(1, SMALL_FILES + 1)]
    assert max(counts) == SMALL_FILES
    assert len(event_ids(tmp_path / "wh")) == 20 * 3 * SMALL_FILES


def test_compaction_folds_files_of_many_row_groups_and_splits_large_dates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    import trailsmith.ingestion.driver
    import trailsmith.ingestion.worker

    source = tmp_path / "in"
    for n in range(6):
        write_records(source / s3_key(1, n), [event(3 * (40 * n + k)) for k in range(40)])
    whole = trailsmith.ingest([str(source)], tmp_path / "whole", workers=1)
    monkeypatch.setattr(
        trailsmith.ingestion.worker, "ROW_GROUP_ROWS", 7
    )  # every file has many row groups ...
    monkeypatch.setattr(trailsmith.ingestion.worker, "TARGET_ROWS", 100)  # ... and a date spans several files
    monkeypatch.setattr(trailsmith.ingestion.driver, "SMALL_FILES", 1)  # one worker: up to 2 small files
    trailsmith.ingest([str(source)], tmp_path / "wh", workers=1, batch_bytes=1)  # one commit per source file
    snapshot = Warehouse(tmp_path / "wh").snapshot()
    assert snapshot.version == 6
    # 40 | 40 40 | 100 20 (folded) | 100 60 | 100 100 | 100 100 40
    assert sorted(f.rows for f in snapshot.files) == [40, 100, 100]
    for data_file in snapshot.files:
        metadata = pq.ParquetFile(tmp_path / "wh" / data_file.path).metadata
        assert metadata.num_rows == data_file.rows
        assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [7] * (
            data_file.rows // 7
        ) + ([data_file.rows % 7] if data_file.rows % 7 else [])
    query = "SELECT eventID, eventTime, principalArn, requestParameters FROM events ORDER BY eventID"
    assert whole.events_new == 240
    assert rows(tmp_path / "wh", query) == rows(tmp_path / "whole", query)


def test_a_second_concurrent_ingest_is_refused(tmp_path: Path) -> None:
    write_records(tmp_path / "f.json.gz", [event(1)])
    warehouse = Warehouse(tmp_path / "wh")
    warehouse.create()
    with warehouse.lock(), pytest.raises(WarehouseBusyError, match="another ingest is writing to it"):
        trailsmith.ingest([str(tmp_path / "f.json.gz")], tmp_path / "wh", workers=1)
    assert trailsmith.ingest([str(tmp_path / "f.json.gz")], tmp_path / "wh", workers=1).events_new == 1


def test_a_directory_that_is_not_a_warehouse_is_refused(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    write_records(tmp_path / "in" / "f.json.gz", [event(1)])
    with pytest.raises(trailsmith.TrailsmithError, match="not a trailsmith warehouse"):
        trailsmith.ingest([str(tmp_path / "in")], tmp_path, workers=1)


def test_missing_source_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(trailsmith.TrailsmithError, match="no such file or directory"):
        trailsmith.ingest([str(tmp_path / "nope")], tmp_path / "wh", workers=1)
    with pytest.raises(trailsmith.TrailsmithError, match="matches no files"):
        trailsmith.ingest([str(tmp_path / "*.json.gz")], tmp_path / "wh", workers=1)


def test_globs_select_files(tmp_path: Path) -> None:
    write_records(tmp_path / "a" / "x.json.gz", [event(1)])
    write_records(tmp_path / "b" / "y.json.gz", [event(2)])
    report = trailsmith.ingest([str(tmp_path / "a" / "*.json.gz")], tmp_path / "wh", workers=1)
    assert report.events_new == 1
    report = trailsmith.ingest([str(tmp_path / "**" / "*.json.gz")], tmp_path / "wh", workers=1)
    assert (report.events_new, report.files_already_ingested) == (1, 1)


def test_a_run_with_only_bad_input_still_records_it(tmp_path: Path) -> None:
    write_records(tmp_path / "in" / "a.json", [{"eventID": "x"}], gz=False)  # no eventTime, no good record
    report = trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    assert (report.events_new, len(report.quarantined_records)) == (0, 1)
    assert rows(tmp_path / "wh", "SELECT recordIndex, reason FROM quarantine") == [
        (0, "record has no eventTime")
    ]
    # and the file is known: a re-run does not quarantine it twice
    assert trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1).files_already_ingested == 1
    assert rows(tmp_path / "wh", "SELECT count(*) FROM quarantine") == [(1,)]


@pytest.mark.parametrize("form", ["records", "array", "lines"])
def test_large_files_are_decoded_in_pieces_with_the_same_result(
    tmp_path: Path, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trailsmith.ingestion.decode
    import trailsmith.ingestion.worker

    records = [event(n) for n in range(40)]
    records[7] = {**event(7), "@version": "1"}  # kept in extraFields
    records[23] = {"eventID": "x"}  # quarantined, with its index in the whole file
    records[31] = [1]  # quarantined too
    write_records(tmp_path / "big.json.gz", records, form=form)
    whole = trailsmith.ingest([str(tmp_path / "big.json.gz")], tmp_path / "whole", workers=1)
    monkeypatch.setattr(trailsmith.ingestion.decode, "LARGE_TEXT", 100)  # every file is "large"
    monkeypatch.setattr(trailsmith.ingestion.worker, "_CONVERT_RECORDS", 6)  # in pieces of 6 records
    pieces = trailsmith.ingest([str(tmp_path / "big.json.gz")], tmp_path / "pieces", workers=1)
    assert (pieces.events_new, pieces.quarantined_records) == (whole.events_new, whole.quarantined_records)
    assert [i for _, i, _ in pieces.quarantined_records] == [23, 31]
    query = "SELECT eventID, extraFields, requestParameters, sourceFile FROM events ORDER BY eventID"
    assert rows(tmp_path / "pieces", query) == rows(tmp_path / "whole", query)
    raw = "SELECT recordIndex, rawRecord FROM quarantine ORDER BY recordIndex"
    assert [(i, json.loads(r)) for i, r in rows(tmp_path / "pieces", raw)] == [
        (23, {"eventID": "x"}),
        (31, [1]),
    ]


def test_an_unreadable_file_is_named_and_tried_again_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trailsmith.ingestion.sources

    write_records(tmp_path / "in" / "locked.json.gz", [event(1)])
    write_records(tmp_path / "in" / "open.json.gz", [event(2)])
    real_read = trailsmith.ingestion.sources.read

    def read(entry: trailsmith.ingestion.sources.SourceEntry) -> bytes:
        if entry.uri.endswith("locked.json.gz"):
            raise PermissionError(13, "Permission denied", entry.uri)
        return real_read(entry)

    monkeypatch.setattr(trailsmith.ingestion.sources, "read", read)
    first = trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    assert first.events_new == 1
    [(source, reason)] = first.quarantined_files
    assert source.endswith("locked.json.gz") and reason.startswith("cannot be read (PermissionError")
    monkeypatch.setattr(
        trailsmith.ingestion.sources, "read", real_read
    )  # readable again: the next run takes it
    second = trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    assert (second.files_read, second.events_new, second.files_already_ingested) == (1, 1, 1)


def test_ingest_duckdb_never_draws_on_stdout(tmp_path: Path) -> None:
    """DuckDB draws a progress bar on stdout for statements over 2 s (the dedup of a large ingest); stdout
    belongs to the caller, so the ingest's own connection has it off (found in the 16M-event benchmark).
    Checked in a plain interpreter: under pytest's capture DuckDB starts with the bar off anyway."""
    script = (
        "import sys; from trailsmith.warehouse.commit import open_duckdb; "
        "from trailsmith.warehouse.store import Warehouse\n"
        "connection = open_duckdb(Warehouse(sys.argv[1]), threads=1)\n"
        "print(connection.execute(\"SELECT current_setting('enable_progress_bar')\").fetchone()[0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "wh")], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_workers_convert_without_importing_pandas() -> None:
    """pyarrow would import pandas (40 MB a worker) at the first array built from a list; workers block it,
    and pyarrow must still build arrays. Checked in a fresh interpreter, as a worker starts."""
    pytest.importorskip("pandas")  # without pandas installed there is nothing to block
    code = (
        "import sys\n"
        "from trailsmith.ingestion.pool import _NoPandas\n"
        "sys.meta_path.insert(0, _NoPandas())\n"
        "import pyarrow as pa\n"
        "assert pa.array(['a', None], pa.string()).null_count == 1\n"
        "assert pa.array([1, 2]).to_pylist() == [1, 2]\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'pandas'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
