"""Shared pytest fixtures."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers.paths import SAMPLE
from helpers.s3server import S3Server, start_s3_server
from helpers.warehouses import fingerprint

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from trailsmith.ingestion.driver import IngestReport


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3-compatible server on loopback for the whole session, stopped at the end.

    Skips only when moto's server extras are missing. It does not touch the environment: a session-wide
    change would leak into every later test; tests set ``s3_server.environment(...)`` with ``monkeypatch``.
    """
    pytest.importorskip("moto.server", reason="moto[server] (with flask and flask-cors) is not installed")
    server = start_s3_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A new, empty bucket on the loopback S3 server, with the environment pointing boto3 at the server (the
    ingest's worker processes inherit it, as they would a user's) and no other AWS variable set."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in s3_server.environment(str(tmp_path)).items():
        monkeypatch.setenv(name, value)
    name = f"trail-{uuid.uuid4().hex[:10]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite golden files from the current results.",
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite golden files (``pytest --update-golden``), not compare."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def sample_ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, IngestReport]]:
    """data/sample ingested once for the whole session (one worker), with the report of that ingest.

    Shared and read-only: a test that ingests more, damages or deletes files needs a warehouse of its own
    (ingest again, or ``shutil.copytree`` this one). At the end of the session the warehouse must be
    byte for byte what the ingest left, so a test that wrote into it fails here instead of misleading others.
    """
    import trailsmith

    path = tmp_path_factory.mktemp("sample") / "wh"
    report = trailsmith.ingest([str(SAMPLE)], path, workers=1)
    before = fingerprint(path)
    yield path, report
    assert fingerprint(path) == before, f"a test changed the shared sample warehouse {path}"


@pytest.fixture(scope="session")
def sample_warehouse(sample_ingest: tuple[Path, IngestReport]) -> Path:
    """The shared, read-only warehouse of data/sample (see ``sample_ingest``)."""
    path, report = sample_ingest
    assert report.events_new > 0 and report.quarantined == 0
    return path


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local Spark session for the whole run (local[2], UI off, UTC); skipped without pyspark or Java."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'trailsmith[spark]')")
    pytest.importorskip("pandas", reason="pandas is not installed (pyspark's mapInArrow needs it)")
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        pytest.skip("Java is not installed: Spark needs Java 17 or newer")
    from trailsmith.spark.session import session

    started = session("local[2]", app_name="trailsmith-tests", config={"spark.sql.shuffle.partitions": "4"})
    try:
        yield started
    finally:
        started.stop()
