"""The Spark engine against the DuckDB one: same warehouse, same tables, each appending to the other's.

Each Spark ingest is compared with a DuckDB ingest of the same input: the report, every row and Arrow
type of ``events`` as DuckDB reads them back (``trailsmith.query``), and the ``quarantine`` and ``sources``
tables. The inputs hold every input form, bad files and records, duplicates within and across files
(with different contents, so that the copy kept is checked, not only the count), the bundled sample
and, when present, the real captures.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import trailsmith
from helpers.events import event, s3_key, write_records
from helpers.paths import REALDATA, SAMPLE
from trailsmith import engines
from trailsmith.errors import BadInputError, MissingDependencyError, QueryError
from trailsmith.warehouse.commit import SMALL_ROWS
from trailsmith.warehouse.store import Warehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


# --- inputs ----------------------------------------------------------------------------------------------

DIGEST = {
    "awsAccountId": "012345678901",
    "digestStartTime": "x",
    "digestEndTime": "y",
    "digestS3Bucket": "b",
    "digestS3Object": "o",
    "logFiles": [],
}
BAD_FILES = {
    "truncated.json.gz": gzip.compress(json.dumps({"Records": [event(1)]}).encode())[:-12],
    "garbage.json": b"this is not json at all",
    "broken.json": b'{"Records": [{"eventID": ',
    "empty.json.gz": b"",
    "blank.json": b"  \n\n ",
    "no-events.json": b'{"hello": "world"}',
    "records-not-list.json": b'{"Records": {"eventID": "x"}}',
}
BAD_RECORDS: list[Any] = [
    {"eventTime": "2024-03-01T00:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "GetObject"},
    {"eventID": "id-1", "eventSource": "s3.amazonaws.com", "eventName": "GetObject"},
    {**event(50), "eventName": 42},
    {**event(51), "readOnly": "yes"},
    {**event(52), "eventTime": "yesterday"},
    {**event(53), "eventTime": "2024-03-01T00:00:00"},
    [1, 2],
    "text",
]


def write_inputs(root: Path) -> Path:
    """A directory with one of every kind of input trailsmith must handle (see the module docstring)."""
    forms = [(form, gz) for form in ("records", "array", "lines") for gz in (True, False)]
    for number, (form, gz) in enumerate(forms):
        records = [event(10 * number + k) for k in range(6)]
        write_records(root / "forms" / f"{form}.json{'.gz' if gz else ''}", records, form=form, gz=gz)
    (root / "one.json").write_text(json.dumps(event(300)))
    (root / "blob.json").write_text(
        '{"Records": [{"eventID": "blob", "eventTime": "2024-03-01T00:00:00Z", '
        '"eventSource": "iam.amazonaws.com", '
        '"eventName": "PutRolePolicy", "requestParameters": {"roleName" : "r",  '
        '"n": 1.50, "u": "\\u00e9t\\u00e9"}, '
        '"additionalEventData": {"x":[1, 2 ,3]}}]}'
    )
    odd = event(301, **{"@version": "1", "newField": {"a": [1]}})
    odd["userIdentity"]["futureKey"] = "x"
    forwarded = event(302)
    del forwarded["eventTime"]
    forwarded["@timestamp"] = "2024-03-02T10:00:00.000Z"
    write_records(root / "odd.jsonl", [odd, forwarded], form="lines", gz=False)
    for name, data in BAD_FILES.items():
        (root / "bad" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "bad" / name).write_bytes(data)
    write_records(root / "mixed.json.gz", [event(400), *BAD_RECORDS, event(401)])
    # duplicates: inside a file (a later copy differs), and across files with different contents
    write_records(root / s3_key(1, 1), [event(500 + n) for n in range(10)] + [event(503, eventName="Later")])
    write_records(root / s3_key(1, 2), [event(500 + n, eventName="Redelivered") for n in range(5, 15)])
    write_records(
        root / s3_key(2, 3), [event(1), event(2, eventType="AwsCloudTrailInsight")]
    )  # 1: as in forms/
    trail = root / "AWSLogs" / "012345678901"
    (trail / "CloudTrail-Digest" / "eu-west-1").mkdir(parents=True)
    digest = gzip.compress(json.dumps(DIGEST).encode())
    (trail / "CloudTrail-Digest" / "eu-west-1" / "d_CloudTrail-Digest_x.json.gz").write_bytes(digest)
    insight = [event(600, eventType="AwsCloudTrailInsight")]
    write_records(trail / "CloudTrail-Insight" / "eu-west-1" / "i.json.gz", insight)
    (trail / "misnamed.json").write_text(json.dumps(DIGEST))
    (root / "README.txt").write_text("not a log")
    return root


def all_sources(root: Path) -> list[str]:
    sources = [str(write_inputs(root)), str(SAMPLE)]
    return sources + ([str(REALDATA)] if REALDATA.is_dir() else [])


# --- comparing warehouses ---------------------------------------------------------------------------------

QUERIES = {
    "events": "SELECT * FROM events ORDER BY eventDate, eventID",
    "quarantine": "SELECT * FROM quarantine ORDER BY sourceFile, recordIndex NULLS FIRST",
    "sources": "SELECT * FROM sources ORDER BY uri",
}


def tables(warehouse: Path) -> dict[str, pa.Table]:
    return {name: trailsmith.query(sql, warehouse) for name, sql in QUERIES.items()}


def assert_same_tables(left: Path, right: Path) -> None:
    for name, table in tables(left).items():
        other = tables(right)[name]
        assert table.schema == other.schema, name
        assert table.num_rows == other.num_rows, name
        assert table.equals(other), name


def values(warehouse: Path, sql: str, *, rows: bool = True) -> list[Any]:
    """The result of ``sql`` on DuckDB: tuples, or dicts with ``rows=False``."""
    table = trailsmith.query(sql, warehouse)
    return [tuple(row.values()) for row in table.to_pylist()] if rows else table.to_pylist()


def summary(report: trailsmith.IngestReport) -> dict[str, Any]:
    return {k: v for k, v in report.__dict__.items() if k not in {"warehouse", "seconds", "recovered"}}


def writers(warehouse: Path) -> set[str]:
    """The Parquet writers of the committed files (``created_by``'s first word)."""
    return {
        pq.read_metadata(warehouse / f.path).created_by.split()[0]
        for f in Warehouse(warehouse).snapshot().files
    }


def small_files_per_date(warehouse: Path) -> int:
    dates: dict[str, int] = {}
    for data_file in Warehouse(warehouse).snapshot().files:
        dates[data_file.date] = dates.get(data_file.date, 0) + (data_file.rows < SMALL_ROWS)
    return max(dates.values())


# --- ingest ------------------------------------------------------------------------------------------------


def test_spark_ingest_gives_the_duckdb_warehouse(tmp_path: Path, spark: SparkSession) -> None:
    from trailsmith.spark.ingest import ingest as spark_ingest

    sources = all_sources(tmp_path / "in")
    duck = trailsmith.ingest(sources, tmp_path / "duck", workers=2)
    sparked = spark_ingest(sources, tmp_path / "spark", spark=spark)
    assert summary(sparked) == summary(duck)
    # the input really holds what the comparison is about
    assert duck.events_duplicate >= 7 and duck.insight_records >= 1 and duck.time_from_timestamp >= 1
    assert len(duck.quarantined_files) == len(BAD_FILES) and len(duck.quarantined_records) == len(BAD_RECORDS)
    assert {"digest", "insight", "other"} <= set(duck.skipped)
    assert_same_tables(tmp_path / "duck", tmp_path / "spark")
    kept = dict(values(tmp_path / "spark", "SELECT eventID, eventName FROM events"))
    assert kept[event(503)["eventID"]] == "GetObject"  # first copy in its file, not the later one
    assert kept[event(507)["eventID"]] == "GetObject"  # first file in URI order, not the redelivery
    assert kept[event(512)["eventID"]] == "Redelivered"
    for (stored,) in values(
        tmp_path / "spark", "SELECT storedFile FROM quarantine WHERE storedFile NOT NULL"
    ):
        assert (tmp_path / "spark" / stored).is_file()
    # a re-run reads nothing and commits nothing
    again = spark_ingest(sources, tmp_path / "spark", spark=spark)
    assert (again.files_read, again.events_new, again.commits) == (0, 0, 0)
    assert values(tmp_path / "spark", "SELECT count(*) FROM sources") == [(again.files_already_ingested,)]


def write_round(root: Path, round_number: int) -> None:
    """Files for round 1 or 2 on the same dates; round 2 redelivers part of round 1 and adds new events."""
    base = 1000 * round_number
    for n in range(3):
        records = [event(base + 10 * n + k) for k in range(10)]
        if round_number == 2:
            records += [event(1000 + 10 * n + k, eventName="Again") for k in range(3)]  # known events
        write_records(root / s3_key(1 + n, 10 * round_number + n), records)
    if round_number == 1:  # a date round 2 leaves alone: its file stays the first engine's
        write_records(
            root / s3_key(4, 19), [event(1900 + k, eventTime=f"2024-03-04T00:00:0{k}Z") for k in range(5)]
        )
    else:  # a redelivery of known events only: its date's files are left alone
        write_records(root / s3_key(3, 29), [event(1000 + k, eventName="Again") for k in range(5)])
    (root / f"bad-{round_number}.json").write_bytes(b"nope")


def test_each_engine_appends_to_the_others_warehouse_exactly_once(
    tmp_path: Path, spark: SparkSession
) -> None:
    from trailsmith.spark.ingest import ingest as spark_ingest

    source = tmp_path / "in"
    write_round(source, 1)
    first = [
        trailsmith.ingest([str(source)], tmp_path / "reference", workers=1),
        trailsmith.ingest([str(source)], tmp_path / "duck-first", workers=1),
        spark_ingest([str(source)], tmp_path / "spark-first", spark=spark),
    ]
    assert len({repr(summary(r)) for r in first}) == 1
    assert_same_tables(tmp_path / "reference", tmp_path / "spark-first")
    write_round(source, 2)
    # one file per batch: duplicates across batches; Spark folds a date's small files at each commit, the
    # local engine once a date has more than SMALL_FILES
    second = [
        trailsmith.ingest([str(source)], tmp_path / "reference", workers=1, batch_bytes=1),
        spark_ingest([str(source)], tmp_path / "duck-first", spark=spark, batch_bytes=1),
        trailsmith.ingest([str(source)], tmp_path / "spark-first", workers=1, batch_bytes=1),
    ]
    assert len({repr(summary(r)) for r in second}) == 1
    done = second[0]
    assert (done.files_read, done.events_new, done.events_duplicate, done.commits) == (5, 30, 14, 5)
    for name in ("duck-first", "spark-first"):
        assert_same_tables(tmp_path / "reference", tmp_path / name)
        assert small_files_per_date(tmp_path / name) == (1 if name == "duck-first" else 4)
        files = (tmp_path / name / "events").rglob("*.parquet")
        on_disk = [p.relative_to(tmp_path / name).as_posix() for p in files]
        assert sorted(on_disk) == sorted(f.path for f in Warehouse(tmp_path / name).snapshot().files)
    assert values(tmp_path / "spark-first", "SELECT count(*) FROM events") == [(65,)]
    # both warehouses now mix files of both engines; each engine reads them all
    from trailsmith.spark.sql import sql

    query = "SELECT eventID, eventTime, eventDate, resources, sourceFile FROM events ORDER BY eventID"
    assert values(
        tmp_path / "duck-first", "SELECT count(*) FROM events WHERE eventDate = DATE '2024-03-04'"
    ) == [(5,)]
    for name in ("duck-first", "spark-first"):
        assert writers(tmp_path / name) == {"parquet-mr", "parquet-cpp-arrow"}  # Spark's and pyarrow's
        assert sql(query, tmp_path / name, spark=spark).to_pylist() == values(
            tmp_path / name, query, rows=False
        )
    # and again, crosswise: nothing left to read
    assert spark_ingest([str(source)], tmp_path / "spark-first", spark=spark).commits == 0
    assert trailsmith.ingest([str(source)], tmp_path / "duck-first", workers=1).commits == 0


def test_strict_mode_on_spark_fails_and_commits_nothing(tmp_path: Path, spark: SparkSession) -> None:
    from trailsmith.spark.ingest import ingest as spark_ingest

    write_records(tmp_path / "in" / "good.json.gz", [event(1)])
    (tmp_path / "in" / "bad.json").write_bytes(b"nope")
    with pytest.raises(BadInputError, match=r"bad\.json"):
        spark_ingest([str(tmp_path / "in")], tmp_path / "wh", spark=spark, strict=True)
    assert Warehouse(tmp_path / "wh").snapshot().version == 0
    report = spark_ingest([str(tmp_path / "in")], tmp_path / "wh", spark=spark)
    assert (report.recovered > 0, report.events_new, len(report.quarantined_files)) == (True, 1, 1)


# --- the read path -----------------------------------------------------------------------------------------


def test_spark_reads_views_with_duckdb_types_and_rows(sample_warehouse: Path, spark: SparkSession) -> None:
    from trailsmith.spark.sql import sql

    columns = (
        "eventID, eventTime, eventDate, userIdentity, resources, readOnly, requestParameters, principalArn"
    )
    query = f"SELECT {columns} FROM events WHERE eventDate >= $start ORDER BY eventID"
    params = {"start": "2024-08-02"}
    on_spark = sql(query, sample_warehouse, params, spark=spark)
    on_duckdb = trailsmith.query(query, sample_warehouse, params)
    assert on_spark.num_rows > 0
    assert on_spark.schema.field("eventDate").type == pa.date32()
    assert on_spark.schema.field("eventTime").type == pa.timestamp("us", tz="UTC")
    assert on_spark.to_pylist() == on_duckdb.to_pylist()
    for view in ("quarantine", "sources"):
        count = f"SELECT count(*) AS n FROM {view}"
        assert sql(count, sample_warehouse, spark=spark).to_pylist() == values(
            sample_warehouse, count, rows=False
        )


def test_engines_query_runs_on_spark(sample_warehouse: Path, spark: SparkSession) -> None:
    query = "SELECT eventSource, count(*) AS calls FROM events GROUP BY eventSource ORDER BY eventSource"
    on_spark = engines.query(query, sample_warehouse, engine="spark")
    assert on_spark.to_pylist() == values(sample_warehouse, query, rows=False)


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        # what only Spark's parser can refuse: tests/spark/test_attacks_spark.py
        ("SELECT 1; SELECT 2", "only one statement"),
        ("SELECT 1 WHERE x = $missing", "no value for $missing"),
    ],
)
def test_spark_sql_only_reads(statement: str, problem: str) -> None:
    from trailsmith.spark.sql import check_read_only

    with pytest.raises(QueryError, match=problem.replace("$", r"\$")):
        check_read_only(statement)


def test_words_inside_literals_and_comments_are_not_statements() -> None:
    from trailsmith.spark.sql import check_read_only

    text = "SELECT 'DROP TABLE x', `update` -- INSERT\nFROM events WHERE a = \"DeleteBucket\" AND x = $p"
    assert check_read_only(text, {"p": 1}) == text.replace("$p", ":p")


# --- without Spark ---------------------------------------------------------------------------------------


def test_engine_spark_without_pyspark_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now raises ImportError
    write_records(tmp_path / "f.json.gz", [event(1)])
    with pytest.raises(MissingDependencyError, match=r"pip install 'trailsmith\[spark\]'"):
        engines.ingest([str(tmp_path / "f.json.gz")], tmp_path / "wh", engine="spark")
    with pytest.raises(MissingDependencyError, match=r"pip install 'trailsmith\[spark\]'"):
        engines.query("SELECT 1", tmp_path / "wh", engine="spark")
    assert not (tmp_path / "wh").exists()  # refused before touching anything


def test_cli_engine_spark_without_pyspark_says_how_to_install(tmp_path: Path) -> None:
    fake = tmp_path / "fake" / "pyspark"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('simulated: pyspark is not installed')\n")
    write_records(tmp_path / "f.json.gz", [event(1)])
    path = os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])
    environment = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trailsmith.cli",
            "ingest",
            str(tmp_path / "f.json.gz"),
            "--warehouse",
            str(tmp_path / "wh"),
            "--engine",
            "spark",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert done.returncode == 1
    assert "pip install 'trailsmith[spark]'" in done.stderr and "Traceback" not in done.stderr


def test_a_local_master_without_java_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark")
    pytest.importorskip("pandas")
    from trailsmith.spark import session as spark_session

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_session.shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match="needs Java 17"):
        spark_session.require_pyspark("local[2]")
