"""The ``trailsmith`` command: a thin typer layer over the ``trailsmith`` library.

Each command lives in a module of its own topic and registers itself on ``app``; this module only builds
the app and turns library errors into one clear line on stderr with a non-zero exit code.
"""

from __future__ import annotations

import importlib
import sys

import typer

from trailsmith._version import __version__
from trailsmith.errors import TrailsmithError

app = typer.Typer(
    name="trailsmith",
    help="Offline analytics for AWS CloudTrail archives: ingest gzipped CloudTrail JSON into a Parquet "
    "warehouse, query it with SQL, "
    "and generate least-privilege IAM policies from what principals really did.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trailsmith {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Offline analytics for AWS CloudTrail archives."""


#: Command modules, by topic; importing one registers its commands on ``app``.
COMMAND_MODULES = ("ingest", "sql", "query", "policy", "unused", "schema", "synth")


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"trailsmith.cli.{name}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``trailsmith`` console script."""
    _register()
    try:
        app(args=argv, standalone_mode=True)
    except TrailsmithError as exc:
        typer.echo(f"trailsmith: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("trailsmith: interrupted", err=True)
        sys.exit(130)
