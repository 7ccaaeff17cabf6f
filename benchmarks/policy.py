"""Policy generation for every principal of a warehouse: how long per million events and per principal.

    python -m benchmarks.policy [--events N] [--repeat R] [--json out.json]

Builds (or reuses) a synthetic archive through ``benchmarks.common.archive`` (the same configuration as the
usage benchmark, so the two share one archive), ingests it once into ``benchmarks/work/policy/`` (kept for
the next run), then in fresh processes on a warm page cache times:

- ``all``: ``trailsmith.policy.generator.generate(warehouse)``: every principal, exact resources, split into
  its phases (open the warehouse, the SQL aggregation, deriving and rendering the policies);
- ``generalize``: the same with ``resources="generalize"``;
- ``one``: a single principal (the busiest), which is what a user piping into ``aws iam create-policy``
  waits for;
- ``window``: every principal over one day of the seven, which must cost about a seventh (partition pruning).

Reported per run: seconds (best of ``--repeat``), seconds per million events, milliseconds per principal,
usage rows that reached Python, and peak memory of the process.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ARCHIVE, WORK, Run, archive, fastest, run_python, warm, write_json

MEASURE = """
import json, sys, time
began = time.perf_counter()
import trailsmith.policy.generator as policy
from trailsmith.sql.db import connect
from trailsmith.policy.source import DuckDBUsage
warehouse, mode, which, since, until = sys.argv[1:6]
imported = time.perf_counter()
connection = connect(warehouse)
opened = time.perf_counter()
principals = None if which == "all" else [which]
source = DuckDBUsage(connection)
filters, known = policy.prepare(source, principals, since or None, until or None, (), (), "role")
table = source.aggregate(filters)
connection.close()
aggregated = time.perf_counter()
policies = policy.policies_from_usage(table, known, resources=mode, window=filters.window)
text = "".join(p.to_json() for p in policies)
derived = time.perf_counter()
print(json.dumps({
    "seconds": derived - imported, "import": imported - began, "connect": opened - imported,
    "aggregate": aggregated - opened, "derive": derived - aggregated, "rows": table.num_rows,
    "principals": len(policies), "statements": sum(len(p.statements) for p in policies),
    "documents": sum(len(p.documents) for p in policies), "bytes": len(text),
    "events_used": sum(p.events for p in policies),
}))
"""

INGEST = """
import json, sys, time
import trailsmith
if __name__ == "__main__":
    began = time.perf_counter()
    report = trailsmith.ingest([sys.argv[1]], sys.argv[2])
    print(json.dumps({"seconds": time.perf_counter() - began, "events_new": report.events_new}))
"""


def warehouse_for(path: Path) -> tuple[Path, float | None]:
    """The warehouse of archive ``path``, ingested once and kept; (path, ingest seconds if built now)."""
    target = WORK / "policy" / path.parent.name / "warehouse"
    done = target.parent / "ingested.json"
    layout = _layout()
    if done.exists() and json.loads(done.read_text()).get("layout") == layout:
        return target, None
    # absent, or written with another file layout (row groups, file sizes, schema): timings would mislead
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    run = run_python("ingest (one-off)", INGEST, str(path), str(target))
    done.write_text(json.dumps(run.result | {"layout": layout}))
    return target, run.seconds


def _layout() -> str:
    """What the warehouse files look like with this code: a kept warehouse is reused only if it matches."""
    from trailsmith.ingestion.worker import ROW_GROUP_ROWS, TARGET_ROWS
    from trailsmith.warehouse.schema import EVENTS_SCHEMA

    schema = hashlib.sha256(str(EVENTS_SCHEMA).encode()).hexdigest()[:12]
    return f"row groups {ROW_GROUP_ROWS}, files {TARGET_ROWS}, schema {schema}"


def best(name: str, repeat: int, *args: str) -> Run:
    return fastest([run_python(name, MEASURE, *args) for _ in range(repeat)])


def busiest(warehouse: Path) -> str:
    import trailsmith

    connection = trailsmith.connect(warehouse)
    try:
        rows = connection.sql(
            "SELECT principalArn, count(*) AS n FROM events WHERE principalArn IS NOT NULL "
            "GROUP BY principalArn ORDER BY n DESC, principalArn LIMIT 1"
        ).fetchall()
    finally:
        connection.close()
    return str(rows[0][0])


def row(run: Run, events: int, principals: int) -> dict[str, Any]:
    result = run.result
    return {
        "run": run.name,
        "seconds": round(run.seconds, 3),
        "seconds_per_million_events": round(run.seconds / max(events, 1) * 1e6, 3),
        "ms_per_principal": round(run.seconds * 1000 / max(principals, 1), 1),
        "phases": {k: round(result[k], 3) for k in ("connect", "aggregate", "derive")},
        "usage_rows": result["rows"],
        "principals": result["principals"],
        "statements": result["statements"],
        "documents": result["documents"],
        "peak_rss_mb": round(run.peak_rss_mb, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events in the archive (default 1,000,000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement; the best counts (default 3)"
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    path, totals = archive("usage", events=args.events, file_minutes=60, **ARCHIVE)
    warehouse, ingest_seconds = warehouse_for(path)
    warm(warehouse)
    events = int(totals["events"])
    who = busiest(warehouse)
    began = time.perf_counter()
    everyone = best("all principals, exact", args.repeat, str(warehouse), "exact", "all", "", "")
    principals = everyone.result["principals"]
    runs = [
        row(everyone, events, principals),
        row(
            best("all principals, generalize", args.repeat, str(warehouse), "generalize", "all", "", ""),
            events,
            principals,
        ),
        row(
            best("one principal (the busiest)", args.repeat, str(warehouse), "exact", who, "", ""), events, 1
        ),
        row(
            best(
                "all principals, one day of seven",
                args.repeat,
                str(warehouse),
                "exact",
                "all",
                "2024-08-03",
                "2024-08-03",
            ),
            events,
            principals,
        ),
    ]
    payload = {
        "benchmark": "policy",
        "events": events,
        "principals": principals,
        "busiest_principal": who,
        "ingest_seconds": None if ingest_seconds is None else round(ingest_seconds, 1),
        "runs": runs,
        "wall_seconds": round(time.perf_counter() - began, 1),
    }
    write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
