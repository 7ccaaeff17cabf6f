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
COLUMNS = (
    "name",
    "events",
    "input_mb",
    "seconds",
    "events_per_s",
    "mb_per_s",
    "peak_rss_mb",
    "ratio",
    "baseline",
)


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
            cpu = next(
                (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), ""
            )
    except OSError:
        pass
    versions = {}
    for package in ("trailsmith", "duckdb", "pyarrow", "msgspec", "isal", "orjson"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "not installed"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
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


def _memory(text: str) -> str:
    """``/proc/meminfo``'s ``24684096 kB`` as ``23.5 GiB``."""
    number, _, unit = text.partition(" ")
    return f"{int(number) / 1024**2:.1f} GiB" if number.isdigit() and unit == "kB" else text or "unknown"


def _load(load: Any) -> str:
    return " / ".join(f"{value:.2f}" for value in load) if load else "unknown"


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
        f"Machine: {about['cpus']} CPUs ({about['cpu']}), {_memory(about['memory'])} of memory, "
        f"{about['platform']}, Python {about['python']}; commit {about['commit']}; load average at the end "
        f"{_load(about['load_average_at_end'])}; {about['wall_seconds']:,.0f} s "
        + (
            f"for the suites re-run last ({', '.join(about['suites'])})."
            if about.get("suites")
            else "in all."
        ),
        "",
        "Every ratio compares two runs of the same run of this script, on the same files: the machine is",
        "shared and noisy, so absolute figures are context and ratios are the result. `events_per_s` and",
        "`mb_per_s` are over the events and the uncompressed JSON of the archive; "
        "`peak_rss_mb` is the peak of",
        "the summed resident memory of the whole process tree (workers included). `ratio` is the baseline's",
        "time over the row's for the same work (per event for scaling): above 1 the row is faster. At the",
        "standard and full scales, "
        "each ingest and policy row is the fastest of 3 runs (the ingest's taken in",
        "turns with its baselines), with the highest peak memory of the 3.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in about["versions"].items()) + ".",
        "",
    ]
    summary = _summary(by_benchmark)
    if summary:
        lines += ["## At a glance", "", *summary, ""]
    for benchmark, rows in by_benchmark.items():
        lines += [f"## {TITLES.get(benchmark, benchmark)}", "", *_table(rows), ""]
        for chart in charts.get(benchmark, []):
            lines += [f"![{benchmark}]({chart})", ""]
    (out / "report.md").write_text("\n".join(lines))


def _find(rows: list[dict[str, Any]], *words: str) -> dict[str, Any] | None:
    """The first row whose name holds every one of ``words``."""
    return next((r for r in rows if all(w in r["name"] for w in words)), None)


def _summary(by: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One line per benchmark with what its figures say, computed from the records (none when missing)."""
    lines = []
    full = by.get("full", [])
    ingest, policy, floor = _find(full, "ingest"), _find(full, "policies"), _find(full, "floor")
    if ingest and policy:
        against = f", {ingest['ratio']:.2f} of the two-core floor" if ingest.get("ratio") and floor else ""
        lines.append(
            f"- **Full run**: {ingest['input_mb'] / 1000:,.1f} GB of CloudTrail JSON in {ingest['files']:,} "
            f"files ({ingest['events']:,} records) ingested in {ingest['seconds'] / 60:.1f} min "
            f"({ingest['events_per_s']:,} events/s{against}); policies for all {policy['principals']} "
            f"principals ({policy['documents']} documents) in {policy['seconds']:.0f} s; peak memory "
            f"{ingest['peak_rss_mb'] / 1000:.1f} GB. The hosted generator stops at 100,000 files and 25 GB "
            "per run and does one principal per run (about 20 minutes each, AWS's figure, not measured here)."
        )
    rows = by.get("ingest", [])
    for archive in dict.fromkeys(r["name"].split(":", 1)[0] for r in rows):
        one, two = (
            _find(rows, archive, "trailsmith", "1 worker"),
            _find(rows, archive, "trailsmith", "2 worker"),
        )
        if one and two and one.get("ratio") and two.get("ratio"):
            lines.append(
                f"- **Ingest, {archive}**: one worker runs at {one['ratio']:.2f}x the gunzip+orjson floor "
                f"and {one.get('ratio_duckdb_1_thread', 0):.2f}x DuckDB read_json (1 thread, no dedup); two "
                f"workers are {two['ratio']:.2f}x one, "
                f"and {two.get('ratio_duckdb_2_threads', 0):.2f}x DuckDB with 2 threads."
            )
    usage = _find(by.get("usage", []), "warehouse")
    if usage and usage.get("ratio"):
        same = "the same answer" if usage.get("same_answer") else "A DIFFERENT ANSWER"
        lines.append(
            f"- **Usage question** over {usage['events']:,} events: {usage['ratio']:.0f}x faster on the "
            f"warehouse than DuckDB over the raw .json.gz ({usage['seconds']:.1f} s), {same}."
        )
    every = _find(by.get("policy", []), "all principals")
    if every:
        lines.append(
            f"- **Policies** for all {every.get('principals', '?')} principals of {every['events']:,} "
            f"events: {every['seconds']:.1f} s, peak memory {every['peak_rss_mb']:,.0f} MB."
        )
    scaling = [r for r in by.get("scaling", []) if r.get("ratio")]
    if scaling:
        memory = [r["peak_rss_mb"] for r in by["scaling"] if r.get("peak_rss_mb")]
        speeds = ", ".join(f"{r['multiple']}x: {r['ratio']:.2f}" for r in scaling)
        lines.append(
            f"- **Scaling**: events/s relative to 1x ({speeds}; 1.0 is linear); peak memory "
            f"{min(memory):,.0f} to {max(memory):,.0f} MB across {scaling[-1]['multiple']}x the events."
        )
    spark = [r for r in by.get("engines", []) if r.get("engine") == "spark" and r.get("ratio")]
    if spark:
        ingest_row = _find(spark, "ingest")
        reads = [1 / r["ratio"] for r in spark if "ingest" not in r["name"] and "start-up" not in r["name"]]
        same = all(r.get("same_results_as_duckdb", True) for r in spark)
        text = f"ingest takes {1 / ingest_row['ratio']:.1f}x DuckDB's time, " if ingest_row else ""
        if reads:
            text += f"queries and policies {min(reads):.1f}x to {max(reads):.1f}x"
        lines.append(
            f"- **Spark (local, same machine)**: {text}; results {'identical' if same else 'DIFFERENT'} on "
            "both engines. Spark is for trails that outgrow one machine."
        )
    return lines


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
        figure.savefig(out / "ingest.png", dpi=110, bbox_inches="tight")
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
        figure.savefig(out / "scaling.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        made["scaling"].append("scaling.png")
    stages = [
        (r["benchmark"], r["name"], r["seconds"])
        for b in ("full", "usage", "policy")
        for r in by_benchmark.get(b, [])
    ]
    if stages:
        figure, axis = plt.subplots(figsize=(9, 0.5 + 0.35 * len(stages)))
        axis.barh([f"{b}: {n}" for b, n, _ in stages], [s for _, _, s in stages], color="#55a868")
        axis.set_xlabel("seconds (lower is better)")
        axis.set_xscale("log")
        axis.invert_yaxis()
        axis.tick_params(axis="y", labelsize=7)
        figure.suptitle("time per stage")
        figure.tight_layout()
        figure.savefig(out / "stages.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        first = "full" if by_benchmark.get("full") else "usage"
        made[first].append("stages.png")
    return made
