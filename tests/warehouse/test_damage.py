"""A damaged or tampered warehouse: every command says so in one line, verify names it, repair sets it aside.

Each test damages its own copy of a small warehouse (three days of three events, one quarantined file),
built once per module; the shared sample warehouse is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from helpers.events import event, write_records
from helpers.warehouses import fingerprint
from trailsmith.cli.app import DEBUG_VARIABLE, main
from trailsmith.ingestion.driver import ingest
from trailsmith.warehouse.store import Warehouse

DAY = "2024-03-01"
QUERY = "SELECT count(*) AS n FROM events"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("damage")
    write_records(root / "in" / "a.json.gz", [event(n) for n in range(9)])  # 3 events on each of 3 days
    (root / "in" / "b.json").write_text("{broken")  # quarantined: the quarantine index has a part
    ingest([str(root / "in")], root / "wh", workers=1)
    return root / "wh"


@pytest.fixture()
def warehouse(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "wh"
    shutil.copytree(pristine, copy, symlinks=True)
    return copy


@pytest.fixture(autouse=True)
def unexpected_errors_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error nobody raised on purpose escapes ``main`` with its traceback, and fails the test."""
    monkeypatch.setenv(DEBUG_VARIABLE, "1")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the ``trailsmith`` command in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    try:
        main(list(args))
    except SystemExit as exited:
        code = exited.code if isinstance(exited.code, int) else 1
    else:
        code = 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str, *names: str) -> str:
    """The single line on stderr, which names every one of ``names`` and ``trailsmith verify``."""
    [line] = err.strip().splitlines()
    assert line.startswith("trailsmith: error: warehouse ")
    assert "trailsmith verify" in line
    for name in names:
        assert name in line, (name, line)
    return line


def day_file(warehouse: Path, day: str = DAY) -> str:
    [path] = [f.path for f in Warehouse(warehouse).snapshot(check=False).files if f.date == day]
    return path


def edit_snapshot(warehouse: Path, change: Callable[[dict[str, object]], None]) -> None:
    target = Warehouse(warehouse)
    path = target.snapshot_path(target.versions()[-1])
    doc = orjson.loads(path.read_bytes())
    change(doc)
    path.write_bytes(orjson.dumps(doc))


def test_healthy_warehouse_verifies(capsys: pytest.CaptureFixture[str], warehouse: Path) -> None:
    code, out, _ = cli(capsys, "verify", "-w", str(warehouse))
    assert code == 0
    assert out.strip().endswith(
        "5 files checked (0 without a recorded checksum, read in full), 0 damaged: healthy"
    )
    assert cli(capsys, "sql", QUERY, "-w", str(warehouse), "-f", "csv")[1].split() == ["n", "9"]


def truncate(warehouse: Path, day: str = DAY) -> str:
    path = day_file(warehouse, day)
    with open(warehouse / path, "r+b") as handle:
        handle.truncate(100)
    return path


def delete(warehouse: Path) -> str:
    path = day_file(warehouse)
    (warehouse / path).unlink()
    return path


def truncate_quarantine_index(warehouse: Path) -> str:
    [path] = Warehouse(warehouse).snapshot(check=False).quarantine
    (warehouse / path).write_bytes(b"PAR1")
    return path


@pytest.mark.parametrize(
    ("damage", "problem", "rows_lost"),
    [
        (truncate, "has 100 bytes, the commit wrote", 3),
        (delete, "is missing", 3),
        (truncate_quarantine_index, "has 4 bytes, the commit wrote", 0),
    ],
)
def test_damaged_file(
    capsys: pytest.CaptureFixture[str],
    pristine: Path,
    warehouse: Path,
    damage: Callable[[Path], str],
    problem: str,
    rows_lost: int,
) -> None:
    path = damage(warehouse)
    code, out, _ = cli(capsys, "verify", "-w", str(warehouse))
    assert code == 1
    assert f"damaged: {path}: {problem}" in out

    # every reader and writer refuses in one line, even a query of the healthy days only
    for args in (
        ["sql", QUERY + " WHERE eventDate = DATE '2024-03-02'", "-w", str(warehouse)],
        ["query", "denied_calls", "-w", str(warehouse)],
        ["ingest", str(warehouse.parent / "none.json"), "-w", str(warehouse)],
    ):
        code, out, err = cli(capsys, *args)
        assert code != 0 and out == ""
        one_error_line(err, path, problem)

    code, out, _ = cli(capsys, "verify", "-w", str(warehouse), "--repair")
    assert code == 0
    assert f"leaves the damaged files out ({rows_lost} events)" in out
    assert cli(capsys, "verify", "-w", str(warehouse))[0] == 0
    assert cli(capsys, "sql", QUERY, "-w", str(warehouse), "-f", "csv")[1].split() == [
        "n",
        str(9 - rows_lost),
    ]
    if damage is not delete:  # the damaged bytes are kept, out of the way
        [kept] = (warehouse / "_trailsmith" / "damaged").glob(f"*/{path}")
        assert kept.stat().st_size in (100, 4)
    if rows_lost:
        # the source files are forgotten: the same ingest again brings the lost events back, once each
        assert "source files that may hold those events are forgotten" in out
        code, _, err = cli(capsys, "ingest", str(pristine.parent / "in"), "-w", str(warehouse))
        assert code == 0, err
        assert cli(capsys, "sql", QUERY, "-w", str(warehouse), "-f", "csv")[1].split() == ["n", "9"]
        distinct = "SELECT count(DISTINCT eventID) AS n FROM events"
        assert cli(capsys, "sql", distinct, "-w", str(warehouse), "-f", "csv")[1].split() == ["n", "9"]
        assert cli(capsys, "verify", "-w", str(warehouse))[0] == 0


def unprivileged() -> list[str]:
    """A command prefix under which folder permissions hold: root reads any folder unless it drops the
    capabilities that let it (``setpriv``, util-linux); skip when that is impossible."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("runs as root, where chmod 000 denies nothing, and setpriv is not there to drop that")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", "--bounding-set", caps, "--inh-caps", caps, "--"]


def test_unreadable_day_folder(warehouse: Path) -> None:
    prefix = unprivileged()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*prefix, sys.executable, "-m", "trailsmith.cli", *args, "-w", str(warehouse)]
        return subprocess.run(command, capture_output=True, text=True)

    path = day_file(warehouse)
    folder = (warehouse / path).parent
    folder.chmod(0)
    try:
        verified = run("verify")
        assert verified.returncode == 1
        assert f"damaged: {path}: cannot be read (Permission denied)" in verified.stdout
        queried = run("sql", QUERY)
        assert queried.returncode == 1 and queried.stdout == ""
        one_error_line(queried.stderr, path, "cannot be read")
        repaired = run("verify", "--repair")
        assert repaired.returncode == 0
        assert f"left in place: {path} (cannot be moved: Permission denied" in repaired.stdout
        assert "(3 events)" in repaired.stdout
        assert run("sql", QUERY, "-f", "csv").stdout.split() == ["n", "6"]
    finally:
        folder.chmod(0o755)


def point_at(target: str) -> Callable[[Path], str]:
    def change(warehouse: Path) -> str:
        edit_snapshot(warehouse, lambda doc: doc["files"][0].__setitem__(0, target))  # type: ignore[index]
        return target

    return change


def outside_files(warehouse: Path) -> dict[str, str]:
    """What lies beside the warehouse (but the new input) with its checksum, symlinks followed."""
    found = fingerprint(warehouse.parent)
    return {p: digest for p, digest in found.items() if not p.startswith(("wh/", "new/"))}


def link_outside(warehouse: Path) -> str:
    """The day's file replaced by a symlink to a copy outside the warehouse (same size, same bytes)."""
    path = day_file(warehouse)
    outside = warehouse.parent / "outside.parquet"
    os.replace(warehouse / path, outside)
    (warehouse / path).symlink_to(outside)
    return path


def link_folder_outside(warehouse: Path) -> str:
    path = day_file(warehouse)
    folder = (warehouse / path).parent
    os.replace(folder, warehouse.parent / "outside")
    folder.symlink_to(warehouse.parent / "outside")
    return path


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (point_at("/etc/passwd"), "is not a file of the warehouse's layout"),
        (point_at("../x"), "is not a file of the warehouse's layout"),
        (
            point_at("events/eventDate=2024-03-01/../../../x.parquet"),
            "is not a file of the warehouse's layout",
        ),
        (link_outside, "is a symlink"),
        (link_folder_outside, "is in a folder that leads outside the warehouse"),
    ],
)
def test_snapshot_names_a_file_outside(
    capsys: pytest.CaptureFixture[str], warehouse: Path, tamper: Callable[[Path], str], problem: str
) -> None:
    outside = warehouse.parent / "outside.parquet"
    shutil.copy(warehouse / day_file(warehouse, "2024-03-02"), outside)
    path = tamper(warehouse)
    before = outside_files(warehouse)

    one_error_line(cli(capsys, "sql", QUERY, "-w", str(warehouse))[2], path, problem)
    # ingest a new event of that day: it would merge the file and delete it, and refuses instead
    write_records(warehouse.parent / "new" / "c.json.gz", [event(30)])
    code, _, err = cli(capsys, "ingest", str(warehouse.parent / "new"), "-w", str(warehouse), "-q")
    assert code == 1
    one_error_line(err, path, problem)

    code, out, _ = cli(capsys, "verify", "-w", str(warehouse))
    assert code == 1 and f"damaged: {path}: {problem}" in out
    assert cli(capsys, "verify", "-w", str(warehouse), "--repair")[0] == 0
    assert cli(capsys, "verify", "-w", str(warehouse))[0] == 0
    assert cli(capsys, "sql", QUERY, "-w", str(warehouse), "-f", "csv")[1].split() == ["n", "6"]
    assert outside_files(warehouse) == before


@pytest.mark.parametrize(
    "text",
    [b"{not json", b"[1, 2]", b'{"format": 2, "version": 1}', b'{"format": 1, "version": -1}', b""],
)
def test_malformed_snapshot(
    capsys: pytest.CaptureFixture[str], pristine: Path, warehouse: Path, text: bytes
) -> None:
    target = Warehouse(warehouse)
    target.snapshot_path(target.versions()[-1]).write_bytes(text)
    line = one_error_line(cli(capsys, "sql", QUERY, "-w", str(warehouse))[2], "00000001.json")
    assert "is unreadable or malformed" in line
    code, out, _ = cli(capsys, "verify", "-w", str(warehouse))
    assert code == 1 and "damaged: _trailsmith/snapshots/00000001.json: is unreadable or malformed" in out

    # repair rolls back to the snapshot before (here: none), setting aside the files only it named ...
    code, out, _ = cli(capsys, "verify", "-w", str(warehouse), "--repair")
    assert code == 0 and "rolled back to snapshot 00000000" in out
    assert cli(capsys, "verify", "-w", str(warehouse))[0] == 0
    # ... so that the next ingest reads their sources again
    code, _, _ = cli(capsys, "ingest", str(pristine.parent / "in"), "-w", str(warehouse), "-q")
    assert code == 0
    assert cli(capsys, "sql", QUERY, "-w", str(warehouse), "-f", "csv")[1].split() == ["n", "9"]


@pytest.mark.parametrize("column", ["userAgent", "eventID"])
def test_ingest_checks_the_bytes_it_merges(
    capsys: pytest.CaptureFixture[str], warehouse: Path, column: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of the right size with other bytes: the ingest fails in one line before merging it.

    The checksum finds it before the merge; a damaged eventID column may already fail the deduplication,
    which reads it first: that too is one line. An ingest that only adds a file beside it reads no more
    of it than its eventIDs.
    """
    import trailsmith.ingestion.driver

    monkeypatch.setattr(
        trailsmith.ingestion.driver, "SMALL_FILES", 1
    )  # one worker: a date keeps 2 small files
    path = day_file(warehouse)
    metadata = pq.read_metadata(warehouse / path).row_group(0)
    [chunk] = [
        metadata.column(i) for i in range(metadata.num_columns) if metadata.column(i).path_in_schema == column
    ]
    data = bytearray((warehouse / path).read_bytes())
    data[chunk.data_page_offset + chunk.total_compressed_size // 2] ^= 0xFF
    (warehouse / path).write_bytes(bytes(data))

    write_records(warehouse.parent / "new" / "c.json.gz", [event(30)])  # a new event of that day
    code, _, err = cli(capsys, "ingest", str(warehouse.parent / "new"), "-w", str(warehouse), "-q")
    if column == "userAgent":  # not read by the deduplication, and the day now holds two small files
        assert code == 0
        write_records(warehouse.parent / "new" / "d.json.gz", [event(33)])  # a third: the commit folds them
        code, _, err = cli(capsys, "ingest", str(warehouse.parent / "new"), "-w", str(warehouse), "-q")
        assert code == 1
        one_error_line(err, path, "has changed since its commit (SHA-256 differs)")
    else:
        assert code == 1
        one_error_line(err)
    code, out, _ = cli(capsys, "verify", "-w", str(warehouse))
    assert code == 1 and f"damaged: {path}: has changed since its commit" in out


def test_old_snapshot_without_checksums_still_reads(
    capsys: pytest.CaptureFixture[str], warehouse: Path
) -> None:
    def to_format_1(doc: dict[str, object]) -> None:
        doc["format"] = 1
        doc["files"] = [item[:4] for item in doc["files"]]  # type: ignore[attr-defined]
        doc["sources"] = [item[0] for item in doc["sources"]]  # type: ignore[attr-defined]
        doc["quarantine"] = [item[0] for item in doc["quarantine"]]  # type: ignore[attr-defined]

    edit_snapshot(warehouse, to_format_1)
    assert cli(capsys, "sql", QUERY, "-w", str(warehouse), "-f", "csv")[1].split() == ["n", "9"]
    code, out, _ = cli(capsys, "verify", "-w", str(warehouse))
    assert code == 0 and "5 files checked (5 without a recorded checksum, read in full), 0 damaged" in out
    # the next commit writes format 2, and keeps the old entries as they were
    write_records(warehouse.parent / "new" / "c.json.gz", [event(30)])  # on 2024-03-01
    assert cli(capsys, "ingest", str(warehouse.parent / "new"), "-w", str(warehouse), "-q")[0] == 0
    # (the new file goes beside the day's old one, which stays as format 1 recorded it)
    assert [f.sha256 is None for f in Warehouse(warehouse).snapshot().files] == [True, False, True, True]
    assert cli(capsys, "sql", QUERY, "-w", str(warehouse), "-f", "csv")[1].split() == ["n", "10"]
    # a truncated old file is found by the size format 1 recorded
    path = truncate(warehouse, "2024-03-02")
    one_error_line(cli(capsys, "sql", QUERY, "-w", str(warehouse))[2], path, "has 100 bytes")


def test_file_named_twice(capsys: pytest.CaptureFixture[str], warehouse: Path) -> None:
    edit_snapshot(warehouse, lambda doc: doc["files"].append(doc["files"][0]))  # type: ignore[attr-defined]
    path = Warehouse(warehouse).snapshot().files[0].path
    assert cli(capsys, "sql", QUERY, "-w", str(warehouse), "-f", "csv")[1].split() == ["n", "12"]
    code, out, _ = cli(capsys, "verify", "-w", str(warehouse))
    assert code == 1 and f"damaged: {path}: is named twice by the snapshot" in out
    code, out, _ = cli(capsys, "verify", "-w", str(warehouse), "--repair")
    assert code == 0 and "leaves the damaged files out (0 events)" in out and "forgotten" not in out
    assert cli(capsys, "verify", "-w", str(warehouse))[0] == 0
    assert cli(capsys, "sql", QUERY, "-w", str(warehouse), "-f", "csv")[1].split() == ["n", "9"]


def test_lock_symlink_is_not_followed(capsys: pytest.CaptureFixture[str], warehouse: Path) -> None:
    """The lock file is truncated by every writer: a symlink there must not truncate its target."""
    victim = warehouse.parent / "victim.txt"
    victim.write_text("keep me")
    (warehouse / "_trailsmith" / "lock").unlink(missing_ok=True)
    (warehouse / "_trailsmith" / "lock").symlink_to(victim)
    code, _, err = cli(capsys, "verify", "-w", str(warehouse), "--repair")
    assert code == 1
    [line] = err.strip().splitlines()
    assert "cannot open _trailsmith/lock" in line and "remove it" in line
    assert victim.read_text() == "keep me"
