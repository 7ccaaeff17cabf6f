"""``trailsmith unused``: rows on stdout in every format, summary on stderr, --suggest files, one-line errors.

The command registers itself when ``trailsmith.cli.unused`` is imported; until ``cli/app.py`` lists it in
``COMMAND_MODULES``, the runner below imports it first, then runs the real entry point.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import typer

from helpers.paths import IAM_FIXTURES
from trailsmith.iam import export as iam_export
from trailsmith.iam.unused import SCHEMA, analyze

EXPORT = IAM_FIXTURES / "sample-062058595613.json"
S = "062058595613"
RUNNER = "import sys, trailsmith.cli.unused; from trailsmith.cli.app import main; main(sys.argv[1:])"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, "unused", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_help_explains_with_examples() -> None:
    import trailsmith.cli.unused  # noqa: F401
    from trailsmith.cli.app import app

    command = typer.main.get_command(app).commands["unused"]  # type: ignore[attr-defined]
    assert command.help and "Example" in command.help and "get-account-authorization-details" in command.help
    for parameter in command.params:
        if parameter.param_type_name == "option" and parameter.name != "help":
            assert parameter.help, parameter.name


def test_csv_rows_and_summary(sample_warehouse: Path) -> None:
    result = run("-a", EXPORT, "-w", sample_warehouse, "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == SCHEMA.names
    expected = analyze(iam_export.load([EXPORT]), sample_warehouse)
    assert len(rows) == expected.table().num_rows
    deployer = {r["action"]: r for r in rows if r["principal"] == f"arn:aws:iam::{S}:role/app-deployer"}
    assert deployer["lambda:GetFunction"]["status"] == "used"
    assert deployer["lambda:GetFunction"]["last_used"].startswith("2024-08-01 23:02:04")
    assert (
        deployer["lambda:DeleteFunction"]["status"] == "unused"
        and deployer["lambda:DeleteFunction"]["last_used"] == ""
    )
    assert json.loads(deployer["lambda:DeleteFunction"]["granted_by"]) == ["inline:deploy"]
    assert (
        deployer["iam:CreateRole"]["status"] == "denied" and deployer["iam:CreateRole"]["denied_calls"] == "1"
    )
    lines = result.stderr.splitlines()
    for summary in expected.summaries():
        assert summary.line() in lines
    assert (
        f"arn:aws:iam::{S}:role/app-deployer: 258 granted, 11 used, 247 unused (95.7% removable); "
        "1 denied and not granted" in lines
    )
    assert any(
        line.startswith("window start .. end; IAM reference data") and "SCPs" in line for line in lines
    )


def test_filters_json_and_a_window(sample_warehouse: Path) -> None:
    arn = f"arn:aws:iam::{S}:role/service-role/thumbnailer-exec"
    result = run(
        "-a",
        EXPORT,
        "-w",
        sample_warehouse,
        "-p",
        arn,
        "--status",
        "used",
        "--status",
        "denied",
        "--format",
        "json",
        "--since",
        "2024-08-02",
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["principal"] for r in rows} == {arn}
    assert {(r["action"], r["status"]) for r in rows} == {
        (r.action, r.status)
        for r in analyze(
            iam_export.load([EXPORT]), sample_warehouse, principals=[arn], since="2024-08-02"
        ).rows(["used", "denied"])
    }
    assert all(r["last_used"] >= "2024-08-02" for r in rows if r["status"] == "used")
    assert len(result.stderr.splitlines()[0].split(": ")) == 2 and result.stderr.startswith(arn + ": ")


def test_parquet_to_a_file(sample_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "unused.parquet"
    result = run("-a", EXPORT, "-w", sample_warehouse, "--status", "unused", "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    table = pq.read_table(out)
    assert table.schema.names == SCHEMA.names and set(table.column("status").to_pylist()) == {"unused"}
    assert table.column("last_used").null_count == table.num_rows


def test_suggest_writes_policies_and_diffs(sample_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "suggested"
    arn = f"arn:aws:iam::{S}:user/engineering/alice"
    result = run("-a", EXPORT, "-w", sample_warehouse, "-p", arn, "--suggest", out, "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "062058595613-user-engineering-alice.diff.txt",
        "062058595613-user-engineering-alice.policy.json",
        "index.json",
    ]
    policy = json.loads((out / "062058595613-user-engineering-alice.policy.json").read_text())
    assert {a for s in policy["Statement"] for a in s["Action"]} == {
        "lambda:GetFunction",
        "logs:FilterLogEvents",
        "s3:GetObject",
        "s3:ListAllMyBuckets",
        "s3:ListBucket",
    }
    diff = (out / "062058595613-user-engineering-alice.diff.txt").read_text()
    assert "\n  logs:FilterLogEvents " in diff and "\n- iam:CreateAccessKey " in diff
    assert "# removes 435 of 440 granted actions (98.9%)" in diff
    assert f"wrote a suggestion for each of 1 principals to {out}" in result.stderr
    index = json.loads((out / "index.json").read_text())
    assert index == {
        arn: {
            "files": [
                "062058595613-user-engineering-alice.diff.txt",
                "062058595613-user-engineering-alice.policy.json",
            ],
            "kept": 5,
            "removed": 435,
            "added": 0,
        }
    }


def test_file_names_never_leave_the_directory(sample_warehouse: Path, tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(
        '{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}'
    )
    out = tmp_path / "deep" / "suggested"
    nasty = f"arn:aws:iam::{S}:role/../../../../tmp/..evil"
    result = run(
        "--policy-file",
        f"{nasty}=" + str(tmp_path / "p.json"),
        "-w",
        sample_warehouse,
        "--suggest",
        out,
        "--format",
        "csv",
    )
    assert result.returncode == 0, result.stderr
    assert "s3:GetObject,Read,unused" in result.stdout.replace('"', "")
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        "deep/suggested/062058595613-role-tmp-evil.diff.txt",
        "deep/suggested/index.json",
        "p.json",
    ]


def test_malformed_export_warns_and_strict_fails(sample_warehouse: Path) -> None:
    malformed = IAM_FIXTURES / "malformed.json"
    result = run("-a", malformed, "-w", sample_warehouse, "--format", "csv")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: skipped ")]
    assert len(warnings) == 8
    assert (
        f"warning: skipped {malformed}: RoleDetailList[1] (role 'broken-json'): "
        "RolePolicyList[0].PolicyDocument is not valid JSON, neither as text nor URL-decoded: "
        "Expecting value: line 1 column 41 (char 40)"
    ) in warnings
    assert {r["principal"].rsplit("/", 1)[-1] for r in csv.DictReader(io.StringIO(result.stdout))} == {
        "carol",
        "good",
        "broken-json",
        "uses-broken-managed",
    }
    strict = run("-a", malformed, "-w", sample_warehouse, "--strict")
    assert strict.returncode == 2 and strict.stdout == ""
    [line] = strict.stderr.splitlines()
    assert line.startswith(f"trailsmith: error: {malformed}: Policies[0] (policy 'NoDefault'): ")
    assert line.endswith("or run without --strict to skip what cannot be read and evaluate the rest")


def test_usage_errors_are_one_line(sample_warehouse: Path, tmp_path: Path) -> None:
    for args, expected in [
        ((), "trailsmith: error: no IAM input. Give --authorization-details FILE"),
        (("--policy-file", "arn:aws:iam::1:role/x"), "is not ARN=FILE. For example --policy-file arn:"),
        (
            ("-a", EXPORT, "-p", f"arn:aws:iam::{S}:role/nope"),
            "principal arn:aws:iam::062058595613:role/nope is not in",
        ),
        (("-a", EXPORT, "--suggest", sample_warehouse / "x"), "is inside the warehouse"),
        (("-a", tmp_path / "absent.json"), "absent.json: cannot read it"),
    ]:
        result = run(*args, "-w", sample_warehouse, "--format", "csv")
        assert result.returncode != 0, args
        assert len(result.stderr.splitlines()) == 1 and expected in result.stderr, (args, result.stderr)
