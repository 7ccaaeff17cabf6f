"""Options shared by several commands, defined once so they read the same everywhere."""

from __future__ import annotations

import typer

from trailsmith.engines import DEFAULT_MASTER, Engine
from trailsmith.sql.db import DEFAULT_TIMEOUT
from trailsmith.warehouse.store import ENV_VAR

Warehouse = typer.Option(
    None,
    "--warehouse",
    "-w",
    envvar=ENV_VAR,
    help=f"Warehouse directory [default: ./warehouse, or ${ENV_VAR}].",
    show_default=False,
)
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary on stderr.")
EngineOption = typer.Option(
    Engine.duckdb,
    "--engine",
    help="Engine that does the work: duckdb (this machine) or spark (needs trailsmith[spark]).",
)
SparkMasterOption = typer.Option(
    DEFAULT_MASTER,
    "--spark-master",
    help="With --engine spark: the Spark master (local[N], spark://HOST:7077, yarn ...) "
    "or a Spark Connect sc://HOST:15002 URL.",
)
Timeout = typer.Option(
    DEFAULT_TIMEOUT,
    "--timeout",
    min=0,
    metavar="SECONDS",
    help="Stop the query after this many seconds; 0: no limit. DuckDB only (a Spark job is bounded by "
    "the cluster).",
)
MemoryLimit = typer.Option(
    None,
    "--memory-limit",
    metavar="SIZE",
    help="Memory the query may use, in DuckDB's syntax (2GB, 512MB); sorts, joins and aggregations spill "
    "to a private temporary directory beyond it [default: half the memory, at most 4GiB]. DuckDB only.",
    show_default=False,
)
Since = typer.Option(
    None, "--since", show_default=False, help="Start: 2024-08-01, 2024-08-01T12:00:00Z or 90d (ago)."
)
Until = typer.Option(None, "--until", help="End, inclusive for a date: 2024-08-31.", show_default=False)
#: which principal each policy source is for (``check``, ``report --policies``)
PolicyMap = typer.Option(
    None,
    "--map",
    show_default=False,
    help='JSON: which principal each policy source is for, {"policies/app.json": "arn:aws:iam::1:role/app", '
    '"aws_iam_policy.x": [ARN, ...]}; keys are files, globs or Terraform addresses.',
)
