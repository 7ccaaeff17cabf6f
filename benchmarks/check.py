"""``trailsmith check`` over every principal's committed policies: how long per million events and per
principal, against policy generation over the same warehouse in the same run.

    python -m benchmarks.check [--events N] [--accounts A] [--principals P] [--repeat R] [--profile]
                               [--json out.json]

Issue 13's target is 1,000 principals checked against 15 million events in under a minute on 2 cores,
hence the defaults: 15,000,000 events and 67 accounts (the generator makes about 15 principals an account).
Builds (or reuses) a synthetic archive through ``benchmarks.common.archive``, ingests it once into
``benchmarks/work/policy/`` (kept for the next run, as the policy benchmark keeps its own), and writes the
committed policies once into ``benchmarks/work/check/``: the generator's policy of every principal, one
JSON file per document and a mapping file -> principal, perturbed so that the check has findings of both
kinds (every tenth principal's first document loses its last statement: calls it would deny; every fifth,
counting from the fifth, gains a ``s3:DeleteBucket`` statement nobody needs: a grant nobody used).

Then, in fresh processes on a warm page cache, it times:

- ``check``: ``load_sources`` of the mapping's files with the mapping, ``check`` against the warehouse
  (split into the usage aggregation and the rest: deriving the authorisations and deciding them) and
  ``render_json``;
- ``generate`` (the baseline): ``trailsmith.policy.generator.generate(warehouse)`` for the same
  principals, the same aggregation and the policies derived from it.

``--principals P`` checks (and generates for) only P of the principals, every n-th, spread over the
accounts: how a size whose whole check would not fit the machine's memory or the time at hand is measured.

Reported per run: seconds (best of ``--repeat``), seconds per million events, milliseconds per principal,
peak memory; for the check the principals and calls checked and the findings; and ``check / generate``,
the ratio to compare across runs on a shared, noisy machine. ``--profile`` adds one run of the check under
cProfile and reports its top functions.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ARCHIVE, WORK, Run, archive, fastest, run_python, warm, write_json
from benchmarks.policy import warehouse_for

#: About 15 principals an account: 67 accounts make about 1,000 principals.
ACCOUNTS = 67
EVENTS = 15_000_000
#: The statement every fifth principal gains and never uses.
UNUSED_STATEMENT = {"Sid": "BenchmarkUnused", "Effect": "Allow", "Action": "s3:DeleteBucket", "Resource": "*"}

#: Times the aggregation inside ``check`` by wrapping the usage source's method (the query runs as is).
_TIMED_AGGREGATE = """
import time
from trailsmith.policy.source import DuckDBUsage
spent = {"aggregate": 0.0, "rows": 0}
_aggregate = DuckDBUsage.aggregate
def _timed(self, filters):
    began = time.perf_counter()
    table = _aggregate(self, filters)
    spent["aggregate"] += time.perf_counter() - began
    spent["rows"] += table.num_rows
    return table
DuckDBUsage.aggregate = _timed
"""

CHECK = (
    """
import json, sys, time
began = time.perf_counter()
from trailsmith.check.render import render_json
from trailsmith.check.run import check
from trailsmith.check.sources import load_sources
"""
    + _TIMED_AGGREGATE
    + """
mapping_file, warehouse, profile = sys.argv[1:4]
if profile:
    import cProfile, pstats
    profiler = cProfile.Profile()
    profiler.enable()
imported = time.perf_counter()
with open(mapping_file) as handle:
    mapping = json.load(handle)
sources = load_sources(list(mapping), mapping=mapping)
loaded = time.perf_counter()
report = check(sources, warehouse)
checked = time.perf_counter()
text = render_json(report)
rendered = time.perf_counter()
top = []
if profile:
    profiler.disable()
    stats = pstats.Stats(profiler)
    for order in ("tottime", "cumulative"):
        stats.sort_stats(order)
        for function in stats.fcn_list[:30]:
            calls, _, own, total, _ = stats.stats[function]
            where = f"{function[0].rsplit('/', 2)[-1]}:{function[1]}({function[2]})"
            top.append({"order": order, "function": where, "calls": calls,
                        "tottime": round(own, 3), "cumtime": round(total, 3)})
summary = json.loads(text)["summary"]
print(json.dumps({
    "seconds": rendered - imported, "import": imported - began, "load": loaded - imported,
    "aggregate": spent["aggregate"], "decide": checked - loaded - spent["aggregate"],
    "render": rendered - checked, "rows": spent["rows"], "principals": len(report.principals),
    "sources": len(sources.policies), "calls": sum(p.calls_checked for p in report.principals),
    "denied": summary["denied"], "undetermined": summary["undetermined"],
    "denied_calls": summary["denied_calls"], "unused": summary["unused"],
    "unresolved": summary["unresolved"], "bytes": len(text), "top": top,
}))
"""
)

GENERATE = (
    """
import json, sys, time
began = time.perf_counter()
from trailsmith.policy.generator import generate
"""
    + _TIMED_AGGREGATE
    + """
warehouse, mapping_file = sys.argv[1:3]
principals = None
if mapping_file:
    with open(mapping_file) as handle:
        principals = sorted(set(json.load(handle).values()))
imported = time.perf_counter()
policies = generate(warehouse, principals)
text = "".join(p.to_json() for p in policies)
done = time.perf_counter()
print(json.dumps({
    "seconds": done - imported, "import": imported - began, "aggregate": spent["aggregate"],
    "derive": done - imported - spent["aggregate"], "rows": spent["rows"], "principals": len(policies),
    "documents": sum(len(p.documents) for p in policies), "bytes": len(text),
}))
"""
)

#: Writes the committed policies (see the module's docstring); run once in its own process.
COMMIT = """
import json, sys
from pathlib import Path
from trailsmith.iam.export import entity_arn_parts
from trailsmith.policy.generator import generate
warehouse, folder, mapping_file, unused = sys.argv[1:5]
unused = json.loads(unused)
mapping = {}
# an account's root user has no identity policy to commit
policies = [p for p in generate(warehouse) if entity_arn_parts(p.principal) is not None]
for number, policy in enumerate(policies):
    for part, document in enumerate(policy.documents):
        body = document.to_dict()
        if part == 0 and number % 10 == 0 and len(body["Statement"]) > 1:
            body["Statement"].pop()
        if part == 0 and number % 5 == 4:
            body["Statement"].append(unused)
        path = Path(folder) / f"{number:05d}-{part}.json"
        path.write_text(json.dumps(body, indent=2) + "\\n")
        mapping[str(path)] = policy.principal
Path(mapping_file).write_text(json.dumps(mapping, indent=1) + "\\n")
print(json.dumps({"principals": len(policies), "files": len(mapping)}))
"""


def committed(warehouse: Path) -> tuple[Path, Path, float | None]:
    """The committed policies of ``warehouse``, written once and kept; (folder, mapping file, seconds if
    written now). They are rewritten when the warehouse was ingested again (its marker changed)."""
    root = WORK / "check" / warehouse.parent.name
    folder, mapping, done = root / "policies", root / "mapping.json", root / "written.json"
    marker = (warehouse.parent / "ingested.json").read_text()
    if done.exists() and json.loads(done.read_text()).get("ingested") == marker:
        return folder, mapping, None
    shutil.rmtree(root, ignore_errors=True)
    folder.mkdir(parents=True)
    run = run_python(
        "committed policies (one-off)",
        COMMIT,
        str(warehouse),
        str(folder),
        str(mapping),
        json.dumps(UNUSED_STATEMENT),
    )
    done.write_text(json.dumps(run.result | {"ingested": marker}))
    return folder, mapping, run.seconds


def subset(mapping: Path, wanted: int) -> tuple[Path, bool]:
    """A mapping of every n-th principal's files (``wanted`` of them, spread over the accounts: principals
    sort by account), written beside ``mapping``; (path, whether it holds every principal)."""
    files = json.loads(mapping.read_text())
    everyone = sorted(set(files.values()))
    if wanted <= 0 or wanted >= len(everyone):
        return mapping, True
    step = len(everyone) / wanted
    chosen = {everyone[int(i * step)] for i in range(wanted)}
    path = mapping.with_name(f"mapping-{wanted}.json")
    path.write_text(json.dumps({f: p for f, p in files.items() if p in chosen}, indent=1) + "\n")
    return path, False


def best(name: str, code: str, repeat: int, *args: str) -> Run:
    return fastest([run_python(name, code, *args) for _ in range(repeat)])


def _rates(run: Run, events: int, principals: int) -> dict[str, Any]:
    return {
        "run": run.name,
        "seconds": round(run.seconds, 3),
        "seconds_per_million_events": round(run.seconds / max(events, 1) * 1e6, 3),
        "ms_per_principal": round(run.seconds * 1000 / max(principals, 1), 1),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
    }


def check_row(run: Run, events: int) -> dict[str, Any]:
    result = run.result
    keys = ("principals", "sources", "calls", "denied", "undetermined", "denied_calls", "unused", "rows")
    return {
        **_rates(run, events, result["principals"]),
        "phases": {k: round(result[k], 3) for k in ("load", "aggregate", "decide", "render")},
        **{k: result[k] for k in keys},
        "unresolved": result["unresolved"],
    }


def generate_row(run: Run, events: int) -> dict[str, Any]:
    result = run.result
    return {
        **_rates(run, events, result["principals"]),
        "phases": {k: round(result[k], 3) for k in ("aggregate", "derive")},
        **{k: result[k] for k in ("principals", "documents", "rows")},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=EVENTS, help=f"events in the archive (default {EVENTS:,})"
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=ACCOUNTS,
        help=f"accounts, about 15 principals each (default {ACCOUNTS})",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement; the best counts (default 3)"
    )
    parser.add_argument(
        "--principals",
        type=int,
        default=0,
        help="check only this many principals, spread over the accounts (default: every one)",
    )
    parser.add_argument("--profile", action="store_true", help="add one profiled run of the check")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    path, totals = archive(
        "check", events=args.events, file_minutes=60, **{**ARCHIVE, "accounts": args.accounts}
    )
    warehouse, ingest_seconds = warehouse_for(path)
    folder, mapping, commit_seconds = committed(warehouse)
    mapping, everyone = subset(mapping, args.principals)
    warm(warehouse)
    warm(folder)
    events = int(totals["events"])
    inputs = (str(mapping), str(warehouse))
    whom = "every principal" if everyone else f"{args.principals} principals"
    began = time.perf_counter()
    checked = best(f"check, {whom}", CHECK, args.repeat, *inputs, "")
    baseline = best(
        f"generate, {whom} (baseline)",
        GENERATE,
        args.repeat,
        str(warehouse),
        "" if everyone else str(mapping),
    )
    payload: dict[str, Any] = {
        "benchmark": "check",
        "events": events,
        "accounts": args.accounts,
        "principals": checked.result["principals"],
        "ingest_seconds": None if ingest_seconds is None else round(ingest_seconds, 1),
        "commit_seconds": None if commit_seconds is None else round(commit_seconds, 1),
        "runs": [check_row(checked, events), generate_row(baseline, events)],
        "check_over_generate": round(checked.seconds / baseline.seconds, 3),
    }
    if args.profile:
        profiled = run_python("check under cProfile", CHECK, *inputs, "profile")
        payload["profile"] = {"seconds": round(profiled.seconds, 3), "top": profiled.result["top"]}
    payload["wall_seconds"] = round(time.perf_counter() - began, 1)
    write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
