"""``trailsmith verify``: check every file of the warehouse, and with --repair set the damaged ones aside."""

from __future__ import annotations

import enum
import json
from dataclasses import asdict
from pathlib import Path

import typer

from trailsmith.cli import options
from trailsmith.cli.app import app
from trailsmith.warehouse.store import default_path
from trailsmith.warehouse.verify import Report, repair, verify


class VerifyFormat(str, enum.Enum):
    text = "text"
    json = "json"


@app.command("verify")
def verify_command(
    warehouse: Path | None = options.Warehouse,
    fix: bool = typer.Option(
        False,
        "--repair",
        help="Move damaged files to _trailsmith/damaged/, commit a snapshot without them, and forget the "
        "source files their events may have come from, so that the next ingest of the same sources reads "
        "them again.",
    ),
    fmt: VerifyFormat = typer.Option(VerifyFormat.text, "--format", "-f", help="text or json."),
) -> None:
    """Check every file the latest snapshot names: inside the warehouse, present, with the size and
    SHA-256 its commit recorded, readable Parquet of the expected schema.

    Prints each damaged file and what is wrong with it; exits 0 when the warehouse is healthy (or was
    repaired), 1 when damage was found.

    \b
    Examples:
      trailsmith verify --warehouse wh
      trailsmith verify --warehouse wh --repair
    """
    root = warehouse if warehouse is not None else default_path()
    report = repair(root) if fix else verify(root)
    typer.echo(
        json.dumps(asdict(report) | {"healthy": report.healthy})
        if fmt is VerifyFormat.json
        else _text(report)
    )
    if not report.healthy:
        raise typer.Exit(1)


def _text(report: Report) -> str:
    lines = [
        f"damaged: {d.path}: {d.problem}" + (f" ({d.rows} rows)" if d.rows else "") for d in report.damage
    ]
    lines += [f"set aside: {path}" for path in report.set_aside]
    lines += [f"left in place: {note}" for note in report.left]
    if report.rolled_back_to is not None:
        lines.append(
            f"rolled back to snapshot {report.rolled_back_to:08d}: the next ingest of the same sources reads "
            "again the source files of the commits set aside"
        )
    if report.repaired_version is not None:
        lines.append(
            f"repaired: snapshot {report.repaired_version:08d} leaves the damaged files out "
            f"({report.rows_lost} events)"
        )
        if report.forgotten:
            lines.append(
                f"{report.forgotten} source files that may hold those events are forgotten: run the same "
                "'trailsmith ingest' again to read them and bring the events back (those still stored are "
                "not duplicated)"
            )
        kinds = {d.kind for d in report.damage}
        if "sources" in kinds:
            lines.append("the next ingest reads again the source files the dropped sources parts listed")
        if "quarantine" in kinds:
            lines.append(
                "the dropped quarantine parts' entries are lost (whole files' bytes stay in quarantine/files)"
            )
    state = "healthy" if not report.damage else "repaired" if report.repaired else "damaged"
    lines.append(
        f"warehouse {report.warehouse}: snapshot {report.version:08d}, {report.checked} files checked "
        f"({report.unverified} without a recorded checksum, read in full), "
        f"{len(report.damage)} damaged: {state}"
    )
    return "\n".join(lines)
