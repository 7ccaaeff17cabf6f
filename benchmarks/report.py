"""``report.md`` and its PNG charts from the records of ``results.json``."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

TITLES = {
    "ingest": "Ingest: CloudTrail files to the Parquet warehouse",
    "usage": "Usage question: the warehouse against the raw archive",
    "policy": "Policies for every principal",
    "scaling": "Scaling: the same ingest at 1x, 4x and 16x the events",
    "engines": "Engines: DuckDB against Spark (local)",
    "full": "The full run: past the hosted generator's per-run limits",
}
COLUMNS = ("name", "events", "input_mb", "seconds", "events_per_s", "mb_per_s", "peak_rss_mb", "ratio", "baseline")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            memory = handle.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    cpu = ""
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    except OSError:
        pass
    versions = {}
    for package in ("trailsmith", "duckdb", "pyarrow", "msgspec", "isal", "orjson"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:  # noqa: BLE001 - a missing package is reported as such
            versions[package] = "not installed"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "versions": versions,
        "commit": commit.stdout.strip(),
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(rows: list[dict[str, Any]]) -> list[str]:
    header = [c for c in COLUMNS if any(r.get(c) is not None for r in rows)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in header) + " |" for r in rows]
    return lines


def write_report(out: Path, records: list[dict[str, Any]], about: dict[str, Any]) -> None:
    by_benchmark: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in records:
        by_benchmark[row["benchmark"]].append(row)
    charts = _charts(out, by_benchmark)
    lines = [
        f"# trailsmith benchmarks ({about['scale']})",
        "",
        f"Machine: {about['cpus']} CPUs ({about['cpu']}), {about['memory']} of memory, {about['platform']}, "
        f"Python {about['python']}; commit {about['commit']}; load average at the end "
        f"{about['load_average_at_end']}; {about['wall_seconds']} s in all.",
        "",
        "Every ratio compares two runs of the same run of this script, on the same files: the machine is",
        "shared and noisy, so absolute figures are context and ratios are the result. `events_per_s` and",
        "`mb_per_s` are over the events and the uncompressed JSON of the archive; `peak_rss_mb` is the peak of",
        "the summed resident memory of the whole process tree (workers included).",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in about["versions"].items()) + ".",
        "",
    ]
    for benchmark, rows in by_benchmark.items():
        lines += [f"## {TITLES.get(benchmark, benchmark)}", "", *_table(rows), ""]
        for chart in charts.get(benchmark, []):
            lines += [f"![{benchmark}]({chart})", ""]
    (out / "report.md").write_text("\n".join(lines))


def _charts(out: Path, by_benchmark: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    made: dict[str, list[str]] = defaultdict(list)
    ingest = by_benchmark.get("ingest", [])
    if ingest:
        figure, axis = plt.subplots(figsize=(9, 4.5))
        names = [r["name"].replace(": ", "\n") for r in ingest]
        axis.barh(names, [r["events_per_s"] or 0 for r in ingest], color="#4c72b0")
        axis.set_xlabel("events per second (higher is better)")
        axis.invert_yaxis()
        axis.tick_params(axis="y", labelsize=7)
        figure.tight_layout()
        figure.savefig(out / "ingest.png", dpi=110)
        plt.close(figure)
        made["ingest"].append("ingest.png")
    scaling = by_benchmark.get("scaling", [])
    if scaling:
        figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
        sizes = [r["input_mb"] for r in scaling]
        left.plot(sizes, [r["events_per_s"] for r in scaling], marker="o")
        left.set_xlabel("archive size (MB of JSON)")
        left.set_ylabel("events per second")
        left.set_ylim(bottom=0)
        right.plot(sizes, [r["peak_rss_mb"] for r in scaling], marker="o", color="#dd8452")
        right.set_xlabel("archive size (MB of JSON)")
        right.set_ylabel("peak memory (MB)")
        right.set_ylim(bottom=0)
        figure.suptitle("throughput and memory against archive size")
        figure.tight_layout()
        figure.savefig(out / "scaling.png", dpi=110)
        plt.close(figure)
        made["scaling"].append("scaling.png")
    stages = [(r["benchmark"], r["name"], r["seconds"]) for b in ("full", "usage", "policy") for r in by_benchmark.get(b, [])]
    if stages:
        figure, axis = plt.subplots(figsize=(9, 0.5 + 0.35 * len(stages)))
        axis.barh([f"{b}: {n}" for b, n, _ in stages], [s for _, _, s in stages], color="#55a868")
        axis.set_xlabel("seconds (lower is better)")
        axis.set_xscale("log")
        axis.invert_yaxis()
        axis.tick_params(axis="y", labelsize=7)
        figure.suptitle("time per stage")
        figure.tight_layout()
        figure.savefig(out / "stages.png", dpi=110)
        plt.close(figure)
        first = "full" if by_benchmark.get("full") else "usage"
        made[first].append("stages.png")
    return made
