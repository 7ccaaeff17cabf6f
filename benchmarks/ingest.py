"""Ingest speed and memory against the floor: gunzip + ``orjson.loads`` of the same files, in one process.

    python -m benchmarks.ingest [--events N] [--json out.json]

Two archives of the same events: few large files (one per account, region and day) and many small ones
(5-minute files, as CloudTrail delivers). For each: the floor (ISA-L gunzip + orjson.loads of every file,
one process, nothing else), trailsmith's whole ingest (to deduplicated Parquet) with 1 and with 2 workers,
each in a fresh process on a warm page cache. Reported: events/s, MB/s of JSON, peak memory of the process
tree, ``per_core_ratio`` = ingest(1 worker) / floor (target >= 1.0) and ``scaling`` = ingest(2) /
ingest(1) (target >= 1.7).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import archive, run_python, warm, write_json

FLOOR = """
import gc, glob, json, sys, time, orjson
from isal import igzip
files = sorted(f for f in glob.glob(sys.argv[1] + "/**/CloudTrail/**/*.json.gz", recursive=True))
began = time.perf_counter()
events = 0
for name in files:
    with open(name, "rb") as handle:
        events += len(orjson.loads(igzip.decompress(handle.read()))["Records"])
print(json.dumps({"seconds": time.perf_counter() - began, "events_read": events, "files": len(files)}))
"""

INGEST = """
import json, sys, time
import trailsmith
if __name__ == "__main__":
    began = time.perf_counter()
    report = trailsmith.ingest([sys.argv[1]], sys.argv[2], workers=int(sys.argv[3]))
    print(json.dumps({"seconds": time.perf_counter() - began, "events_read": report.events_read,
                      "events_new": report.events_new, "files": report.files_read}))
"""


def measure(name: str, path: Path, json_bytes: int) -> list[dict[str, Any]]:
    warm(path)
    rows: list[dict[str, Any]] = []
    floor = run_python(f"{name}: gunzip+orjson.loads", FLOOR, str(path))
    rows.append(_row(floor, json_bytes))
    by_workers = {}
    for workers in (1, 2):
        target = Path(tempfile.mkdtemp(prefix="trailsmith-bench-"))
        try:
            run = run_python(f"{name}: ingest, {workers} worker(s)", INGEST, str(path), str(target / "wh"), str(workers))
        finally:
            shutil.rmtree(target, ignore_errors=True)
        by_workers[workers] = run
        rows.append(_row(run, json_bytes))
    rows[1]["ratio"] = round(floor.seconds / by_workers[1].seconds, 3)
    rows[1]["ratio_against"] = "gunzip+orjson.loads, 1 process"
    rows[2]["ratio"] = round(by_workers[1].seconds / by_workers[2].seconds, 3)
    rows[2]["ratio_against"] = "ingest, 1 worker"
    return rows


def _row(run: Any, json_bytes: int) -> dict[str, Any]:
    events = run.result["events_read"]
    return {
        "name": run.name,
        "events": events,
        "files": run.result["files"],
        "seconds": round(run.seconds, 3),
        "events_per_s": round(events / run.seconds),
        "json_mb_per_s": round(json_bytes / 1e6 / run.seconds, 1),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events per archive (default 1,000,000)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    common = dict(events=args.events, accounts=3, regions=("us-east-1", "eu-west-1", "ap-southeast-2"), days=7)
    results: dict[str, Any] = {"benchmark": "ingest", "events": args.events, "rows": []}
    for name, minutes in (("few large files", 1440), ("many small files", 5)):
        path, totals = archive(f"ingest-{minutes}m", file_minutes=minutes, **common)
        results["rows"].extend(measure(name, path, totals["json_bytes"]))
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
