"""DuckDB against Spark on this machine: the same ingest, SQL, saved queries and policy generation.

    python -m benchmarks.engines [--events N] [--master local[2]] [--small-files] [--json out.json]

The archives are those of ``benchmarks.ingest`` (few large files, one per account, region and day; with
``--small-files`` also many small 5-minute files), generated once and cached. For each archive:

- **ingest**: each engine ingests it into a new warehouse, in a fresh process, on a warm page cache
  (DuckDB path with 2 workers; Spark with ``--master``, ``local[2]`` by default, session start-up timed
  apart and included in ``seconds``);
- **read side**: in one fresh process per engine, over the same warehouse (the DuckDB-written one), three
  ad-hoc aggregations over ``events``, four saved queries (the derived views included; on Spark their
  sqlglot translations or variants) and ``trailsmith policy --all`` (the usage aggregation on the engine,
  the documents in Python). Each is run three times: ``first`` (cold: Spark compiles and warms its JIT)
  and ``seconds`` (the best of three). The results of the two engines are checked to be equal.

Every row: ``name``, ``engine``, ``events``, ``seconds``, ``peak_rss_mb`` (of the process tree: the JVM and
Spark's Python workers included); Spark rows also ``baseline`` (the DuckDB row) and ``ratio`` (Spark's
seconds over DuckDB's: above 1 means Spark is slower).
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
SAVED = ("top_principals", "denied_calls", "new_actions", "usage")

DUCKDB_INGEST = """
import json, sys, time
import trailsmith
if __name__ == "__main__":
    began = time.perf_counter()
    report = trailsmith.ingest([sys.argv[1]], sys.argv[2], workers=2)
    print(json.dumps({"seconds": time.perf_counter() - began, "startup_seconds": 0.0,
                      "events_read": report.events_read, "events_new": report.events_new,
                      "files": report.files_read}))
"""

SPARK_INGEST = """
import json, sys, time
from trailsmith.spark.ingest import ingest
from trailsmith.spark.session import session
if __name__ == "__main__":
    began = time.perf_counter()
    spark = session(sys.argv[3])
    started = time.perf_counter()
    report = ingest([sys.argv[1]], sys.argv[2], spark=spark)
    done = time.perf_counter()
    print(json.dumps({"seconds": done - began, "startup_seconds": started - began,
                      "events_read": report.events_read, "events_new": report.events_new,
                      "files": report.files_read}))
"""

READ_SIDE = """
import hashlib, json, sys, time
began = time.perf_counter()
engine, warehouse, master = sys.argv[1], sys.argv[2], sys.argv[3]
queries, saved = json.loads(sys.argv[4]), json.loads(sys.argv[5])
from trailsmith import engines
import trailsmith.policy.generator as policy
if engine == "spark":
    from trailsmith.spark.session import session
    session(master)
startup = time.perf_counter() - began

def digest(rows):
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()[:16]

jobs = {f"SQL {name}": (lambda text=text: engines.query(text, warehouse, engine=engine, spark_master=master))
        for name, text in queries.items()}
jobs.update({f"query {name}": (lambda name=name: engines.run_saved(name, warehouse, engine=engine,
                                                                   spark_master=master))
             for name in saved})
jobs["policy --all"] = lambda: policy.generate(warehouse, engine=engine, spark_master=master)
out = {}
for name, job in jobs.items():
    times = []
    for _ in range(3):
        t = time.perf_counter()
        result = job()
        times.append(time.perf_counter() - t)
    if isinstance(result, list):
        rows, text = len(result), [p.to_json() for p in result]
    else:
        rows, text = result.num_rows, [[str(v) for v in row.values()] for row in result.to_pylist()]
    out[name] = {"first": times[0], "best": min(times), "rows": rows, "digest": digest(text)}
print(json.dumps({"seconds": time.perf_counter() - began, "startup_seconds": startup, "jobs": out}))
"""


def _ingest_rows(name: str, path: Path, json_bytes: int, target: Path, master: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for engine, code, extra in (("duckdb", DUCKDB_INGEST, ()), ("spark", SPARK_INGEST, (master,))):
        run = run_python(f"{name}: ingest on {engine}", code, str(path), str(target / engine), *extra)
        events = run.result["events_read"]
        rows.append(
            {
                "name": run.name,
                "engine": engine,
                "events": events,
                "events_new": run.result["events_new"],
                "files": run.result["files"],
                "input_mb": round(json_bytes / 1e6, 1),
                "seconds": round(run.seconds, 2),
                "startup_seconds": round(run.result["startup_seconds"], 2),
                "events_per_s": round(events / run.seconds),
                "events_per_s_after_startup": round(events / (run.seconds - run.result["startup_seconds"])),
                "peak_rss_mb": round(run.peak_rss_mb),
            }
        )
    return rows


def _read_rows(name: str, warehouse: Path, events: int, master: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    digests: dict[str, dict[str, str]] = {}
    for engine in ("duckdb", "spark"):
        run = run_python(
            f"{name}: read side on {engine}",
            READ_SIDE,
            engine,
            str(warehouse),
            master,
            json.dumps(QUERIES),
            json.dumps(SAVED),
        )
        digests[engine] = {job: r["digest"] for job, r in run.result["jobs"].items()}
        rows.append(
            {
                "name": f"{name}: start-up on {engine}",
                "engine": engine,
                "events": 0,
                "seconds": round(run.result["startup_seconds"], 2),
                "peak_rss_mb": round(run.peak_rss_mb),
            }
        )
        for job, result in run.result["jobs"].items():
            rows.append(
                {
                    "name": f"{name}: {job} on {engine}",
                    "engine": engine,
                    "events": events,
                    "seconds": round(result["best"], 3),
                    "first_seconds": round(result["first"], 3),
                    "rows": result["rows"],
                    "peak_rss_mb": round(run.peak_rss_mb),
                }
            )
    for row in rows:
        if row["engine"] == "spark":
            base = next(r for r in rows if r["name"] == row["name"].replace(" on spark", " on duckdb"))
            row["baseline"] = base["name"]
            row["ratio"] = round(row["seconds"] / base["seconds"], 2) if base["seconds"] else None
            job = row["name"].split(": ", 1)[1].rsplit(" on ", 1)[0]
            if job in digests["spark"]:
                row["same_results_as_duckdb"] = digests["spark"][job] == digests["duckdb"][job]
    return rows


def measure(name: str, path: Path, json_bytes: int, master: str) -> list[dict[str, Any]]:
    """Both ingests of one archive, then the read side on both engines; one row per measurement."""
    warm(path)
    target = Path(tempfile.mkdtemp(prefix="trailsmith-engines-"))
    try:
        rows = _ingest_rows(name, path, json_bytes, target, master)
        for row in rows:
            if row["engine"] == "spark":
                row["baseline"], row["ratio"] = rows[0]["name"], round(row["seconds"] / rows[0]["seconds"], 2)
        rows += _read_rows(name, target / "duckdb", rows[0]["events_new"], master)
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events per archive (default 1,000,000)"
    )
    parser.add_argument(
        "--master", default="local[2]", help="Spark master (default local[2]: the 2 cores here)"
    )
    parser.add_argument(
        "--small-files", action="store_true", help="also the archive of many small 5-minute files"
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    common = {
        "events": args.events,
        "accounts": 3,
        "regions": ("us-east-1", "eu-west-1", "ap-southeast-2"),
        "days": 7,
    }
    results: dict[str, Any] = {
        "benchmark": "engines",
        "events": args.events,
        "master": args.master,
        "rows": [],
    }
    layouts = [("few large files", 1440)] + ([("many small files", 5)] if args.small_files else [])
    for name, minutes in layouts:
        path, totals = archive(f"ingest-{minutes}m", file_minutes=minutes, **common)
        results["rows"].extend(measure(name, path, totals["json_bytes"], args.master))
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
