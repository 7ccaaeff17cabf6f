"""``trailsmith ingest``: CloudTrail files into the warehouse."""

from __future__ import annotations

import contextlib
from pathlib import Path

import orjson
import typer

from trailsmith.cli import options
from trailsmith.cli.app import app
from trailsmith.cli.progress import IngestProgress, enabled, stderr
from trailsmith.engines import Engine, ingest
from trailsmith.ingestion.driver import IngestReport

_SHOWN = 50


#: What the summary calls each input form (``DecodedFile.form``; ``--json`` keeps the short names).
FORM_NAMES = {
    "records": "S3 export",
    "array": "JSON array",
    "lines": "JSON lines",
    "object": "single event",
    "cloudwatch-subscription": "CloudWatch Logs subscription",
    "eventbridge": "EventBridge",
    "cloudwatch-export": "CloudWatch Logs export",
    "ocsf": "Security Lake OCSF",
}


@app.command("ingest")
def ingest_command(
    sources: list[str] = typer.Argument(
        ...,
        help="Files, directories (walked recursively), quoted globs, or s3://bucket/prefix.",
        show_default=False,
    ),
    warehouse: Path | None = options.Warehouse,
    workers: int | None = typer.Option(
        None, "--workers", "-j", min=1, help="Parallel workers [default: CPUs]."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Fail (exit 2) on any bad file or record instead of quarantining it."
    ),
    json_summary: bool = typer.Option(False, "--json", help="Print the run's summary as JSON on stdout."),
    quiet: bool = options.Quiet,
    engine: Engine = options.EngineOption,
    spark_master: str = options.SparkMasterOption,
) -> None:
    """Read CloudTrail logs into the Parquet warehouse, exactly once.

    Accepts S3 exports ({"Records": [...]}, gzipped or not), JSON arrays of events, JSON lines, and the
    envelopes of CloudWatch Logs subscriptions, EventBridge rules (through Firehose) and CloudWatch Logs
    exports, all recognised by content, and Amazon Security Lake's OCSF Parquet. Files already ingested are
    skipped, duplicate events (same eventID) are stored once, digest and
    Insights files are skipped, and bad files or records are quarantined with their reason (see the
    'quarantine' view).

    Example: trailsmith ingest s3://my-trail-bucket/AWSLogs/ --warehouse ./warehouse
    """
    bar = IngestProgress() if enabled(quiet) else None
    with bar if bar is not None else contextlib.nullcontext():
        report = ingest(
            sources,
            warehouse,
            engine=engine,
            spark_master=spark_master,
            workers=workers,
            strict=strict,
            progress=bar,
        )
    if json_summary:
        typer.echo(
            orjson.dumps(
                report.__dict__ | {"quarantined": report.quarantined}, option=orjson.OPT_INDENT_2
            ).decode()
        )
    if not quiet:
        _summary(report)


def _summary(report: IngestReport) -> None:
    skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(report.skipped.items())) or "none"
    stderr.print(
        f"ingested {report.files_read:,} files ({report.bytes_read / 1e6:,.1f} MB) into {report.warehouse} "
        f"in {report.seconds:.1f}s: {report.events_new:,} new events, {report.events_duplicate:,} "
        f"duplicates; {report.files_already_ingested:,} files already ingested; skipped: {skipped}; "
        f"quarantined: {len(report.quarantined_files):,} files, {len(report.quarantined_records):,} records"
    )
    if report.events_by_form:
        forms = ", ".join(
            f"{n:,} {FORM_NAMES.get(form, form)}" for form, n in sorted(report.events_by_form.items())
        )
        stderr.print(f"events read by input form: {forms}")
    if report.files_by_decoder:
        decoders = ", ".join(f"{n:,} {name}" for name, n in sorted(report.files_by_decoder.items()))
        stderr.print(f"files decoded by: {decoders}")
    if report.time_from_timestamp:
        stderr.print(
            f"note: {report.time_from_timestamp:,} records had no eventTime; "
            "it was taken from their '@timestamp'"
        )
    if report.not_carried:
        stderr.print(
            f"note: Security Lake OCSF input does not carry {', '.join(report.not_carried)}; left empty"
        )
    if report.insight_records:
        stderr.print(
            f"note: {report.insight_records:,} CloudTrail Insights records were skipped (not API calls)"
        )
    if report.skipped_names:
        stderr.print(f"skipped files that are not logs by name, e.g. {report.skipped_names[0]}")
    problems = [f"{s}: {r}" for s, r in report.quarantined_files]
    problems += [f"{s} record {i}: {r}" for s, i, r in report.quarantined_records]
    for line in problems[:_SHOWN]:
        stderr.print(f"quarantined {line}", markup=False)
    if len(problems) > _SHOWN:
        stderr.print(f'... and {len(problems) - _SHOWN:,} more: trailsmith sql "SELECT * FROM quarantine"')
