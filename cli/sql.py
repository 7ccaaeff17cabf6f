"""``trailsmith sql``: ad-hoc SQL over the warehouse."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from trailsmith.cli import options
from trailsmith.cli.app import app
from trailsmith.cli.output import Format, FormatOption, OutOption, resolve, write_to
from trailsmith.cli.progress import stderr
from trailsmith.engines import DEFAULT_MASTER, Engine, backend
from trailsmith.errors import QueryError
from trailsmith.sql.db import DEFAULT_TIMEOUT
from trailsmith.sql.params import convert, parse_assignment
from trailsmith.warehouse.store import Warehouse, default_path

ParamOption = typer.Option(
    [],
    "--param",
    "-p",
    help="Bind $NAME in the query: NAME=VALUE, or NAME:TYPE=VALUE with TYPE one of VARCHAR "
    "(default), DATE, TIMESTAMP, INTEGER, BOOLEAN, VARCHAR[] (comma-separated). Repeat for more.",
    show_default=False,
)


@app.command("sql")
def sql_command(
    query: str | None = typer.Argument(
        None, help="The SQL; @FILE reads it from a file, - from stdin.", show_default=False
    ),
    file: Path | None = typer.Option(None, "--file", help="Read the SQL from this file.", show_default=False),
    warehouse: Path | None = options.Warehouse,
    fmt: Format | None = FormatOption,
    params: list[str] = ParamOption,
    out: Path | None = OutOption,
    engine: Engine = options.EngineOption,
    spark_master: str = options.SparkMasterOption,
    timeout: float = options.Timeout,
    memory_limit: str | None = options.MemoryLimit,
) -> None:
    """Run one read-only SQL query (DuckDB dialect; Spark SQL with --engine spark) over the warehouse.

    Rows go to stdout.

    Views: events (every column, CloudTrail names; Athena-style lower case works too), quarantine, sources;
    derived: calls (one row per API call with its IAM actions and outcome), principals, resources_touched,
    actions, resource_tags and session_tags (tags reconstructed from the trail). Filter on eventDate to skip whole days of files. Values go in as parameters: --param
    start=2024-08-01 binds $start, never pasted into the SQL. Statements that write (COPY, CREATE, ATTACH
    ...) are refused, and files outside the warehouse cannot be read.

    \b
    Examples:
      trailsmith sql "SELECT principalArn, eventName, count(*) AS calls FROM calls GROUP BY ALL ORDER BY calls DESC"
      trailsmith sql "SELECT * FROM calls WHERE eventDate >= \\$start AND outcome = 'denied'" -p start:DATE=2024-08-01
      trailsmith sql @questions/who-used-key.sql -p key=AKIAEXAMPLE --format parquet --out key.parquet
    """  # noqa: E501 - the example commands are shown whole in --help (one per line, not wrapped)
    fmt = resolve(fmt, out)
    sql, values = _read_sql(query, file), _bind(params)
    bounds = Bounds(timeout, memory_limit)
    run(sql, values, warehouse, fmt, out, engine=engine, spark_master=spark_master, bounds=bounds)


@dataclass(frozen=True)
class Bounds:
    """``--timeout`` (seconds, 0: none) and ``--memory-limit`` (None: the library's default)."""

    timeout: float = DEFAULT_TIMEOUT
    memory_limit: str | None = None


def run(
    sql: str,
    values: dict[str, Any],
    warehouse: Path | None,
    fmt: Format,
    out: Path | None,
    *,
    engine: Engine = Engine.duckdb,
    spark_master: str = DEFAULT_MASTER,
    bounds: Bounds = Bounds(),
) -> None:
    """Run ``sql`` read-only over the warehouse and stream its rows to stdout or ``out``."""
    root = warehouse if warehouse is not None else default_path()
    stream = backend(engine, spark_master=spark_master).stream(
        sql, root, values, timeout=bounds.timeout or None, memory_limit=bounds.memory_limit
    )
    with stream as reader:
        rows = write_to(reader, reader.schema, fmt, out, protect=Warehouse(root).root)
    if out is not None:
        stderr.print(f"wrote {rows:,} rows to {out}", markup=False)


def _read_sql(query: str | None, file: Path | None) -> str:
    if (query is None) == (file is None):
        raise QueryError("give the SQL once", hint="As an argument, @FILE, - for stdin, or --file FILE")
    if file is None and query is not None and query.startswith("@"):
        file = Path(query[1:])
    if file is not None:
        try:
            return _decoded(file.read_bytes(), str(file))
        except OSError as exc:
            raise QueryError(f"cannot read the SQL from {file}: {exc.strerror}") from None
    return _decoded(sys.stdin.buffer.read(), "stdin") if query == "-" else str(query)


def _decoded(data: bytes, source: str) -> str:
    """``data`` as UTF-8 text (without the byte order mark some editors write), or one line naming
    ``source`` and the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QueryError(
            f"the SQL in {source} is not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}",
            hint="Save it as UTF-8 (iconv -t UTF-8)",
        ) from None


def _bind(assignments: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for assignment in assignments:
        name, kind, value = parse_assignment(assignment)
        values[name] = convert(name, kind, value)
    return values
