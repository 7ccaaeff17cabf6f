"""``trailsmith synth``: write a seeded synthetic CloudTrail archive and, optionally, its ground truth."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import typer

from trailsmith.cli.app import app
from trailsmith.cli.options import Quiet
from trailsmith.cli.progress import enabled, stderr
from trailsmith.synth import PRESETS, ProgressCallback, SynthConfig, SynthConfigError, SynthProgress, generate
from trailsmith.synth.config import parse_regions, parse_start

_DEFAULTS = {name: f.default for name, f in SynthConfig.__dataclass_fields__.items()}


def _default(name: str) -> str:
    value = _DEFAULTS[name]
    return ",".join(value) if isinstance(value, tuple) else str(value)


@app.command()
def synth(
    out: Path = typer.Argument(
        ...,
        help="Directory to create the archive in (AWSLogs/o-<org>/<account>/CloudTrail/... "
        "and CloudTrail-Digest/...). Must be new or empty unless --force.",
    ),
    preset: str | None = typer.Option(
        None,
        help=f"Start from a named configuration ({', '.join(PRESETS)}); 'sample' "
        "is what data/sample/ is made of. Options given too override it.",
    ),
    seed: int | None = typer.Option(
        None,
        help=f"Random seed: the same options and seed give byte-identical files "
        f"[default: {_default('seed')}].",
    ),
    accounts: int | None = typer.Option(
        None,
        help=f"Accounts in the organization; the first id starts with 0 [default: {_default('accounts')}].",
    ),
    regions: str | None = typer.Option(
        None,
        help="Comma-separated regions; IAM and sign-in events only appear in "
        f"us-east-1 [default: {_default('regions')}].",
    ),
    start: str | None = typer.Option(
        None, help=f"First day of activity, YYYY-MM-DD (UTC) [default: {_default('start')}]."
    ),
    days: int | None = typer.Option(None, help=f"Days of activity [default: {_default('days')}]."),
    events: int | None = typer.Option(
        None, help=f"Distinct events in the whole archive [default: {_default('events')}]."
    ),
    file_minutes: int | None = typer.Option(
        None,
        help="Minutes of activity per log file, a divisor of 1440; CloudTrail "
        f"uses about 5, larger gives fewer, bigger files [default: {_default('file_minutes')}].",
    ),
    duplicates: float | None = typer.Option(
        None,
        help="Share of log files delivered twice under another name, as "
        f"CloudTrail sometimes does [default: {_default('duplicates')}].",
    ),
    workers: int | None = typer.Option(
        None,
        help="Processes to generate with, 0 for one per CPU; the files do not "
        f"depend on it [default: {_default('workers')}].",
    ),
    truth: Path | None = typer.Option(
        None,
        help="Also write the ground truth (per policy holder: IAM actions and "
        "resources used, denied, roles passed, event counts) as JSON to this file, "
        "outside OUT.",
    ),
    force: bool = typer.Option(False, "--force", help="Write into OUT even if it is not empty."),
    quiet: bool = Quiet,
) -> None:
    """Generate a synthetic CloudTrail archive in the real S3 export layout, seeded and reproducible.

    Several accounts and regions; assumed-role, SSO, IAM-user, root and AWS-service callers; data and
    management events; denied and throttled calls; duplicate deliveries; hourly digests. The --truth file
    says what each role, user and root needed, for checking policies generated from the archive.

    \b
    Examples:
      trailsmith synth sample/ --preset sample --truth sample-truth.json
      trailsmith synth big/ --events 5000000 --days 30 --workers 0 --truth big-truth.json
    """
    if preset is not None and preset not in PRESETS:
        raise SynthConfigError(
            "--preset", f"unknown preset {preset!r}", hint=f"Use one of: {', '.join(PRESETS)}"
        )
    base = PRESETS[preset]() if preset else SynthConfig()
    config = base.replace(
        seed=seed,
        accounts=accounts,
        regions=None if regions is None else parse_regions(regions),
        start=None if start is None else parse_start(start),
        days=days,
        events=events,
        file_minutes=file_minutes,
        duplicates=duplicates,
        workers=(os.cpu_count() or 1) if workers == 0 else workers,
    )
    with _progress(quiet) as callback:
        report = generate(out, config, truth=truth, force=force, progress=callback)
    if not quiet:
        typer.echo(f"synth: {report.summary()} -> {out}", err=True)


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[ProgressCallback | None]:
    """A progress bar counting events, on stderr, when it is a terminal and --quiet is not given."""
    if not enabled(quiet):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("synth"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task("synth", total=None)

        def update(state: SynthProgress) -> None:
            bar.update(task, completed=state.events_done, total=state.events_total)

        yield update
