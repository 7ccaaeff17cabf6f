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
