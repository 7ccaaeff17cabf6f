"""Options shared by several commands, defined once so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trailsmith.warehouse import ENV_VAR

Warehouse = typer.Option(
    None,
    "--warehouse",
    "-w",
    envvar=ENV_VAR,
    help=f"Warehouse directory [default: ./warehouse, or ${ENV_VAR}].",
    show_default=False,
)
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary on stderr.")


def warehouse_path(value: Optional[Path]) -> Optional[Path]:
    return value
