"""Amazon Security Lake's copy of CloudTrail (OCSF API Activity in Parquet) ingests as the CloudTrail it was
made from: the sample archive, written as Security Lake would store it, gives the same events and the same
policies as its CloudTrail JSON, except for the fields OCSF does not carry (``helpers.ocsf.DROPPED``).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import trailsmith
from helpers import ocsf
from helpers.events import event
from helpers.paths import SAMPLE
from helpers.s3server import S3Server
from trailsmith.ingestion.decode import decode_file, decode_pieces
from trailsmith.ingestion.entry import SourceEntry
from trailsmith.policy.generator import generate


def sample_events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for path in sorted(SAMPLE.rglob("*.json.gz")):
        if "CloudTrail-Digest" not in str(path):
            events += json.loads(gzip.decompress(path.read_bytes()))["Records"]
    return events


def table(warehouse: Path) -> dict[str, dict[str, Any]]:
    rows = trailsmith.query("SELECT * EXCLUDE (sourceFile) FROM events", warehouse).to_pylist()
    return {row["eventID"]: flat(row) for row in rows}


def flat(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            out.update(flat(item, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = item
    return out


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample archive as Security Lake's CloudTrail source, in its bucket layout."""
    root = tmp_path_factory.mktemp("lake")
    ocsf.write(sample_events(), root)
    return root


@pytest.fixture(scope="module")
def lake_ingest(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, trailsmith.IngestReport]:
    warehouse = tmp_path_factory.mktemp("ocsf") / "wh"
    return warehouse, trailsmith.ingest([str(lake)], warehouse, workers=2)


def test_the_copy_is_in_security_lakes_layout(lake: Path) -> None:
    files = sorted(lake.rglob("*"))
    parquet = [f for f in files if f.is_file()]
    assert parquet and all(f.name.endswith(".gz.parquet") for f in parquet)
    assert all(f.read_bytes()[:4] == b"PAR1" for f in parquet)  # gzip is inside the Parquet file
    relative = parquet[0].relative_to(lake).parts
    assert relative[:4] == ("ext", "aws", "CLOUD_TRAIL_MGMT", "2.0")
    assert [part.split("=")[0] for part in relative[4:7]] == ["region", "accountId", "eventDay"]
    day = relative[6].split("=")[1]
    # the ingest reads files in date order (batches then touch few dates): the date is read from eventDay=
    assert SourceEntry(str(parquet[0]), 1, "").path_date == f"{day[:4]}-{day[4:6]}-{day[6:]}"


def test_the_ocsf_copy_holds_the_same_events(
    lake_ingest: tuple[Path, trailsmith.IngestReport], sample_ingest: tuple[Path, trailsmith.IngestReport]
) -> None:
    (lake_warehouse, report), (json_warehouse, json_report) = lake_ingest, sample_ingest
    assert report.quarantined == 0 and report.events_new == json_report.events_new > 900
    assert report.events_duplicate == json_report.events_duplicate  # redeliveries, in both copies
    # OCSF (this copy) has no place for additionalEventData; everything else is carried or derived
    assert report.not_carried == ["additionalEventData"]
    ours, theirs = table(lake_warehouse), table(json_warehouse)
    assert sorted(ours) == sorted(theirs)
    differing: set[str] = set()
    for event_id, row in theirs.items():
        differing |= {name for name, value in row.items() if ours[event_id].get(name) != value}
    assert differing == set(ocsf.DROPPED)
    for event_id in theirs:  # the dropped fields are empty, never something else
        assert all(ours[event_id].get(name) is None for name in ocsf.DROPPED), event_id


def test_policies_from_the_ocsf_copy_equal_those_from_cloudtrail_json(
    lake_ingest: tuple[Path, trailsmith.IngestReport], sample_warehouse: Path
) -> None:
    # No policy reads a field OCSF drops (helpers.ocsf.DROPPED), so the documents must be identical.
    from_json = [policy.to_json() for policy in generate(sample_warehouse)]
    from_ocsf = [policy.to_json() for policy in generate(lake_ingest[0])]
    assert len(from_json) > 10
    assert from_ocsf == from_json


def test_a_json_and_an_ocsf_copy_of_the_same_events_are_stored_once(lake: Path, tmp_path: Path) -> None:
    report = trailsmith.ingest([str(SAMPLE), str(lake)], tmp_path / "wh", workers=2)
    alone = trailsmith.ingest([str(SAMPLE)], tmp_path / "alone", workers=1)
    assert report.events_new == alone.events_new
    assert report.events_duplicate == alone.events_duplicate + report.events_read - alone.events_read
    assert report.events_read == 2 * alone.events_read
    count = trailsmith.query(
        "SELECT count(*) AS n, count(DISTINCT eventID) AS d FROM events", tmp_path / "wh"
    )
    assert count.to_pylist() == [{"n": alone.events_new, "d": alone.events_new}]


def test_rows_that_are_no_cloudtrail_call_are_bad_records(tmp_path: Path) -> None:
    rows = [ocsf.row(event(n)) for n in range(6)]
    rows[1] |= {"class_uid": 3002, "class_name": "Authentication"}
    rows[2]["metadata"]["product"]["name"] = "Okta"
    rows[3]["metadata"]["uid"] = None
    rows[4]["time"] = None
    path = tmp_path / "in" / "x.gz.parquet"
    path.parent.mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=ocsf.SCHEMA), path, compression="gzip")
    report = trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    assert report.events_new == 2
    assert report.quarantined_records == [
        (str(path), 1, "Security Lake OCSF: row 1: class_uid 3002 (Authentication), not API Activity (6003)"),
        (str(path), 2, "Security Lake OCSF: row 2: product 'Okta', not CloudTrail"),
        (str(path), 3, "Security Lake OCSF: row 3: no metadata.uid"),
        (str(path), 4, "Security Lake OCSF: row 4: no time"),
    ]
    kept = trailsmith.query("SELECT recordIndex, rawRecord FROM quarantine ORDER BY 1", tmp_path / "wh")
    raw = json.loads(kept.column("rawRecord")[0].as_py())
    assert raw["class_uid"] == 3002  # the row as found, for a look at it later
    ids = trailsmith.query("SELECT eventID FROM events ORDER BY 1", tmp_path / "wh").column("eventID")
    assert ids.to_pylist() == sorted([event(0)["eventID"], event(5)["eventID"]])


def test_malformed_parquet_files_are_quarantined_with_a_reason(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pq.write_table(pa.Table.from_pylist([ocsf.row(event(n)) for n in range(50)], schema=ocsf.SCHEMA), good)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.gz.parquet").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "in" / "other.parquet")
    flows = [ocsf.row(event(n)) | {"class_uid": 4001, "class_name": "Network Activity"} for n in range(3)]
    pq.write_table(pa.Table.from_pylist(flows, schema=ocsf.SCHEMA), tmp_path / "in" / "flows.gz.parquet")
    report = trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    reasons = {Path(source).name: reason for source, reason in report.quarantined_files}
    assert reasons.keys() == {"cut.gz.parquet", "other.parquet", "flows.gz.parquet"}
    assert report.events_new == 0 and report.quarantined_records == []  # one reason per file, not per row
    assert reasons["cut.gz.parquet"].startswith("Security Lake OCSF: not a readable Parquet file (")
    assert (
        reasons["other.parquet"] == "Parquet file without OCSF events (no class_uid or metadata; columns: a)"
    )
    assert reasons["flows.gz.parquet"] == (
        "Security Lake OCSF: no API Activity (6003) rows, not CloudTrail (class_uid: 4001)"
    )


def test_ocsf_variants_decode_the_same(tmp_path: Path) -> None:
    """Parquet timestamps for ``time``, ``unmapped`` as JSON text or a struct, OCSF 1.0's ``account_uid``."""
    source = event(7) | {"readOnly": False, "tlsDetails": {"tlsVersion": "TLSv1.3"}}
    plain = ocsf.row(source)
    variant = json.loads(json.dumps(plain))
    variant["time"] = pa.scalar(plain["time"], pa.timestamp("ms", tz="UTC")).as_py()
    variant["unmapped"] = json.dumps(dict(plain["unmapped"]))
    variant["cloud"] = {"region": plain["cloud"]["region"], "account_uid": plain["cloud"]["account"]["uid"]}
    as_struct = plain | {"unmapped": dict(plain["unmapped"])}
    data = [to_parquet(plain), to_parquet(variant, schema=None), to_parquet(as_struct, schema=None)]
    [first, second, third] = [decode_file(d).records for d in data]
    assert first == second == third and len(first) == 1
    [record] = first
    assert (record.eventTime, record.readOnly, record.recipientAccountId) == (
        source["eventTime"],
        False,
        source["recipientAccountId"],
    )
    assert json.loads(bytes(record.tlsDetails)) == {"tlsVersion": "TLSv1.3"}


def test_large_files_come_in_pieces_with_their_row_numbers(tmp_path: Path) -> None:
    rows = [ocsf.row(event(n)) for n in range(25)]
    rows[12]["metadata"]["uid"] = None
    pieces = list(decode_pieces(to_parquet(rows), 10))
    assert [(start, len(piece.records), [b.index for b in piece.bad]) for start, piece in pieces] == [
        (0, 10, []),
        (10, 9, [2]),
        (20, 5, []),
    ]
    assert pieces[1][1].positions == [0, 1, 3, 4, 5, 6, 7, 8, 9]
    assert json.loads(pieces[1][1].raw_record(3))["eventID"] == event(13)["eventID"]
    assert {piece.form for _, piece in pieces} == {"ocsf"}


def to_parquet(rows: dict[str, Any] | list[dict[str, Any]], schema: pa.Schema | None = ocsf.SCHEMA) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows if isinstance(rows, list) else [rows], schema=schema), sink)
    return sink.getvalue().to_pybytes()


def test_an_ocsf_source_on_s3(s3_server: S3Server, bucket: str, lake: Path, tmp_path: Path) -> None:
    client = s3_server.client()
    for path in sorted(p for p in lake.rglob("*") if p.is_file()):
        client.put_object(Bucket=bucket, Key=path.relative_to(lake).as_posix(), Body=path.read_bytes())
    report = trailsmith.ingest([f"s3://{bucket}/ext/aws/CLOUD_TRAIL_MGMT/"], tmp_path / "s3", workers=2)
    local = trailsmith.ingest([str(lake)], tmp_path / "local", workers=1)
    assert (report.events_new, report.quarantined, report.not_carried) == (
        local.events_new,
        0,
        local.not_carried,
    )
    sql = "SELECT eventID, eventName, principalArn FROM events ORDER BY eventID"
    assert trailsmith.query(sql, tmp_path / "s3") == trailsmith.query(sql, tmp_path / "local")
    again = trailsmith.ingest([f"s3://{bucket}/ext/aws/CLOUD_TRAIL_MGMT/"], tmp_path / "s3", workers=1)
    assert (again.files_already_ingested, again.events_new) == (report.files_read, 0)


def test_the_ingest_summary_names_what_the_ocsf_copy_lacks(lake: Path, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "trailsmith.cli",
        "ingest",
        str(lake),
        "-w",
        str(tmp_path / "wh"),
        "--json",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout)["not_carried"] == ["additionalEventData"]
    assert "note: Security Lake OCSF input does not carry additionalEventData; left empty" in result.stderr
