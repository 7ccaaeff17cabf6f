"""Ingest speed and memory against the floor and against DuckDB, on the same files, in the same run.

    python -m benchmarks.ingest [--events N] [--repeat R] [--stages] [--json out.json]

Two archives of the same events: few large files (one per account, region and day) and many small ones
(5-minute files, as CloudTrail delivers). For each, each in a fresh process on a warm page cache:

- the floor: ISA-L gunzip + ``orjson.loads`` of every file, one process, nothing else, with Python's
  cyclic garbage collector off as in trailsmith's workers (on large files the collector alone makes the
  floor about 1.5x slower: measured 57k against 88k events/s; ``FLOOR`` takes a number of processes as its
  second argument, for floors of parallel runs);
- DuckDB's own way: ``read_json`` over the same files, tuned as the project's reference measured best
  (every CloudTrail field declared, JSON blobs as JSON, ``records=true``, ``preserve_insertion_order=false``,
  ``maximum_object_size`` raised only for archives with files over DuckDB's 16 MB default: DuckDB allocates
  that much per file), copied to one zstd Parquet file, with 1 and 2 threads (no deduplication: it does
  less work than trailsmith);
- trailsmith's whole ingest (deduplicated, partitioned Parquet, snapshot commit) with 1 and 2 workers.

With ``python -m benchmarks.ingest`` (not in the whole suite), also trailsmith's ingest with 1 worker and the
compiled decoder disabled (``TRAILSMITH_NO_CEXT=1``: every file read by the Python decoder), against the floor
and against the same ingest with the compiled decoder (``ratio_compiled_decoder``); ``--no-python-path``
leaves it out. Each row gives ``us_per_event`` and, for trailsmith's runs, ``files_by_decoder``.

Each is run ``--repeat`` times, in turns, and the fastest run counts (with the highest peak memory of its
runs). Reported: events/s, MB/s of JSON, peak memory of the process tree, and ratios: ingest(1 worker)
against the floor (target >= 1.0) and against DuckDB (1 thread), ingest(2) against ingest(1) (target >= 1.8)
and against DuckDB (2 threads). With ``--stages``, also where one worker's time goes, stage by stage.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import ARCHIVE, Run, archive, fastest, run_python, warm, write_json

FLOOR = """
import gc, glob, json, multiprocessing, sys, time, orjson
from concurrent.futures import ProcessPoolExecutor
from isal import igzip

def count(names):
    # parsed JSON holds no cycles: the collector would only burn time (so trailsmith turns it off)
    gc.disable()
    events = 0
    for name in names:
        with open(name, "rb") as handle:
            events += len(orjson.loads(igzip.decompress(handle.read()))["Records"])
    return events

if __name__ == "__main__":
    files = sorted(f for f in glob.glob(sys.argv[1] + "/**/CloudTrail/**/*.json.gz", recursive=True))
    processes = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    began = time.perf_counter()
    if processes == 1:
        events = count(files)
    else:
        chunks = [files[i : i + 256] for i in range(0, len(files), 256)]
        # fork: the workers need count(), defined in this -c script (spawn could not import it)
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
            events = sum(pool.map(count, chunks))
    print(json.dumps({"seconds": time.perf_counter() - began, "events_read": events, "files": len(files)}))
"""

DUCKDB = """
import glob, json, sys, time
import duckdb
ISSUER = "STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, userName VARCHAR)"
RECORD = ("STRUCT(eventVersion VARCHAR, userIdentity STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, "
    "accountId VARCHAR, accessKeyId VARCHAR, userName VARCHAR, invokedBy VARCHAR, sessionContext STRUCT("
    "attributes STRUCT(creationDate VARCHAR, mfaAuthenticated VARCHAR), sessionIssuer " + ISSUER + ", "
    "webIdFederationData JSON, sourceIdentity VARCHAR)), eventTime TIMESTAMPTZ, eventSource VARCHAR, "
    "eventName VARCHAR, awsRegion VARCHAR, sourceIPAddress VARCHAR, userAgent VARCHAR, errorCode VARCHAR, "
    "errorMessage VARCHAR, requestParameters JSON, responseElements JSON, additionalEventData JSON, "
    "requestID VARCHAR, eventID VARCHAR, readOnly BOOLEAN, resources STRUCT(ARN VARCHAR, accountId VARCHAR, "
    "type VARCHAR, ARNPrefix VARCHAR)[], eventType VARCHAR, apiVersion VARCHAR, managementEvent BOOLEAN, "
    "recipientAccountId VARCHAR, serviceEventDetails JSON, sharedEventID VARCHAR, vpcEndpointId VARCHAR, "
    "eventCategory VARCHAR, tlsDetails STRUCT(tlsVersion VARCHAR, cipherSuite VARCHAR, "
    "clientProvidedHostHeader VARCHAR), sessionCredentialFromConsole VARCHAR)[]")
files = sorted(f for f in glob.glob(sys.argv[1] + "/**/CloudTrail/**/*.json.gz", recursive=True))
connection = duckdb.connect(config={"threads": int(sys.argv[3]), "preserve_insertion_order": False})
began = time.perf_counter()
connection.execute(
    "COPY (SELECT unnest(Records, recursive := false) AS r FROM read_json($files, columns = {'Records': '"
    + RECORD + "'}, records = true, format = 'auto', compression = 'gzip', maximum_object_size = "
    + sys.argv[4] + ")) "
    "TO '" + sys.argv[2] + "' (FORMAT parquet, COMPRESSION zstd)",
    {"files": files},
)
seconds = time.perf_counter() - began
events = connection.execute("SELECT count(*) FROM read_parquet('" + sys.argv[2] + "')").fetchone()[0]
print(json.dumps({"seconds": seconds, "events_read": events, "files": len(files)}))
"""

INGEST = """
import json, os, sys, time
if sys.argv[4:] == ["python"]:  # before trailsmith is imported; the workers inherit it
    os.environ["TRAILSMITH_NO_CEXT"] = "1"
import trailsmith
if __name__ == "__main__":
    began = time.perf_counter()
    report = trailsmith.ingest([sys.argv[1]], sys.argv[2], workers=int(sys.argv[3]))
    print(json.dumps({"seconds": time.perf_counter() - began, "events_read": report.events_read,
                      "events_new": report.events_new, "files": report.files_read,
                      "files_by_decoder": report.files_by_decoder}))
"""


#: One worker's ingest (in this process) under cProfile; where its time goes, by stage (cumulative seconds of
#: the functions that do each stage's work; the profiler adds a few percent, mostly to the Python parts).
BUDGET = """
import cProfile, json, pstats, sys, time
import trailsmith
STAGES = {
    "list the files": ("driver.py", "new_files"),
    "read the files": ("sources.py", "read"),
    "gunzip": ("decode.py", "decompress"),
    "parse (compiled decoder)": ("compiled.py", "add"),
    "parse (Python decoder)": ("decode.py", "decode_text_pieces"),
    "to Arrow (+ principalArn)": ("compiled.py", "take"),
    "to Arrow (Python decoder)": ("arrowize.py", "to_batch"),
    "leave out copies read before": ("copies.py", "keep"),
    "Parquet encode and write (rewrites included)": ("parquet/core.py", "write_table"),
    "deduplicate (DuckDB)": ("commit.py", "duplicates"),
    "commit (move, checksum, snapshot)": ("commit.py", "commit"),
}
if __name__ == "__main__":
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    report = trailsmith.ingest([sys.argv[1]], sys.argv[2], workers=1)
    profile.disable()
    seconds = time.perf_counter() - began
    stats = pstats.Stats(profile).stats
    stages = {}
    for stage, (file, function) in STAGES.items():
        found = [v[3] for (f, _, name), v in stats.items() if f.endswith(file) and name == function]
        stages[stage] = sum(found)
    per_event = {k: round(v / report.events_read * 1e6, 3) for k, v in stages.items() if v}
    per_event["other"] = round((seconds - sum(stages.values())) / report.events_read * 1e6, 3)
    print(json.dumps({"seconds": seconds, "events_read": report.events_read, "files": report.files_read,
                      "us_per_event_by_stage": per_event}))
"""


def budget(name: str, path: Path) -> dict[str, Any]:
    """Where one worker's time goes, by stage, in microseconds per event (see ``BUDGET``)."""
    run = in_tmp(f"{name}: stage budget, 1 worker (profiled)", BUDGET, str(path), "{out}/wh")
    return {
        "name": run.name,
        "us_per_event": round(run.seconds / run.result["events_read"] * 1e6, 2),
        "us_per_event_by_stage": run.result["us_per_event_by_stage"],
    }


def in_tmp(name: str, code: str, *args: str) -> Run:
    """Run a benchmark script whose output goes to a fresh temporary directory (first ``{out}`` arg)."""
    target = Path(tempfile.mkdtemp(prefix="trailsmith-bench-"))
    try:
        return run_python(name, code, *(a.replace("{out}", str(target)) for a in args))
    finally:
        shutil.rmtree(target, ignore_errors=True)


def measure(
    name: str, path: Path, json_bytes: int, largest_json: int, repeat: int = 1, python_path: bool = False
) -> list[dict[str, Any]]:
    """Every run of one archive, each the fastest of ``repeat`` (taken in turns, so that a noisy minute
    slows one round of every contender rather than all the runs of one); the rows carry their ratios.

    ``python_path``: also one worker with the compiled decoder disabled (every file read by the Python
    decoder), against the floor and against the compiled decoder's run.
    """
    warm(path)
    object_size = str(max(16 * 1024 * 1024, 2 * largest_json))
    contenders = {
        "floor": lambda: run_python(f"{name}: gunzip+orjson.loads", FLOOR, str(path)),
        **{
            f"duckdb {t}": lambda t=t: in_tmp(
                f"{name}: duckdb read_json -> parquet, {t} thread(s)",
                DUCKDB,
                str(path),
                "{out}/out.parquet",
                str(t),
                object_size,
            )
            for t in (1, 2)
        },
        **{
            f"ours {w}": lambda w=w: in_tmp(
                f"{name}: trailsmith ingest, {w} worker(s)", INGEST, str(path), "{out}/wh", str(w)
            )
            for w in (1, 2)
        },
    }
    if python_path:
        contenders["python 1"] = lambda: in_tmp(
            f"{name}: trailsmith ingest without the compiled decoder, 1 worker(s)",
            INGEST,
            str(path),
            "{out}/wh",
            "1",
            "python",
        )
    runs: dict[str, list[Run]] = {key: [] for key in contenders}
    for _ in range(repeat):
        for key, start in contenders.items():
            runs[key].append(start())
    floor = fastest(runs["floor"])
    duck = {t: fastest(runs[f"duckdb {t}"]) for t in (1, 2)}
    ours = {w: fastest(runs[f"ours {w}"]) for w in (1, 2)}
    rows = [
        _row(floor, json_bytes),
        *(_row(duck[t], json_bytes) for t in (1, 2)),
        *(_row(ours[w], json_bytes) for w in (1, 2)),
    ]
    rows[3].update(
        baseline=floor.name,
        ratio=round(floor.seconds / ours[1].seconds, 3),
        ratio_duckdb_1_thread=round(duck[1].seconds / ours[1].seconds, 3),
    )
    rows[4].update(
        baseline=ours[1].name,
        ratio=round(ours[1].seconds / ours[2].seconds, 3),
        ratio_duckdb_2_threads=round(duck[2].seconds / ours[2].seconds, 3),
    )
    if python_path:
        python = fastest(runs["python 1"])
        rows.append(_row(python, json_bytes))
        rows[-1].update(
            baseline=floor.name,
            ratio=round(floor.seconds / python.seconds, 3),
            ratio_compiled_decoder=round(python.seconds / ours[1].seconds, 3),
        )
    return rows


def largest_json(path: Path) -> int:
    """Uncompressed size of the largest log file (the gzip trailer holds it, modulo 4 GiB)."""
    largest = 0
    for file in path.rglob("*.json.gz"):
        with open(file, "rb") as handle:
            handle.seek(-4, 2)
            largest = max(largest, int.from_bytes(handle.read(4), "little"))
    return largest


def _row(run: Run, json_bytes: int) -> dict[str, Any]:
    events = run.result["events_read"]
    return {
        "name": run.name,
        "events": events,
        "files": run.result["files"],
        "input_mb": round(json_bytes / 1e6, 1),
        "seconds": round(run.seconds, 3),
        "events_per_s": round(events / run.seconds),
        "mb_per_s": round(json_bytes / 1e6 / run.seconds, 1),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "us_per_event": round(run.seconds / events * 1e6, 2) if events else None,
        **({"files_by_decoder": run.result["files_by_decoder"]} if "files_by_decoder" in run.result else {}),
    }


def run(
    events: int, repeat: int = 1, python_path: bool = False, stages: bool = False
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, minutes in (("few large files", 1440), ("many small files", 5)):
        path, totals = archive(f"ingest-{minutes}m", events=events, file_minutes=minutes, **ARCHIVE)
        rows.extend(measure(name, path, totals["json_bytes"], largest_json(path), repeat, python_path))
        if stages:
            rows.append(budget(name, path))
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events per archive (default 1,000,000)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per measurement, taken in turns; the fastest counts (default 3)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--stages",
        action="store_true",
        help="also profile one worker's ingest of each archive: microseconds per event by stage",
    )
    parser.add_argument(
        "--no-python-path",
        action="store_true",
        help="skip the run with the compiled decoder disabled (TRAILSMITH_NO_CEXT=1)",
    )
    args = parser.parse_args(argv)
    results = {
        "benchmark": "ingest",
        "events": args.events,
        "repeat": args.repeat,
        "rows": run(args.events, args.repeat, python_path=not args.no_python_path, stages=args.stages),
    }
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
