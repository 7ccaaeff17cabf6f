"""What bounds a query: its time (``timeout``), its memory (``memory_limit``), and where it may spill.

Real DuckDB over the shared sample warehouse; a cross join of ``events`` with itself four times (10^12
rows) stands for a query that would never end, and a list of 50 million integers for one that cannot spill.
"""

from __future__ import annotations

import gc
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from trailsmith.errors import QueryError
from trailsmith.sql import db

ENDLESS = "SELECT count(*) AS n FROM events a, events b, events c, events d"
GREEDY = "SELECT len(list(range)) AS n FROM range(50000000)"


@pytest.fixture()
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temporary directory, pointed at a folder of this test's own, to see what appears there."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def setting(connection: duckdb.DuckDBPyConnection, name: str) -> Any:
    [(value,)] = connection.execute("SELECT current_setting($name)", {"name": name}).fetchall()
    return value


def test_a_query_past_its_timeout_is_stopped_and_leaves_nothing(
    sample_warehouse: Path, private_tmp: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(QueryError, match=r"ran longer than --timeout 1s and was stopped") as caught:
        db.query(ENDLESS, sample_warehouse, timeout=1)
    assert time.monotonic() - started < 10
    assert "\n" not in str(caught.value) and "--timeout" in str(caught.value.hint)
    assert list(private_tmp.iterdir()) == []  # the connection's temporary directory went with it


def test_the_timeout_counts_while_rows_are_read(sample_warehouse: Path) -> None:
    """A query that streams rows forever is stopped too, between two batches."""
    connection = db.connect(sample_warehouse)
    try:
        reader = db.execute(connection, "SELECT a.eventID FROM events a, events b, events c", timeout=1)
        started = time.monotonic()
        rows = 0
        with pytest.raises(QueryError, match="--timeout 1s"):
            for batch in reader:
                rows += batch.num_rows
        assert rows > 0 and time.monotonic() - started < 10
    finally:
        db.close(connection)


def test_no_timeout_and_a_quick_query(sample_warehouse: Path) -> None:
    assert db.query("SELECT count(*) AS n FROM events", sample_warehouse, timeout=0).to_pylist() == [
        {"n": 1000}
    ]
    # a finished query's timer must not interrupt the next statement on the same connection
    connection = db.connect(sample_warehouse)
    try:
        assert db.execute(connection, "SELECT 1 AS one", timeout=0.2).read_all().to_pylist() == [{"one": 1}]
        time.sleep(0.4)
        assert db.execute(connection, "SELECT 2 AS two").read_all().to_pylist() == [{"two": 2}]
    finally:
        db.close(connection)


def test_a_query_over_its_memory_limit_fails_in_one_line(sample_warehouse: Path) -> None:
    with pytest.raises(QueryError, match="needs more memory than --memory-limit allows") as caught:
        db.query(GREEDY, sample_warehouse, memory_limit="50MB")
    assert "\n" not in str(caught.value) and "SET " not in str(caught.value)
    # the same query within a larger limit runs
    assert db.query(GREEDY, sample_warehouse, memory_limit="2GB").to_pylist() == [{"n": 50000000}]


def test_memory_limit_syntax_errors_are_one_line(sample_warehouse: Path) -> None:
    with pytest.raises(QueryError, match=r"--memory-limit 'lots': .*Give a size such as 2GB"):
        db.connect(sample_warehouse, memory_limit="lots")


def test_defaults_bound_memory_and_spill(sample_warehouse: Path) -> None:
    connection = db.connect(sample_warehouse)
    try:
        memory, spill = setting(connection, "memory_limit"), setting(connection, "max_temp_directory_size")
    finally:
        db.close(connection)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert float(memory.split()[0]) <= min(4, total / 2 / 1024**3) + 0.1 and memory.endswith("GiB")
    assert spill.endswith(("GiB", "MiB")) and float(spill.split()[0]) <= 10.0


def test_each_connection_spills_into_a_private_directory_removed_on_close(
    sample_warehouse: Path, private_tmp: Path
) -> None:
    first, second = db.connect(sample_warehouse), db.connect(sample_warehouse)
    spill_first, spill_second = (Path(setting(c, "temp_directory")) for c in (first, second))
    assert spill_first != spill_second
    for spill in (spill_first, spill_second):
        assert spill.parent == private_tmp and spill.name.startswith("trailsmith-")
        assert stat.S_IMODE(spill.stat().st_mode) == 0o700
        assert not any(str(path).startswith(str(spill)) for path in setting(first, "allowed_paths"))
    # DuckDB lets queries read its temporary directory: the private one, and nothing else
    assert setting(first, "allowed_directories") == [f"{spill_first}/"]
    # an aggregation whose hash table outgrows the memory limit spills there and completes
    small = db.connect(sample_warehouse, memory_limit="100MB")
    groups = (
        "SELECT count(*) AS n FROM (SELECT range % 10000000 AS k, count(*) FROM range(20000000) GROUP BY k)"
    )
    assert db.execute(small, groups).read_all().to_pylist() == [{"n": 10000000}]
    db.close(small)
    db.close(first)
    assert not spill_first.exists() and spill_second.exists()
    # a connection closed the plain way, or just dropped, still takes its directory along
    second.close()
    del second
    gc.collect()
    assert list(private_tmp.iterdir()) == []


def test_a_file_in_the_working_directorys_tmp_cannot_be_read(
    sample_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's default spill directory, ``./.tmp``, is one it lets queries read; trailsmith never uses it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "secret.csv").write_text("password,hunter2\n")
    for path in (".tmp/secret.csv", str(tmp_path / ".tmp" / "secret.csv")):
        with pytest.raises(QueryError, match="Permission Error"):
            db.query(f"SELECT * FROM read_csv('{path}')", sample_warehouse)
    with pytest.raises(QueryError, match="Permission Error"):
        db.query("SELECT * FROM glob('.tmp/*')", sample_warehouse)
