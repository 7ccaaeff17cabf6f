"""Every command over bad input: one line on stderr, no traceback, the documented exit code.

The commands run as a user runs them (``python -m trailsmith.cli`` in a subprocess), so what is checked is
the real stderr and the real exit code, tracebacks and broken pipes included. They read a copy of the
sample warehouse and spill into a temporary directory of their own, which must be empty when they end.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.paths import SAMPLE

ENDLESS = "SELECT count(*) AS n FROM events a, events b, events c, events d"
GREEDY = "SELECT len(list(range)) AS n FROM range(50000000)"
POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'
)
ROLE = "arn:aws:iam::123456789012:role/app"
COMMAND = [sys.executable, "-m", "trailsmith.cli"]


@dataclass(frozen=True)
class Place:
    """The files the bad inputs point at."""

    root: Path  # a scratch directory
    warehouse: Path  # a copy of the sample warehouse
    spill: Path  # TMPDIR of the commands

    @property
    def file(self) -> Path:
        return self.root / "plain.txt"

    def fill(self, argument: str) -> str:
        return argument.format(
            dir=self.root, wh=self.warehouse, file=self.file, sample=SAMPLE, policy=self.root / "app.json"
        )


@pytest.fixture(scope="module")
def place(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Place:
    root = tmp_path_factory.mktemp("errors")
    made = Place(root, root / "wh", root / "spill")
    shutil.copytree(sample_warehouse, made.warehouse)
    made.spill.mkdir()
    made.file.write_text("not a warehouse\n")
    (root / "bad.sql").write_bytes(b"SELECT \xff\xfe 1")
    (root / "app.json").write_text(POLICY)
    return made


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str
    seconds: float


def trailsmith(place: Place, *args: str, debug: bool = False) -> Ran:
    """The console script with ``args``, spilling into ``place.spill``; tracebacks only with ``debug``."""
    env = {k: v for k, v in os.environ.items() if k != "TRAILSMITH_DEBUG"}
    env |= {"TMPDIR": str(place.spill), "TRAILSMITH_WAREHOUSE": str(place.root / "none")}
    if debug:
        env["TRAILSMITH_DEBUG"] = "1"
    started = time.monotonic()
    done = subprocess.run([*COMMAND, *args], capture_output=True, text=True, env=env, timeout=120)
    return Ran(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def assert_one_line_error(ran: Ran, code: int, needle: str) -> None:
    assert "Traceback" not in ran.stderr, ran.stderr
    assert ran.code == code, ran.stderr
    assert ran.stderr.startswith("trailsmith: error: ") and ran.stderr.count("\n") == 1, ran.stderr
    assert needle in ran.stderr, ran.stderr


#: (id, arguments, exit code, text the one line must hold); ``{wh}``, ``{dir}``, ``{file}``, ``{policy}``
#: and ``{sample}`` are filled in by :meth:`Place.fill`.
BAD = [
    ("sql-missing-warehouse", ["sql", "SELECT 1", "-w", "{dir}/none"], 1, "no warehouse here"),
    ("sql-warehouse-is-a-file", ["sql", "SELECT 1", "-w", "{file}"], 1, "no warehouse here"),
    ("query-missing-warehouse", ["query", "denied_calls", "-w", "{dir}/none"], 1, "no warehouse here"),
    ("policy-missing-warehouse", ["policy", "--all"], 1, "no warehouse here"),
    ("unused-missing-warehouse", ["unused", "--policy-file", f"{ROLE}={{policy}}"], 1, "no warehouse here"),
    ("ingest-warehouse-is-a-file", ["ingest", "{sample}", "-w", "{file}", "-q"], 1, "not a directory"),
    ("ingest-warehouse-under-a-file", ["ingest", "{sample}", "-w", "{file}/wh", "-q"], 1, "Not a directory"),
    ("ingest-missing-source", ["ingest", "{dir}/nothing", "-w", "{dir}/new", "-q"], 1, "no such file"),
    ("sql-bad-format", ["sql", "SELECT 1", "-w", "{wh}", "--format", "xml"], 2, "'--format'"),
    ("schema-parquet-to-a-pipe", ["schema", "--format", "parquet"], 1, "--format parquet writes a file"),
    ("policy-since-overflow", ["policy", "--all", "-w", "{wh}", "--since", "99999999d"], 1, "is not a time"),
    ("policy-since-huge", ["policy", "--all", "-w", "{wh}", "--since", "9" * 30 + "d"], 1, "is not a time"),
    ("policy-since-garbage", ["policy", "--all", "-w", "{wh}", "--since", "yesterday"], 1, "is not a time"),
    ("policy-since-negative", ["policy", "--all", "-w", "{wh}", "--since", "-5d"], 1, "is not a time"),
    ("policy-until-end-of-time", ["policy", "--all", "-w", "{wh}", "--until", "9999-12-31"], 1, "not a time"),
    ("policy-since-no-month", ["policy", "--all", "-w", "{wh}", "--since", "2024-13-01"], 1, "is not a time"),
    (
        "unused-since-overflow",
        ["unused", "--policy-file", f"{ROLE}={{policy}}", "-w", "{wh}", "--since", "99999999d"],
        1,
        "is not a time",
    ),
    ("sql-file-not-utf8", ["sql", "@{dir}/bad.sql", "-w", "{wh}"], 1, "not UTF-8: byte 0xff at offset 7"),
    ("sql-option-file-not-utf8", ["sql", "--file", "{dir}/bad.sql", "-w", "{wh}"], 1, "bad.sql is not UTF-8"),
    ("sql-file-missing", ["sql", "@{dir}/missing.sql", "-w", "{wh}"], 1, "cannot read the SQL"),
    ("sql-file-is-a-directory", ["sql", "--file", "{dir}", "-w", "{wh}"], 1, "cannot read the SQL"),
    (
        "sql-out-missing-folder",
        ["sql", "SELECT 1 AS one", "-w", "{wh}", "--out", "{dir}/no/such/x.csv"],
        1,
        "x.csv: No such file or directory",
    ),
    ("sql-out-a-directory", ["sql", "SELECT 1 AS one", "-w", "{wh}", "--out", "{dir}"], 1, "Is a directory"),
    (
        "sql-out-under-a-file",
        ["sql", "SELECT 1", "-w", "{wh}", "--out", "{file}/x.csv"],
        1,
        "Not a directory",
    ),
    ("sql-out-in-the-warehouse", ["sql", "SELECT 1", "-w", "{wh}", "--out", "{wh}/x.csv"], 1, "inside the"),
    (
        "query-out-missing-folder",
        ["query", "denied_calls", "-w", "{wh}", "-o", "{dir}/no/x.csv"],
        1,
        "No such",
    ),
    (
        "unused-out-a-directory",
        ["unused", "--policy-file", f"{ROLE}={{policy}}", "-w", "{wh}", "--out", "{dir}"],
        1,
        "Is a directory",
    ),
    (
        "unused-suggest-under-a-file",
        ["unused", "--policy-file", f"{ROLE}={{policy}}", "-w", "{wh}", "--suggest", "{file}/s"],
        1,
        "--suggest",
    ),
    ("policy-out-a-file", ["policy", "--all", "-w", "{wh}", "--out", "{file}"], 1, "is not a directory"),
    ("policy-out-under-a-file", ["policy", "--all", "-w", "{wh}", "--out", "{file}/p"], 1, "Not a directory"),
    ("synth-out-a-file", ["synth", "{file}", "--events", "10", "-q"], 1, "is not a directory"),
    (
        "synth-truth-a-directory",
        ["synth", "{dir}/a", "--events", "10", "-q", "--truth", "{dir}"],
        1,
        "directory",
    ),
    ("synth-unknown-preset", ["synth", "{dir}/b", "--preset", "huge"], 1, "unknown preset"),
    ("policy-bad-principal", ["policy", "-p", "not-an-arn", "-w", "{wh}"], 1, "not-an-arn"),
    (
        "unused-bad-principal",
        ["unused", "--policy-file", "not-an-arn={policy}", "-w", "{wh}"],
        2,
        "not-an-arn",
    ),
    ("unused-missing-export", ["unused", "-a", "{dir}/missing.json", "-w", "{wh}"], 2, "missing.json"),
    ("unused-export-not-json", ["unused", "-a", "{dir}/bad.sql", "-w", "{wh}"], 2, "not valid JSON"),
    ("sql-bad-engine", ["sql", "SELECT 1", "--engine", "presto"], 2, "'--engine'"),
    ("unknown-command", ["frobnicate"], 2, "No such command"),
    ("unknown-option", ["schema", "--out", "x.csv"], 2, "No such option"),
    ("query-unknown", ["query", "no_such_query", "-w", "{wh}"], 1, "no saved query 'no_such_query'"),
    (
        "query-unknown-parameter",
        ["query", "denied_calls", "-w", "{wh}", "-p", "nope=1"],
        1,
        "no parameter nope",
    ),
    (
        "query-bad-parameter",
        ["query", "denied_calls", "-w", "{wh}", "-p", "start=soon"],
        1,
        "'soon' is not a",
    ),
    ("sql-malformed-parameter", ["sql", "SELECT 1", "-w", "{wh}", "-p", "novalue"], 1, "is not NAME=VALUE"),
    ("sql-missing-parameter", ["sql", "SELECT $start", "-w", "{wh}"], 1, "no value for $start"),
    (
        "sql-update-extensions",
        ["sql", "UPDATE EXTENSIONS", "-w", "{wh}"],
        1,
        "UPDATE EXTENSIONS statements are",
    ),
    ("sql-explain-update-extensions", ["sql", "EXPLAIN UPDATE EXTENSIONS", "-w", "{wh}"], 1, "not allowed"),
    ("sql-copy", ["sql", "COPY events TO '{dir}/x.csv'", "-w", "{wh}"], 1, "COPY statements are not allowed"),
    ("sql-read-outside", ["sql", "SELECT * FROM read_csv('{file}')", "-w", "{wh}"], 1, "Permission Error"),
    ("sql-syntax", ["sql", "SELEC 1", "-w", "{wh}"], 1, "syntax error"),
    ("sql-timeout", ["sql", ENDLESS, "-w", "{wh}", "--timeout", "1"], 1, "longer than --timeout 1s"),
    ("sql-memory-limit", ["sql", GREEDY, "-w", "{wh}", "--memory-limit", "50MB"], 1, "--memory-limit allows"),
    ("sql-bad-memory-limit", ["sql", "SELECT 1", "-w", "{wh}", "--memory-limit", "plenty"], 1, "'plenty'"),
    ("sql-negative-timeout", ["sql", "SELECT 1", "-w", "{wh}", "--timeout", "-1"], 2, "'--timeout'"),
    ("query-timeout", ["query", "usage", "-w", "{wh}", "--timeout", "0.001"], 1, "--timeout 0.001s"),
]


@pytest.mark.parametrize(("arguments", "code", "needle"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_one_line(place: Place, arguments: list[str], code: int, needle: str) -> None:
    ran = trailsmith(place, *(place.fill(a) for a in arguments))
    assert_one_line_error(ran, code, place.fill(needle))
    assert ran.seconds < 30  # the timeout case included: interrupted within seconds of its second
    assert list(place.spill.iterdir()) == []  # no temporary directory or spill file left behind


def test_the_timeout_stops_a_cross_join_within_seconds(place: Place) -> None:
    ran = trailsmith(place, "sql", ENDLESS, "-w", str(place.warehouse), "--timeout", "1")
    assert_one_line_error(ran, 1, "--timeout 1s")
    # python's start-up and the warehouse's views come first; the query itself had one second
    assert ran.seconds < 12, ran.seconds


def test_a_window_at_the_first_instant_is_one_line(place: Place) -> None:
    arguments = ["policy", "--all", "-w", str(place.warehouse), "--until", "0001-01-01T00:00:00Z"]
    ran = trailsmith(place, *arguments)
    assert "Traceback" not in ran.stderr and "unexpected" not in ran.stderr, ran.stderr


def test_an_unexpected_error_is_one_line_with_the_traceback_on_request(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last line of defence, for an error nothing turns into a message on purpose: a command of its own
    that fails as a bug would, run through the console script's entry point."""
    from trailsmith.cli import app as cli

    def broken() -> None:
        raise ZeroDivisionError("division by zero")

    cli.app.command("broken-for-test")(broken)
    try:
        monkeypatch.delenv("TRAILSMITH_DEBUG", raising=False)
        with pytest.raises(SystemExit) as ended:
            cli.main(["broken-for-test"])
        assert ended.value.code == 1
        err = capsys.readouterr().err
        assert err == (
            "trailsmith: error: unexpected ZeroDivisionError: division by zero "
            "(run with TRAILSMITH_DEBUG=1 for the traceback)\n"
        )
        monkeypatch.setenv("TRAILSMITH_DEBUG", "1")
        with pytest.raises(ZeroDivisionError):
            cli.main(["broken-for-test"])
    finally:
        cli.app.registered_commands = [c for c in cli.app.registered_commands if c.name != "broken-for-test"]


@pytest.fixture()
def full_disk(tmp_path: Path) -> Path:
    """A device that reports a full disk on every write: a copy of /dev/full's node where we may make one.

    As root, a regression that replaced the device by a file would replace this copy, not /dev/full.
    """
    if os.geteuid() != 0:
        return Path("/dev/full")
    node = tmp_path / "full"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    return node


def test_out_into_a_full_device_is_one_line_and_the_device_stays(place: Place, full_disk: Path) -> None:
    for fmt in ("csv", "json", "ndjson", "parquet", "table"):
        ran = trailsmith(
            place, "sql", "SELECT * FROM events", "-w", str(place.warehouse), "-f", fmt, "-o", str(full_disk)
        )
        assert_one_line_error(ran, 1, f"--out {full_disk}: No space left on device")
        assert stat.S_ISCHR(full_disk.lstat().st_mode)


def test_out_into_dev_null_writes_into_it(place: Place) -> None:
    ran = trailsmith(
        place, "sql", "SELECT eventID FROM events", "-w", str(place.warehouse), "-o", "/dev/null"
    )
    assert ran.code == 0 and "wrote 1,000 rows to /dev/null" in ran.stderr
    assert stat.S_ISCHR(Path("/dev/null").lstat().st_mode)


def test_out_into_a_fifo_streams_into_it(place: Place, tmp_path: Path) -> None:
    fifo = tmp_path / "rows.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as handle:
            received.append(handle.read())

    reader = threading.Thread(target=read)
    reader.start()
    query = "SELECT eventID FROM events ORDER BY eventID"
    ran = trailsmith(place, "sql", query, "-w", str(place.warehouse), "-f", "csv", "-o", str(fifo))
    reader.join(timeout=60)
    assert ran.code == 0, ran.stderr
    rows = list(csv.reader(io.StringIO(received[0].decode())))
    assert rows[0] == ["eventID"] and len(rows) == 1001 and rows[1:] == sorted(rows[1:])
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_out_through_a_symlink_writes_its_target_and_keeps_the_link(place: Place, tmp_path: Path) -> None:
    target = tmp_path / "data.csv"
    target.write_text("old\n")
    target.chmod(0o600)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    ran = trailsmith(place, "sql", "SELECT 7 AS seven", "-w", str(place.warehouse), "-o", str(link))
    assert ran.code == 0, ran.stderr
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text() == "seven\n7\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # replaced, but as private as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "link.csv"]  # no temporary file left


def test_a_closed_pipe_ends_quietly(place: Place) -> None:
    """``trailsmith sql ... | head -1``: the reader goes away after one line; no traceback, no message."""
    process = subprocess.Popen(
        [
            *COMMAND,
            "sql",
            "SELECT a.eventID FROM events a, events b",
            "-w",
            str(place.warehouse),
            "-f",
            "csv",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(place.spill)},
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline() == b"eventID\n"
    process.stdout.close()
    code = process.wait(timeout=60)
    assert process.stderr.read() == b""
    assert code == 1
    assert list(place.spill.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any directory; the file-path cases cover root")
def test_ingest_into_a_warehouse_one_cannot_write(place: Place, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        ran = trailsmith(place, "ingest", str(SAMPLE), "-w", str(locked / "wh"), "-q")
    finally:
        locked.chmod(0o755)
    assert_one_line_error(ran, 1, "Permission denied")


@pytest.fixture(autouse=True)
def _spill_is_empty_before(place: Place) -> Iterator[None]:
    assert list(place.spill.iterdir()) == []
    yield
