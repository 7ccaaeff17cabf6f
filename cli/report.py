"""``trailsmith report``: one self-contained HTML page about the warehouse, to share with people."""

from __future__ import annotations

from pathlib import Path

import typer

from trailsmith.check.sources import read_mapping
from trailsmith.cli import options
from trailsmith.cli.app import app
from trailsmith.cli.output import opened
from trailsmith.cli.progress import stderr
from trailsmith.errors import TrailsmithError
from trailsmith.iam import export as iam_export
from trailsmith.report import build, render
from trailsmith.warehouse.store import Warehouse, default_path


@app.command("report")
def report_command(
    out: Path = typer.Option(
        ..., "--out", "-o", help="The HTML file to write (one file, nothing loaded from the network)."
    ),
    warehouse: Path | None = options.Warehouse,
    since: str | None = options.Since,
    until: str | None = options.Until,
    authorization_details: list[Path] = typer.Option(
        [],
        "--authorization-details",
        "-a",
        show_default=False,
        help="Output of 'aws iam get-account-authorization-details' (JSON), for the unused share and the "
        "unused permissions of each principal; repeat for more accounts.",
    ),
    policies: list[Path] = typer.Option(
        [],
        "--policies",
        show_default=False,
        help="Committed policies (files or folders, as 'trailsmith check' reads them: JSON, exports, "
        "Terraform) for each principal's drift: calls they would deny, grants nobody used. Repeatable.",
    ),
    mapping: Path | None = options.PolicyMap,
    sections: int = typer.Option(
        build.DEFAULT_DETAILED,
        "--sections",
        min=0,
        help="The most active principals that get a section of their own (chart, policy, denied calls).",
    ),
    quiet: bool = options.Quiet,
) -> None:
    """Write one HTML page about the warehouse: the archive, a sortable table of principals, and for each
    of the most active ones its activity, API calls, generated policy and denied calls (and, with
    --policies, the drift of its committed policies); cross-account access and PassRole. CSS, script and
    charts are inline: the file opens from disk, offline.

    \b
    Examples:
      trailsmith report --out report.html
      trailsmith report --since 90d -a auth.json --out report.html
      trailsmith report --policies infra/ --out report.html
    """
    protect = Warehouse(warehouse if warehouse is not None else default_path()).root
    if out.resolve().is_relative_to(protect.resolve()):
        raise TrailsmithError(
            f"--out {out} is inside the warehouse {protect}", hint="Write the report elsewhere"
        )
    details = iam_export.load(authorization_details, []) if authorization_details else None
    if details is not None:
        for problem in details.problems:
            stderr.print(f"warning: skipped {problem}", markup=False)
    gathered = build.gather(
        warehouse,
        since=since,
        until=until,
        details=details,
        detailed=sections,
        committed=policies,
        mapping=read_mapping(str(mapping)) if mapping else None,
    )
    page = render.render(gathered)
    with opened(out, "--out") as handle:
        handle.write(page)
    if not quiet:
        stderr.print(
            f"wrote {out}: {len(page):,} bytes, {gathered.principals_total:,} principals, "
            f"{gathered.archive.events:,} events",
            markup=False,
        )
