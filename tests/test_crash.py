"""A run killed with SIGKILL at any moment leaves no partial data visible; the next run completes exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import trailsmith
from helpers.events import event, s3_key, write_records
from trailsmith.warehouse.store import Warehouse

FILES, PER_FILE = 48, 400

_RUN = """
import sys, trailsmith
trailsmith.ingest([sys.argv[1]], sys.argv[2], workers=int(sys.argv[3]), batch_bytes=int(sys.argv[4]))
"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    for n in range(FILES):
        # every file also repeats two events of the previous one: duplicates cross batches
        ids = list(range(n * PER_FILE, (n + 1) * PER_FILE)) + (
            [n * PER_FILE - 1, n * PER_FILE - 2] if n else []
        )
        write_records(root / s3_key(1 + n % 3, n), [event(i) for i in ids])
    return root


def expected_ids() -> set[str]:
    return {event(i)["eventID"] for i in range(FILES * PER_FILE)}


def visible_state(warehouse: Path) -> tuple[set[str], set[str]]:
    """(event ids visible, URIs of files recorded as ingested), through the public read path."""
    if not Warehouse(warehouse).exists():
        return set(), set()
    connection = trailsmith.connect(warehouse)
    ids = {r[0] for r in connection.execute("SELECT eventID FROM events").fetchall()}
    count = connection.execute("SELECT count(*) FROM events").fetchone()[0]
    sources = {r[0] for r in connection.execute("SELECT uri FROM sources").fetchall()}
    connection.close()
    assert count == len(ids), "a duplicate became visible"
    return ids, sources


def ids_in_files(uris: set[str]) -> set[str]:
    ids: set[str] = set()
    for uri in uris:
        import gzip

        ids.update(r["eventID"] for r in json.loads(gzip.decompress(Path(uri).read_bytes()))["Records"])
    return ids


def start(archive: Path, warehouse: Path, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _RUN, str(archive), str(warehouse), str(workers), str(24 * 1024)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def version(warehouse: Path) -> int:
    versions = Warehouse(warehouse).versions()
    return versions[-1] if versions else 0


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_kill_minus_nine_at_any_moment(tmp_path: Path, archive: Path, workers: int) -> None:
    warehouse = tmp_path / "wh"
    # Time one full run. The first kill lands at a fraction of that time (start-up, listing, the first
    # batch). The others land a spread-out fraction of a batch's time after the run's first commit, so that
    # each of them lands while the run still has work, however fast or slow the machine is at that moment
    # (later runs skip the batches committed before them).
    begin = time.perf_counter()
    timing = start(archive, tmp_path / "timing", workers)
    commits: list[float] = []  # when each commit of the timing run became visible
    while timing.poll() is None:
        if version(tmp_path / "timing") > len(commits):
            commits.append(time.perf_counter())
        time.sleep(0.002)
    full = time.perf_counter() - begin
    assert version(tmp_path / "timing") >= 15, "too few batches to spread the kills over"
    batch = (commits[-1] - commits[0]) / max(1, len(commits) - 1)  # one batch's time, start-up excluded
    kills = 0
    for attempt, fraction in enumerate((0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 0.97)):
        before = version(warehouse)
        process = start(archive, warehouse, workers)
        if attempt == 0:
            time.sleep(full * fraction)
        else:
            while process.poll() is None and version(warehouse) == before:
                time.sleep(0.002)
            time.sleep(batch * fraction)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
        ids, sources = visible_state(warehouse)
        # what is visible is exactly the events of the files recorded as read: whole batches or nothing
        assert ids == ids_in_files(sources)
    assert kills >= 5
    final = start(archive, warehouse, workers)
    assert final.wait() == 0, final.stderr.read().decode() if final.stderr else ""
    ids, sources = visible_state(warehouse)
    assert ids == expected_ids()
    assert len(sources) == FILES
    snapshot = Warehouse(warehouse).snapshot()
    on_disk = {p.relative_to(warehouse).as_posix() for p in (warehouse / "events").rglob("*") if p.is_file()}
    assert on_disk == {f.path for f in snapshot.files}, "files of killed runs were left behind"
    assert sum(pq.ParquetFile(warehouse / f.path).metadata.num_rows for f in snapshot.files) == len(
        expected_ids()
    )
    assert not any((warehouse / "_trailsmith" / "staging").iterdir())
