"""DuckDB against Spark on this machine: the same ingest, then the same SQL aggregations.

    python -m benchmarks.engines [--events N] [--master local[2]] [--json out.json]

The archives are those of ``benchmarks.ingest`` (few large files, one per account, region and day; and
many small 5-minute files), generated once and cached. For each archive, each engine ingests it into a
new warehouse in a fresh process on a warm page cache (DuckDB path with 2 workers; Spark with ``--master``,
``local[2]`` by default, session start-up timed apart). Then a few aggregations run on both engines over
the same warehouse (the DuckDB-written one), each in a fresh process: the first run and the best of three,
with the engine's start-up apart; the results of the two engines are checked to be equal.
Reported: seconds, events/s, peak memory of the process tree (the JVM and Spark's Python workers included).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import archive, run_python, warm, write_json

QUERIES = {
    "top calls": "SELECT eventSource, eventName, count(*) AS calls FROM events "
    "GROUP BY eventSource, eventName ORDER BY calls DESC, eventSource, eventName LIMIT 20",
    "principals": "SELECT principalArn, count(DISTINCT eventName) AS actions, count(*) AS calls FROM events "
    "WHERE principalArn IS NOT NULL GROUP BY principalArn ORDER BY calls DESC, principalArn",
    "denied by day and region": "SELECT eventDate, awsRegion, count(*) AS denied FROM events "
    "WHERE errorCode IN ('AccessDenied', 'Client.UnauthorizedOperation', 'UnauthorizedOperation') "
    "GROUP BY eventDate, awsRegion ORDER BY eventDate, awsRegion",
}

DUCKDB_INGEST = """
import json, sys, time
import trailsmith
if __name__ == "__main__":
    began = time.perf_counter()
    report = trailsmith.ingest([sys.argv[1]], sys.argv[2], workers=2)
    print(json.dumps({"seconds": time.perf_counter() - began, "startup_seconds": 0.0, "events_read": report.events_read,
                      "events_new": report.events_new, "files": report.files_read}))
"""

SPARK_INGEST = """
import json, sys, time
from trailsmith.spark_ingest import ingest
from trailsmith.spark_session import session
if __name__ == "__main__":
    began = time.perf_counter()
    spark = session(sys.argv[3])
    started = time.perf_counter()
    report = ingest([sys.argv[1]], sys.argv[2], spark=spark)
    done = time.perf_counter()
    print(json.dumps({"seconds": done - began, "startup_seconds": started - began, "events_read": report.events_read,
                      "events_new": report.events_new, "files": report.files_read}))
"""

SQL = """
import hashlib, json, sys, time
began = time.perf_counter()
engine, warehouse, master, queries = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
if engine == "spark":
    from trailsmith.spark_session import session
    from trailsmith.spark_sql import sql
    spark = session(master)
    run = lambda text: sql(text, warehouse, spark=spark)
else:
    import trailsmith
    run = lambda text: trailsmith.query(text, warehouse)
startup = time.perf_counter() - began
out = {}
for name, text in queries.items():
    times = []
    for _ in range(3):
        t = time.perf_counter()
        table = run(text)
        times.append(time.perf_counter() - t)
    rows = [[str(v) for v in row.values()] for row in table.to_pylist()]
    out[name] = {"first": times[0], "best": min(times), "rows": len(rows),
                 "digest": hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]}
print(json.dumps({"seconds": time.perf_counter() - began, "startup_seconds": startup, "queries": out}))
"""


def measure(name: str, path: Path, json_bytes: int, master: str) -> list[dict[str, Any]]:
    """Both ingests of one archive, then the queries on both engines; one row per measured run."""
    warm(path)
    rows: list[dict[str, Any]] = []
    target = Path(tempfile.mkdtemp(prefix="trailsmith-engines-"))
    try:
        for engine, code, extra in (("duckdb", DUCKDB_INGEST, ()), ("spark", SPARK_INGEST, (master,))):
            run = run_python(f"{name}: ingest on {engine}", code, str(path), str(target / engine), *extra)
            events = run.result["events_read"]
            rows.append({
                "name": run.name, "engine": engine, "events": events, "events_new": run.result["events_new"],
                "files": run.result["files"], "seconds": round(run.seconds, 2),
                "startup_seconds": round(run.result["startup_seconds"], 2),
                "events_per_s": round(events / run.seconds),
                "events_per_s_after_startup": round(events / (run.seconds - run.result["startup_seconds"])),
                "json_mb_per_s": round(json_bytes / 1e6 / run.seconds, 1), "peak_rss_mb": round(run.peak_rss_mb),
            })
        digests = {}
        for engine in ("duckdb", "spark"):
            run = run_python(f"{name}: SQL on {engine}", SQL, engine, str(target / "duckdb"), master, json.dumps(QUERIES))
            digests[engine] = {q: r["digest"] for q, r in run.result["queries"].items()}
            rows.append({
                "name": run.name, "engine": engine, "startup_seconds": round(run.result["startup_seconds"], 2),
                "peak_rss_mb": round(run.peak_rss_mb),
                "queries": {q: {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "digest"}
                            for q, r in run.result["queries"].items()},
            })
        rows[-1]["same_results_as_duckdb"] = digests["duckdb"] == digests["spark"]
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events per archive (default 1,000,000)")
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2]: the 2 cores here)")
    parser.add_argument("--small-files", action="store_true", help="also the archive of many small 5-minute files")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    common = dict(events=args.events, accounts=3, regions=("us-east-1", "eu-west-1", "ap-southeast-2"), days=7)
    results: dict[str, Any] = {"benchmark": "engines", "events": args.events, "master": args.master, "rows": []}
    layouts = [("few large files", 1440)] + ([("many small files", 5)] if args.small_files else [])
    for name, minutes in layouts:
        path, totals = archive(f"ingest-{minutes}m", file_minutes=minutes, **common)
        results["rows"].extend(measure(name, path, totals["json_bytes"], args.master))
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
