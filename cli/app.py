"""The ``trailsmith`` command: a thin typer layer over the ``trailsmith`` library.

Each command lives in a module of its own topic and registers itself on ``app``; this module only builds
the app and turns library errors into one clear line on stderr with a non-zero exit code.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from typing import Any

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
COMMAND_MODULES = (
    "ingest",
    "sql",
    "query",
    "policy",
    "unused",
    "check",
    "report",
    "schema",
    "synth",
    "verify",
)


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"trailsmith.cli.{name}")


#: Set (to anything but empty or 0) to get the traceback of an unexpected error instead of one line.
DEBUG_VARIABLE = "TRAILSMITH_DEBUG"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``trailsmith`` console script.

    Errors end as one line on stderr and a non-zero exit code: trailsmith's own (:class:`TrailsmithError`,
    with their hint), mistakes on the command line (exit code 2), and, as a last line of defence, whatever
    else escaped: a file system error names its path, anything unexpected says how to get its traceback
    (``TRAILSMITH_DEBUG=1``). A reader of stdout that goes away (``| head``) is not an error: trailsmith
    stops quietly.
    """
    _register()
    try:
        code = app(args=argv, standalone_mode=False)
    except _USAGE_ERROR as exc:
        _usage(exc)
    except _CLICK_EXCEPTION as exc:
        _fail(exc.format_message(), exc.exit_code)  # type: ignore[attr-defined]
    except TrailsmithError as exc:
        _fail(str(exc), exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("trailsmith: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        _stop_quietly()
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename is not None else ""
        _fail(f"{where}{exc.strerror or exc}", 1)
    except Exception as exc:  # the last line of defence: one line, the traceback on request
        if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
            raise
        _fail(f"{_unexpected(exc)} (run with {DEBUG_VARIABLE}=1 for the traceback)", 1)
    if isinstance(code, int) and code:
        sys.exit(code)


def _click_class(name: str) -> type[Exception]:
    """click's exception class ``name`` as typer raises it: typer vendors click since 0.2x, used it before."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


_USAGE_ERROR = _click_class("UsageError")
_CLICK_EXCEPTION = _click_class("ClickException")


def _usage(error: Any) -> None:
    """A mistake on the command line: one line and exit code 2; no arguments at all: the help."""
    if type(error).__name__ == "NoArgsIsHelpError":
        error.show()
        sys.exit(error.exit_code)
    where = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
    _fail(f"{error.format_message()}{where}", error.exit_code)


def _fail(message: str, code: int) -> None:
    typer.echo(f"trailsmith: error: {' '.join(message.split())}", err=True)
    sys.exit(code)


def _unexpected(error: Exception) -> str:
    """An error nobody raised on purpose, as one line: DuckDB's own message, else its type and message."""
    import duckdb

    if isinstance(error, duckdb.Error):
        return str(error)
    return f"unexpected {type(error).__name__}: {error}"


def _stop_quietly() -> None:
    """Stdout's reader went away: exit 1 without a word, also when Python flushes stdout at exit."""
    with contextlib.suppress(OSError):  # no descriptor (an embedding host): nothing will be flushed to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(1)
