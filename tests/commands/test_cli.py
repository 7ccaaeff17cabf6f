"""The ``trailsmith`` command: help that teaches, data on stdout, errors as one line, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from helpers.events import event, write_records
from trailsmith.cli.app import _register, app

_register()
runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "trailsmith.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def commands() -> dict[str, Any]:
    group = typer.main.get_command(app)
    return dict(group.commands)  # type: ignore[attr-defined]


def test_every_command_and_option_has_help() -> None:
    found = commands()
    assert {"ingest", "sql", "synth"} <= set(found)
    for name, command in found.items():
        assert command.help and len(command.help) > 40, name
        assert "Example" in command.help or "example" in command.help, f"{name}: help should show an example"
        for parameter in command.params:
            if parameter.param_type_name == "option" and parameter.name != "help":
                assert parameter.help, f"{name} {parameter.name} has no help"


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    write_records(tmp_path / "in" / "a.json.gz", [event(n) for n in range(6)])
    result = run("ingest", str(tmp_path / "in"), "--warehouse", str(tmp_path / "wh"), "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # the summary goes to stderr
    assert "6 new events" in result.stderr
    return tmp_path / "wh"


def test_sql_formats(warehouse: Path) -> None:
    query = "SELECT eventName, count(*) AS calls, min(eventDate) AS first FROM events GROUP BY 1"
    as_csv = run("sql", query, "-w", str(warehouse), "--format", "csv")
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["eventName", "calls", "first"],
        ["GetObject", "6", "2024-03-01"],
    ]
    as_json = run("sql", query, "-w", str(warehouse), "--format", "json")
    assert json.loads(as_json.stdout) == [{"eventName": "GetObject", "calls": 6, "first": "2024-03-01"}]
    as_ndjson = run(
        "sql", "SELECT eventID, resources FROM events ORDER BY eventID", "-w", str(warehouse), "-f", "ndjson"
    )
    lines = [json.loads(line) for line in as_ndjson.stdout.splitlines()]
    assert len(lines) == 6 and lines[0]["resources"][1]["ARN"] == "arn:aws:s3:::builds"
    # no --format into a pipe: CSV
    assert run("sql", query, "-w", str(warehouse)).stdout == as_csv.stdout


def test_warehouse_from_the_environment(warehouse: Path) -> None:
    result = run(
        "sql", "SELECT count(*) AS n FROM events", "-f", "csv", env={"TRAILSMITH_WAREHOUSE": str(warehouse)}
    )
    assert result.stdout.splitlines() == ["n", "6"]


def test_bad_sql_is_one_line_and_nonzero(warehouse: Path) -> None:
    result = run("sql", "SELECT nope FROM events", "-w", str(warehouse))
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("trailsmith: error:") and "nope" in line


def test_missing_warehouse_says_what_to_do(tmp_path: Path) -> None:
    result = run("sql", "SELECT 1", "-w", str(tmp_path / "none"))
    assert result.returncode == 1
    assert "no warehouse here" in result.stderr and "trailsmith ingest" in result.stderr
    assert "Traceback" not in result.stderr


def test_ingest_reports_quarantine_and_strict_exit_code(tmp_path: Path) -> None:
    write_records(tmp_path / "in" / "a.json.gz", [event(1)])
    (tmp_path / "in" / "b.json").write_text("{broken")
    result = run("ingest", str(tmp_path / "in"), "-w", str(tmp_path / "wh"), "-j", "1")
    assert result.returncode == 0
    assert "quarantined: 1 files" in result.stderr and "b.json: not valid JSON" in result.stderr
    strict = run("ingest", str(tmp_path / "in"), "-w", str(tmp_path / "strict"), "-j", "1", "--strict")
    assert strict.returncode == 2
    assert "b.json" in strict.stderr and "Traceback" not in strict.stderr


def test_ingest_json_summary_on_stdout(tmp_path: Path) -> None:
    write_records(tmp_path / "in" / "a.json.gz", [event(1), event(1)])
    result = run("ingest", str(tmp_path / "in"), "-w", str(tmp_path / "wh"), "-j", "1", "--json", "--quiet")
    summary = json.loads(result.stdout)
    assert (summary["events_new"], summary["events_duplicate"], summary["quarantined"]) == (1, 1, 0)
    assert result.stderr == ""


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("trailsmith ")
