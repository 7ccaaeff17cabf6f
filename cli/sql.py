"""``trailsmith sql``: ad-hoc SQL over the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import duckdb
import typer

from trailsmith.cli import options
from trailsmith.cli.app import app
from trailsmith.cli.output import Format, resolve, write
from trailsmith.db import connect
from trailsmith.errors import QueryError


@app.command("sql")
def sql_command(
    query: str = typer.Argument(..., help="A DuckDB SQL query over the views events, quarantine and sources."),
    warehouse: Optional[Path] = options.Warehouse,
    fmt: Optional[Format] = typer.Option(None, "--format", "-f", help="Output format [default: table on a terminal, csv in a pipe]."),
) -> None:
    """Run SQL over the warehouse; rows go to stdout.

    Example: trailsmith sql "SELECT principalArn, eventName, count(*) AS calls FROM events GROUP BY ALL ORDER BY calls DESC"
    """
    connection = connect(warehouse)
    try:
        reader = connection.sql(query).to_arrow_reader(64 * 1024)
    except duckdb.Error as exc:
        raise QueryError(str(exc).splitlines()[0]) from None
    write(reader, reader.schema, resolve(fmt))
