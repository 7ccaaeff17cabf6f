"""``trailsmith query``: saved queries, one per question analysts ask."""

from __future__ import annotations

from pathlib import Path

import typer

from trailsmith.cli import options
from trailsmith.cli.app import app
from trailsmith.cli.output import Format, FormatOption, OutOption, resolve
from trailsmith.cli.sql import Bounds, ParamOption, run
from trailsmith.engines import Engine, backend, saved_sql
from trailsmith.errors import QueryError
from trailsmith.sql import saved
from trailsmith.sql.params import parse_assignment


@app.command("query")
def query_command(
    name: str | None = typer.Argument(None, help="Saved query to run (see --list).", show_default=False),
    list_: bool = typer.Option(
        False, "--list", "-l", help="List the saved queries: name, then what it answers."
    ),
    show: bool = typer.Option(
        False, "--show", help="Print the saved query's SQL, header included, instead of running it."
    ),
    warehouse: Path | None = options.Warehouse,
    fmt: Format | None = FormatOption,
    params: list[str] = ParamOption,
    out: Path | None = OutOption,
    engine: Engine = options.EngineOption,
    spark_master: str = options.SparkMasterOption,
    timeout: float = options.Timeout,
    memory_limit: str | None = options.MemoryLimit,
) -> None:
    """Run a saved query: a named question with documented parameters and columns.

    Parameters take the types their query declares (dates, integers, lists as a,b,c); any not given keep
    their defaults, which the header of each query shows (--show). With --engine spark the query runs on
    Spark, translated from DuckDB's dialect (or its hand-written Spark variant; --show prints it).

    \b
    Examples:
      trailsmith query --list
      trailsmith query denied_calls --param start=2024-08-01 --format json
      trailsmith query activity_by_region --param allowed=us-east-1,eu-west-1
      trailsmith query usage --engine spark --spark-master sc://spark-connect:15002
    """
    if list_:
        for query in saved.saved_queries():
            typer.echo(f"{query.name:<28} {query.description}")
        return
    if name is None:
        raise QueryError("which saved query?", hint="Name one; 'trailsmith query --list' shows them")
    query = saved.load(name)
    if show:
        typer.echo(backend(engine).show_saved(name))
        return
    values = query.bind({key: value for key, _, value in map(parse_assignment, params)})
    sql = saved_sql(name, engine)
    fmt = resolve(fmt, out)
    bounds = Bounds(timeout, memory_limit)
    run(sql, values, warehouse, fmt, out, engine=engine, spark_master=spark_master, bounds=bounds)
