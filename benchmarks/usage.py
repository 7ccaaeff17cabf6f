"""The usage aggregation over the warehouse against DuckDB reading the raw ``.json.gz`` archive.

    python -m benchmarks.usage [--events N] [--file-minutes M] [--json out.json]

The question is saved query ``usage``: principal x IAM action x resource, with calls, denied calls and
first/last seen. Both sides answer it with the *same SQL text* and the same derived views
(:mod:`trailsmith.sql.views`); only ``events`` differs:

- warehouse: ``trailsmith.run_saved("usage", warehouse)``: deduplicated, typed, partitioned Parquet;
- raw: ``events`` is a view over DuckDB's ``read_json`` of every log file, tuned as the project's reference
  measured best (only the needed columns declared, ``records=true``, ``preserve_insertion_order=false``),
  with the policy holder computed in SQL and duplicate deliveries dropped by eventID, since the answer
  must not count a call twice.

Each side runs in a fresh process on a warm page cache, in the same run, and the two answers are compared
row for row (``same_answer``). Reported: both times, ``ratio`` = raw / warehouse (target >= 10 at >= 10M
events), and the one-off ingest time that buys the speed.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import ARCHIVE, archive, run_python, warm, write_json

WAREHOUSE = """
import hashlib, io, json, sys, time
import pyarrow.csv
import trailsmith
began = time.perf_counter()
table = trailsmith.run_saved("usage", sys.argv[1])
seconds = time.perf_counter() - began
ordered = table.sort_by([(n, "ascending") for n in ("principalArn", "action", "resource")])
buffer = io.BytesIO()
pyarrow.csv.write_csv(ordered, buffer)
digest = hashlib.sha256(buffer.getvalue()).hexdigest()
print(json.dumps({"seconds": seconds, "rows": table.num_rows, "calls": sum(table.column("calls").to_pylist()),
                  "digest": digest}))
"""

RAW = """
import glob, hashlib, io, json, sys, time
import duckdb, pyarrow.csv
from trailsmith.sql import saved
from trailsmith.sql import views

RECORD = '''STRUCT(
    eventID VARCHAR, eventTime VARCHAR, eventSource VARCHAR, eventName VARCHAR, awsRegion VARCHAR,
    errorCode VARCHAR, eventType VARCHAR, recipientAccountId VARCHAR, requestParameters JSON,
    userIdentity STRUCT(type VARCHAR, arn VARCHAR, accountId VARCHAR, accessKeyId VARCHAR,
                        sessionContext STRUCT(sessionIssuer STRUCT(arn VARCHAR))),
    resources STRUCT(ARN VARCHAR, accountId VARCHAR, type VARCHAR, ARNPrefix VARCHAR)[]
)[]'''

began = time.perf_counter()
files = sorted(f for f in glob.glob(sys.argv[1] + "/**/CloudTrail/**/*.json.gz", recursive=True))
connection = duckdb.connect(config={"preserve_insertion_order": False})
connection.execute("SET TimeZone = 'UTC'")
file_list = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
connection.execute(f'''
CREATE VIEW raw AS
SELECT unnest(Records) AS r
FROM read_json({file_list}, columns = {{'Records': '{RECORD}'}}, records = true, format = 'auto',
               compression = 'gzip', maximum_object_size = 268435456)
''')
connection.execute('''
CREATE VIEW events AS
SELECT DISTINCT ON (r.eventID)
    CAST(r.eventTime AS TIMESTAMPTZ) AS eventTime,
    CAST(CAST(r.eventTime AS TIMESTAMPTZ) AS DATE) AS eventDate,
    CASE r.userIdentity.type
        WHEN 'AssumedRole' THEN r.userIdentity.sessionContext.sessionIssuer.arn
        WHEN 'IAMUser' THEN r.userIdentity.arn
        WHEN 'Root' THEN r.userIdentity.arn
    END AS principalArn,
    struct_pack(type := r.userIdentity.type, arn := r.userIdentity.arn, accountId := r.userIdentity.accountId,
                accessKeyId := r.userIdentity.accessKeyId) AS userIdentity,
    r.recipientAccountId, r.awsRegion, r.eventSource, r.eventName, r.errorCode,
    CAST(NULL AS VARCHAR) AS sourceIPAddress, CAST(NULL AS VARCHAR) AS userAgent, r.eventType,
    CAST(NULL AS VARCHAR) AS eventCategory, CAST(NULL AS BOOLEAN) AS readOnly,
    CAST(r.requestParameters AS VARCHAR) AS requestParameters,
    CAST(NULL AS VARCHAR) AS responseElements, CAST(NULL AS VARCHAR) AS additionalEventData,
    r.resources, r.eventID
FROM raw
''')
views.attach_derived(connection)
query = saved.load("usage")
table = connection.sql(query.sql, params=query.bind()).to_arrow_table()
seconds = time.perf_counter() - began
ordered = table.sort_by([(n, "ascending") for n in ("principalArn", "action", "resource")])
buffer = io.BytesIO()
pyarrow.csv.write_csv(ordered, buffer)
digest = hashlib.sha256(buffer.getvalue()).hexdigest()
print(json.dumps({"seconds": seconds, "rows": table.num_rows, "calls": sum(table.column("calls").to_pylist()),
                  "digest": digest, "files": len(files)}))
"""

INGEST = """
import json, sys, time
import trailsmith
if __name__ == "__main__":
    began = time.perf_counter()
    report = trailsmith.ingest([sys.argv[1]], sys.argv[2])
    print(json.dumps({"seconds": time.perf_counter() - began, "events_new": report.events_new,
                      "events_read": report.events_read, "files": report.files_read}))
"""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events in the archive (default 1,000,000)"
    )
    parser.add_argument(
        "--file-minutes", type=int, default=60, help="minutes of activity per log file (default 60)"
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    path, totals = archive("usage", events=args.events, file_minutes=args.file_minutes, **ARCHIVE)
    json_bytes = warm(path)
    target = Path(tempfile.mkdtemp(prefix="trailsmith-usage-"))
    try:
        ingest = run_python("ingest (one-off)", INGEST, str(path), str(target / "wh"))
        warm(target / "wh")
        warehouse = run_python("usage over the warehouse", WAREHOUSE, str(target / "wh"))
        raw = run_python("usage over raw .json.gz (DuckDB read_json)", RAW, str(path))
    finally:
        shutil.rmtree(target, ignore_errors=True)
    results = {
        "benchmark": "usage",
        "events": totals.get("events", args.events),
        "files": raw.result["files"],
        "gzip_bytes": json_bytes,
        "ingest_seconds": round(ingest.seconds, 3),
        "warehouse_seconds": round(warehouse.seconds, 3),
        "warehouse_peak_rss_mb": round(warehouse.peak_rss_mb, 1),
        "raw_seconds": round(raw.seconds, 3),
        "raw_peak_rss_mb": round(raw.peak_rss_mb, 1),
        "ratio": round(raw.seconds / warehouse.seconds, 1),
        "ratio_against": "DuckDB read_json over the raw archive, same SQL, same run",
        "rows": warehouse.result["rows"],
        "same_answer": warehouse.result["digest"] == raw.result["digest"],
    }
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
