"""Ingest straight from s3:// against a real S3-compatible server on loopback (moto's server mode)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import trailsmith
from helpers.events import event, s3_key
from helpers.s3server import S3Server


def put(s3_server: S3Server, bucket: str, key: str, records: list, *, raw: bytes | None = None) -> None:
    body = raw if raw is not None else gzip.compress(json.dumps({"Records": records}).encode())
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=body)


@pytest.mark.parametrize("workers", [1, 2])
def test_ingest_from_s3_exactly_once(s3_server: S3Server, bucket: str, tmp_path: Path, workers: int) -> None:
    for n in range(30):
        put(s3_server, bucket, s3_key(1 + n % 2, n), [event(10 * n + k) for k in range(10)])
    put(s3_server, bucket, s3_key(2, 99), [event(k) for k in range(5)])  # a redelivery
    put(
        s3_server,
        bucket,
        "AWSLogs/o-test/012345678901/CloudTrail-Digest/eu-west-1/2024/03/01/d_CloudTrail-Digest_x.json.gz",
        [],
    )
    # untrusted keys: these must never become paths outside the warehouse
    put(s3_server, bucket, "AWSLogs/../../../../tmp/escape.json.gz", [], raw=b"not gzip at all")
    put(s3_server, bucket, "AWSLogs//etc/passwd.json", [], raw=b'{"x": 1}')
    warehouse = tmp_path / "wh"
    report = trailsmith.ingest([f"s3://{bucket}/AWSLogs"], warehouse, workers=workers)
    assert (report.files_read, report.events_new, report.events_duplicate) == (33, 300, 5)
    assert report.skipped == {"digest": 1}
    assert sorted(s for s, _ in report.quarantined_files) == sorted(
        [f"s3://{bucket}/AWSLogs//etc/passwd.json", f"s3://{bucket}/AWSLogs/../../../../tmp/escape.json.gz"]
    )
    assert not Path("/tmp/escape.json.gz").exists() and not (tmp_path / "etc").exists()
    written = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(warehouse)]
    assert written == []  # nothing outside the warehouse
    table = trailsmith.query(
        "SELECT count(DISTINCT eventID) AS n, min(sourceFile) AS f FROM events", warehouse
    )
    assert table.column("n")[0].as_py() == 300
    assert table.column("f")[0].as_py().startswith(f"s3://{bucket}/AWSLogs/o-test/")
    # re-run: nothing new; a new object is picked up by its key and ETag
    assert trailsmith.ingest([f"s3://{bucket}/AWSLogs"], warehouse, workers=workers).events_new == 0
    put(s3_server, bucket, s3_key(2, 100), [event(1000 + k) for k in range(3)])
    again = trailsmith.ingest([f"s3://{bucket}/AWSLogs"], warehouse, workers=workers)
    assert (again.files_read, again.events_new) == (1, 3)


def test_an_unreachable_bucket_is_one_clear_error(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    with pytest.raises(trailsmith.TrailsmithError, match=r"does not exist|NoSuchBucket|no such bucket"):
        trailsmith.ingest([f"s3://{bucket}-missing/AWSLogs"], tmp_path / "wh", workers=1)
