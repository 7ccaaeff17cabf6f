"""``trailsmith schema``: the warehouse's columns, their types and what they mean."""

from __future__ import annotations

import pyarrow as pa
import typer

from trailsmith.cli.app import app
from trailsmith.cli.output import Format, resolve, write
from trailsmith.warehouse.schema import describe


@app.command("schema")
def schema_command(
    fmt: Format | None = typer.Option(
        None,
        "--format",
        "-f",
        help="table, csv, json or ndjson [default: table on a terminal, csv in a pipe].",
    ),
) -> None:
    """List the columns of the 'events' view: name, type and meaning.

    The names are CloudTrail's own (DuckDB also accepts Athena-style lower case), plus principalArn,
    sourceFile, extraFields and the partition column eventDate.

    Example: trailsmith schema --format csv
    """
    rows = describe()
    table = pa.table(
        {"column": [r[0] for r in rows], "type": [r[1] for r in rows], "description": [r[2] for r in rows]}
    )
    write(table.to_batches(), table.schema, resolve(fmt))
