"""``python -m benchmarks --quick`` runs every benchmark and writes results.json and report.md in shape.

Speed is never asserted here (the machine is shared and noisy): only that every measurement is made and
recorded with its baseline, and that the report and its charts exist.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.paths import ROOT

KEYS = {
    "benchmark",
    "scale",
    "name",
    "events",
    "input_mb",
    "seconds",
    "events_per_s",
    "mb_per_s",
    "peak_rss_mb",
    "baseline",
    "ratio",
}


@pytest.mark.slow
def test_quick_benchmarks(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = json.loads((tmp_path / "results.json").read_text())
    assert {r["benchmark"] for r in records} == {"ingest", "usage", "policy", "scaling"}
    for record in records:
        assert record.keys() >= KEYS, record
        assert record["scale"] == "quick"
        assert record["seconds"] > 0 and record["events"] > 0
        assert record["peak_rss_mb"] is None or record["peak_rss_mb"] > 0
        if record["baseline"] is not None:
            assert isinstance(record["ratio"], (int, float)) and record["ratio"] > 0
            assert any(r["name"] == record["baseline"] for r in records), record["baseline"]
    ingest = [r for r in records if r["benchmark"] == "ingest"]
    assert len(ingest) == 10  # floor, DuckDB x2, trailsmith x2, on two archives
    assert sum(1 for r in ingest if r["ratio"] is not None) == 4
    usage = [r for r in records if r["benchmark"] == "usage"]
    assert usage[-1]["same_answer"] is True
    scaling = [r for r in records if r["benchmark"] == "scaling"]
    assert [r["multiple"] for r in scaling] == [1, 4, 16]
    report = (tmp_path / "report.md").read_text()
    assert "Machine:" in report and "| name |" in report
    for chart in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report):
        assert (tmp_path / chart).stat().st_size > 1000
    # --only re-measures one suite in place: its records are replaced, every other record is kept as it was
    before = {r["name"]: r for r in records if r["benchmark"] != "policy"}
    again = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "policy", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    merged = json.loads((tmp_path / "results.json").read_text())
    assert [r for r in merged if r["benchmark"] != "policy"] == list(before.values())
    policy = [r for r in merged if r["benchmark"] == "policy"]
    assert policy and len(policy) == sum(1 for r in records if r["benchmark"] == "policy")
    assert "re-run last (policy)" in (tmp_path / "report.md").read_text()
