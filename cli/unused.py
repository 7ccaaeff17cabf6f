"""``trailsmith unused``: what principals of an IAM export are granted but never use; right-sized policies."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from trailsmith.cli import options
from trailsmith.cli.app import app
from trailsmith.cli.bundle import write_bundle
from trailsmith.cli.output import Format, FormatOption, OutOption, resolve, write_to
from trailsmith.cli.progress import stderr
from trailsmith.iam import export as iam_export
from trailsmith.iam.export import IamExportError
from trailsmith.iam.unused import SCHEMA, Suggestion, UnusedReport, analyze, suggest
from trailsmith.policy.render import unique_names
from trailsmith.warehouse.store import Warehouse, default_path


class Status(str, enum.Enum):
    used = "used"
    unused = "unused"
    not_granted = "not_granted"
    denied = "denied"


@app.command("unused")
def unused_command(
    authorization_details: list[Path] = typer.Option(
        [],
        "--authorization-details",
        "-a",
        show_default=False,
        help="Output of 'aws iam get-account-authorization-details' (JSON); repeat for more accounts or "
        "pages.",
    ),
    policy_file: list[str] = typer.Option(
        [],
        "--policy-file",
        show_default=False,
        help="ARN=FILE: a policy document of a role or user (added to its policies; it need not be in the "
        "export), or the document of a managed policy ARN the export lacks. Repeatable.",
    ),
    warehouse: Path | None = options.Warehouse,
    since: str | None = options.Since,
    until: str | None = options.Until,
    principal: list[str] = typer.Option(
        [],
        "--principal",
        "-p",
        show_default=False,
        help="Only this role or user ARN of the export; repeat for more.",
    ),
    status: list[Status] = typer.Option(
        [],
        "--status",
        show_default=False,
        help="Only rows of this status (used, unused, not_granted, denied); repeatable.",
    ),
    fmt: Format | None = FormatOption,
    out: Path | None = OutOption,
    suggest_dir: Path | None = typer.Option(
        None,
        "--suggest",
        show_default=False,
        help="Write into this directory, per principal, the least-privilege policy generated from its calls "
        "(<name>.policy.json), a diff against what it is granted now (<name>.diff.txt), and index.json.",
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Fail on an unreadable entry of the IAM input "
        "instead of reporting it, skipping it and evaluating the rest.",
    ),
    quiet: bool = options.Quiet,
) -> None:
    """Granted versus used: each action a principal's IAM policies allow, whether it was used, and when last.

    Rows: principal, action, access_level, status (used / unused / not_granted / denied), granted_by,
    last_used (empty when unused in the window), calls, conditional, resource_scoped, limited_by,
    denied_calls, last_denied. On stderr, per principal: granted, used, unused, the share removable.

    Wildcards and NotAction are expanded against the IAM reference data; Deny statements, groups and
    permissions boundaries are applied. Conditions are reported, not evaluated; Organizations SCPs and
    session and resource-based policies are out of scope (calls they allowed show as not_granted).

    \b
    Examples:
      aws iam get-account-authorization-details > auth.json
      trailsmith unused -a auth.json --since 90d --status unused --format csv > unused.csv
      trailsmith unused -a auth.json -p arn:aws:iam::123456789012:role/app --suggest right-sized/
      trailsmith unused --policy-file arn:aws:iam::123456789012:role/app=app.json --format json
    """
    details = iam_export.load(authorization_details, [_assignment(a) for a in policy_file], strict=strict)
    for problem in details.problems:
        stderr.print(f"warning: skipped {problem}", markup=False)
    protect = Warehouse(warehouse if warehouse is not None else default_path()).root
    if suggest_dir is not None and suggest_dir.resolve().is_relative_to(protect.resolve()):
        raise IamExportError(f"--suggest {suggest_dir} is inside the warehouse", hint="Write them elsewhere")
    report = analyze(details, warehouse, principals=principal or None, since=since, until=until)
    batches = report.batches([s.value for s in status])
    rows = write_to(batches, SCHEMA, resolve(fmt, out), out, protect=protect)
    if suggest_dir is not None:
        _write_suggestions(suggest_dir, suggest(report, warehouse))
    _report(report, rows, out, suggest_dir, quiet)


def _assignment(text: str) -> tuple[str, str]:
    """``--policy-file ARN=FILE``: split at the first '=' (an ARN has none, a file name may)."""
    arn, sep, path = text.partition("=")
    if not sep or not arn.strip() or not path.strip():
        example = "--policy-file arn:aws:iam::123456789012:role/app=app-policy.json"
        raise IamExportError(f"--policy-file {text!r} is not ARN=FILE", hint=f"For example {example}")
    return arn.strip(), path.strip()


def _write_suggestions(out: Path, suggestions: list[Suggestion]) -> None:
    """Per principal ``<name>.diff.txt`` and, when it has one, ``<name>.policy.json``; ``index.json``."""
    names = unique_names([s.principal for s in suggestions])
    bundle = {}
    for item in suggestions:
        files = {f"{names[item.principal]}.diff.txt": item.diff}
        policy = item.policy_json()
        if policy is not None:
            files[f"{names[item.principal]}.policy.json"] = policy
        summary = {"kept": len(item.kept), "removed": len(item.removed), "added": len(item.added)}
        bundle[item.principal] = (files, summary)
    write_bundle(out, bundle, option="--suggest")


def _report(report: UnusedReport, rows: int, out: Path | None, suggest_dir: Path | None, quiet: bool) -> None:
    for summary in report.summaries():
        if not quiet:
            stderr.print(summary.line(), markup=False)
        for note in summary.notes:
            stderr.print(f"  warning: {note}", markup=False)
    if quiet:
        return
    if report.outsiders:
        listed = ", ".join(report.outsiders[:5]) + (" ..." if len(report.outsiders) > 5 else "")
        stderr.print(
            f"{len(report.outsiders):,} roles or users of the export's accounts made calls in the "
            f"window but are not in the export: {listed}",
            markup=False,
        )
    since, until = report.window.since, report.window.until
    window = f"{since.isoformat() if since else 'start'} .. {until.isoformat() if until else 'end'}"
    data = report.data_version
    stderr.print(f"window {window}; IAM reference data {data}; {report.out_of_scope}", markup=False)
    if out is not None:
        stderr.print(f"wrote {rows:,} rows to {out}", markup=False)
    if suggest_dir is not None:
        stderr.print(
            f"wrote a suggestion for each of {len(report.evaluations):,} principals to "
            f"{suggest_dir} (index.json lists the files)",
            markup=False,
        )
