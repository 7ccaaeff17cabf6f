"""Every benchmark, side by side: ``python -m benchmarks [--quick | --scale NAME] [--out DIR] [--spark]``.

Generates (or reuses, under ``benchmarks/work/``) synthetic archives with the project's own generator at the
scale's sizes, runs every benchmark, each against a baseline measured in the same run, and writes
``results.json`` (one record per measurement) and ``report.md`` with tables and PNG charts into ``--out``
(default ``benchmarks/results/<scale>``).

Scales: ``quick`` (about a minute on 2 cores, for CI), ``standard`` (1 million events, the default) and
``full`` (adds one archive past the hosted generator's per-run limits: 25 GB of JSON in 100,000+ files,
ingested and turned into policies for every principal).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import ingest as ingest_bench
from benchmarks import policy as policy_bench
from benchmarks import usage as usage_bench
from benchmarks.common import ARCHIVE, WORK, archive, run_python, warm
from benchmarks.report import machine, write_report


@dataclass(frozen=True)
class Scale:
    name: str
    ingest_events: int
    usage_events: int
    policy_events: int
    scaling: tuple[int, ...]
    repeat: int
    full: bool = False


SCALES = {
    "quick": Scale("quick", 2_000, 2_000, 2_000, (1_000, 4_000, 16_000), 1),
    "standard": Scale("standard", 1_000_000, 1_000_000, 1_000_000, (250_000, 1_000_000, 4_000_000), 3),
    "full": Scale(
        "full", 1_000_000, 10_000_000, 10_000_000, (1_000_000, 4_000_000, 16_000_000), 3, full=True
    ),
}

#: The full run's archive: 10 accounts x 5 regions x 7 days of 5-minute files = 100,800 log files; at about
#: 1.7 KB per event, 15 million events are 25 GB of JSON.
FULL_ARCHIVE = {
    "accounts": 10,
    "regions": ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"),
    "days": 7,
    "file_minutes": 5,
    "events": 15_000_000,
}

END_TO_END = """
import json, sys, time
import trailsmith, trailsmith.policy.generator as policy
if __name__ == "__main__":
    began = time.perf_counter()
    report = trailsmith.ingest([sys.argv[1]], sys.argv[2])
    ingested = time.perf_counter()
    policies = policy.generate(sys.argv[2])
    done = time.perf_counter()
    print(json.dumps({"seconds": done - began, "ingest": ingested - began, "policy": done - ingested,
                      "events_read": report.events_read, "events_new": report.events_new,
                      "files": report.files_read, "principals": len(policies),
                      "documents": sum(len(p.documents) for p in policies)}))
"""


def record(
    benchmark: str,
    scale: str,
    name: str,
    *,
    events: int,
    input_mb: float,
    seconds: float,
    peak_rss_mb: float | None,
    baseline: str | None = None,
    ratio: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One measurement, in the shape every record of results.json has.

    ``ratio`` is always the baseline's time over this row's time for the same work (for scaling, per
    event): above 1 this row is faster than its baseline, below 1 slower.
    """
    return {
        "benchmark": benchmark,
        "scale": scale,
        "name": name,
        "events": events,
        "input_mb": round(input_mb, 1),
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds) if seconds else None,
        "mb_per_s": round(input_mb / seconds, 1) if seconds else None,
        "peak_rss_mb": None if peak_rss_mb is None else round(peak_rss_mb, 1),
        "baseline": baseline,
        "ratio": ratio,
        **extra,
    }


def run_ingest(scale: Scale) -> list[dict[str, Any]]:
    rows = ingest_bench.run(scale.ingest_events, scale.repeat)
    out = []
    for row in rows:
        extra = {k: v for k, v in row.items() if k.startswith("ratio_")}
        out.append(
            record(
                "ingest",
                scale.name,
                row["name"],
                events=row["events"],
                input_mb=row["input_mb"],
                seconds=row["seconds"],
                peak_rss_mb=row["peak_rss_mb"],
                baseline=row.get("baseline"),
                ratio=row.get("ratio"),
                files=row["files"],
                **extra,
            )
        )
    return out


def run_usage(scale: Scale) -> list[dict[str, Any]]:
    result = usage_bench.main(["--events", str(scale.usage_events), "--json", str(WORK / "usage-last.json")])
    events, mb = result["events"], result["gzip_bytes"] / 1e6
    return [
        record(
            "usage",
            scale.name,
            "usage query over raw .json.gz (DuckDB read_json)",
            events=events,
            input_mb=mb,
            seconds=result["raw_seconds"],
            peak_rss_mb=result["raw_peak_rss_mb"],
        ),
        record(
            "usage",
            scale.name,
            "usage query over the warehouse",
            events=events,
            input_mb=mb,
            seconds=result["warehouse_seconds"],
            peak_rss_mb=result["warehouse_peak_rss_mb"],
            baseline="usage query over raw .json.gz (DuckDB read_json)",
            ratio=result["ratio"],
            same_answer=result["same_answer"],
            ingest_seconds=result["ingest_seconds"],
        ),
    ]


def run_policy(scale: Scale) -> list[dict[str, Any]]:
    result = policy_bench.main(
        [
            "--events",
            str(scale.policy_events),
            "--repeat",
            str(scale.repeat),
            "--json",
            str(WORK / "policy-last.json"),
        ]
    )
    events = result["events"]
    rows = []
    for run in result["runs"]:
        rows.append(
            record(
                "policy",
                scale.name,
                run["run"],
                events=events,
                input_mb=0.0,
                seconds=run["seconds"],
                peak_rss_mb=run["peak_rss_mb"],
                principals=run["principals"],
                seconds_per_million_events=run["seconds_per_million_events"],
                ms_per_principal=run["ms_per_principal"],
                phases=run["phases"],
                documents=run["documents"],
            )
        )
    return rows


def run_scaling(scale: Scale) -> list[dict[str, Any]]:
    """The same ingest (2 workers) at three sizes: time should grow linearly, memory stay flat."""
    rows = []
    smallest = scale.scaling[0]
    for events in scale.scaling:
        path, totals = archive("scaling", events=events, file_minutes=15, **ARCHIVE)
        warm(path)
        run = ingest_bench.in_tmp(
            f"ingest {events // smallest}x", ingest_bench.INGEST, str(path), "{out}/wh", "2"
        )
        rows.append(
            record(
                "scaling",
                scale.name,
                f"ingest, 2 workers, {events // smallest}x events",
                events=run.result["events_read"],
                input_mb=totals["json_bytes"] / 1e6,
                seconds=run.seconds,
                peak_rss_mb=run.peak_rss_mb,
                multiple=events // smallest,
                files=run.result["files"],
            )
        )
    base = rows[0]
    for row in rows[1:]:
        row["baseline"] = base["name"]
        # events per second relative to the 1x run: 1.0 is perfectly linear, below 1 slower per event
        row["ratio"] = round((base["seconds"] / base["events"]) / (row["seconds"] / row["events"]), 3)
    return rows


def run_full(scale: Scale) -> list[dict[str, Any]]:
    """Past the hosted generator's per-run limits: 25 GB of JSON in 100,000+ files, ingested, then policies.

    The baseline is the floor for two cores: gunzip + ``orjson.loads`` of every file in two processes.
    """
    path, totals = archive("full", **FULL_ARCHIVE)
    warm(path)
    mb = totals["json_bytes"] / 1e6
    floor = run_python("floor: gunzip+orjson.loads, 2 processes", ingest_bench.FLOOR, str(path), "2")
    run = ingest_bench.in_tmp("end to end", END_TO_END, str(path), "{out}/wh")
    result = run.result
    return [
        record(
            "full",
            scale.name,
            floor.name,
            events=floor.result["events_read"],
            input_mb=mb,
            seconds=floor.seconds,
            peak_rss_mb=floor.peak_rss_mb,
            files=floor.result["files"],
        ),
        record(
            "full",
            scale.name,
            "ingest, 2 workers (100,000+ files)",
            events=result["events_read"],
            input_mb=mb,
            seconds=result["ingest"],
            peak_rss_mb=run.peak_rss_mb,
            files=result["files"],
            baseline=floor.name,
            ratio=round(floor.seconds / result["ingest"], 3),
        ),
        record(
            "full",
            scale.name,
            "policies for every principal",
            events=result["events_new"],
            input_mb=mb,
            seconds=result["policy"],
            peak_rss_mb=run.peak_rss_mb,
            principals=result["principals"],
            documents=result["documents"],
        ),
        record(
            "full",
            scale.name,
            "end to end: archive to policies",
            events=result["events_read"],
            input_mb=mb,
            seconds=result["seconds"],
            peak_rss_mb=run.peak_rss_mb,
            files=result["files"],
        ),
    ]


def run_engines(scale: Scale) -> list[dict[str, Any]]:
    from benchmarks import engines as engines_bench

    result = engines_bench.main(
        ["--events", str(scale.ingest_events), "--json", str(WORK / "engines-last.json")]
    )
    rows = []
    for row in result["rows"]:
        # engines.py's ratio is Spark's time over DuckDB's; here every ratio is the baseline's over the row's
        ratio = round(1 / row["ratio"], 3) if row.get("ratio") else None
        extra = {
            k: row[k]
            for k in ("engine", "first_seconds", "startup_seconds", "same_results_as_duckdb")
            if k in row
        }
        rows.append(
            record(
                "engines",
                scale.name,
                row["name"],
                events=row.get("events", 0),
                input_mb=row.get("input_mb", 0.0),
                seconds=row["seconds"],
                peak_rss_mb=row.get("peak_rss_mb"),
                baseline=row.get("baseline"),
                ratio=ratio,
                **extra,
            )
        )
    return rows


SUITES = {
    "full": run_full,
    "ingest": run_ingest,
    "usage": run_usage,
    "policy": run_policy,
    "scaling": run_scaling,
    "engines": run_engines,
}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the quick scale (about a minute, for CI)")
    parser.add_argument("--scale", choices=sorted(SCALES), help="quick, standard (default) or full")
    parser.add_argument("--out", type=Path, help="where results.json, report.md and charts go")
    parser.add_argument(
        "--spark", action="store_true", help="also compare the Spark engine (needs trailsmith[spark])"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SUITES),
        metavar="SUITE",
        help="run only this suite (repeatable: " + ", ".join(sorted(SUITES)) + "); its records "
        "replace that suite's in an existing results.json in --out, the others are kept",
    )
    args = parser.parse_args(argv)
    scale = SCALES["quick" if args.quick else (args.scale or "standard")]
    out = args.out or Path(__file__).resolve().parent / "results" / scale.name
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    # the full run first: it is what that scale is for, and the longest to redo
    names = (
        (["full"] if scale.full else [])
        + ["ingest", "usage", "policy", "scaling"]
        + (["engines"] if args.spark else [])
    )
    records: list[dict[str, Any]] = []
    if args.only:
        names = [name for name in SUITES if name in args.only]
        previous = out / "results.json"
        if previous.exists():
            records = [r for r in json.loads(previous.read_text()) if r["benchmark"] not in names]
    suites = [SUITES[name] for name in names]
    try:
        for suite in suites:
            records.extend(suite(scale))
            (out / "results.json").write_text(
                json.dumps(records, indent=2) + "\n"
            )  # keep what is done so far
    finally:
        # a suite that fails still raises, after the report of what was measured before it is written
        order = {name: position for position, name in enumerate(SUITES)}
        records.sort(key=lambda r: order.get(r["benchmark"], len(order)))
        about = machine() | {
            "scale": scale.name,
            "wall_seconds": round(time.perf_counter() - began, 1),
            "suites": names if args.only else None,
        }
        (out / "results.json").write_text(json.dumps(records, indent=2) + "\n")
        write_report(out, records, about)
    print(f"wrote {len(records)} measurements to {out / 'results.json'} and {out / 'report.md'}")
    return records


if __name__ == "__main__":
    main()
