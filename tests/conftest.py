"""Shared pytest fixtures."""

from __future__ import annotations

from typing import Iterator

import pytest

from s3server import S3Server, start_s3_server


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
        "--update-golden", action="store_true", default=False, help="Rewrite golden files from the current results."
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite golden files (``pytest --update-golden``) instead of comparing."""
    return bool(request.config.getoption("--update-golden"))
