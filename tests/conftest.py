"""Shared pytest fixtures."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from s3server import S3Server, start_s3_server

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite golden files from the current results.",
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite golden files (``pytest --update-golden``) instead of comparing."""
    return bool(request.config.getoption("--update-golden"))


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
