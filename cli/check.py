"""``trailsmith check``: hold committed IAM policies (JSON, IAM exports, Terraform) against the trail."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from trailsmith.check.patch import unified_diff
from trailsmith.check.render import FORMATS
from trailsmith.check.run import APPLICABLE, check
from trailsmith.check.sources import load_sources, read_mapping
from trailsmith.cli import options
from trailsmith.cli.app import app
from trailsmith.cli.output import opened
from trailsmith.engines import Engine


class CheckFormat(str, enum.Enum):
    """The renderers of :data:`trailsmith.check.render.FORMATS` (a test holds the two equal)."""

    text = "text"
    json = "json"
    markdown = "markdown"
    sarif = "sarif"


class FailOn(str, enum.Enum):
    """:data:`trailsmith.check.findings.SEVERITIES`, and never."""

    denied = "denied"
    unused = "unused"
    never = "never"


@app.command("check")
def check_command(
    sources: list[Path] = typer.Argument(
        ...,
        show_default=False,
        help="Policy files or folders: IAM JSON documents, 'aws iam get-account-authorization-details' "
        "exports, Terraform (.tf, .tf.json). Folders are read recursively.",
    ),
    principal: list[str] = typer.Option(
        [],
        "--principal",
        "-p",
        show_default=False,
        help="Only this principal: an ARN, or role/NAME, user/NAME as Terraform names it. Repeatable.",
    ),
    mapping: Path | None = options.PolicyMap,
    since: str | None = typer.Option(
        "90d", "--since", help="Start of the window: 2024-08-01, an ISO time, or 90d (ago)."
    ),
    until: str | None = options.Until,
    fmt: CheckFormat = typer.Option(
        CheckFormat.text,
        "--format",
        "-f",
        help="text, json, markdown (a pull-request comment) or sarif (code scanning).",
    ),
    fail_on: FailOn = typer.Option(
        FailOn.denied,
        "--fail-on",
        help="Exit 1 when findings at or above this remain: denied (calls the policy would deny), unused "
        "(also grants nobody used), never.",
    ),
    out: Path | None = typer.Option(None, "--out", "-o", show_default=False, help="Write the report here."),
    patch: Path | None = typer.Option(
        None,
        "--patch",
        show_default=False,
        help="Write the proposed changes as one unified diff ('git apply' takes it) to this file.",
    ),
    warehouse: Path | None = options.Warehouse,
    engine: Engine = options.EngineOption,
    spark_master: str = options.SparkMasterOption,
) -> None:
    """Which real calls a committed policy would deny, what it grants that nobody used, and a patch.

    Each source's principal comes from Terraform (aws_iam_role_policy, *_policy_attachment, role = ...),
    from an IAM export, or from --map. Calls are decided as IAM would, with Deny, NotAction, NotResource,
    wildcards, policy variables and conditions on what the trail records (region, source address, VPC
    endpoint, MFA, calling service); a decision that needs more (tags, say) is reported as unknown.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 bad input or options.

    \b
    Examples:
      trailsmith check policies/ --map owners.json --since 90d
      trailsmith check infra/ --format sarif --out check.sarif
      trailsmith check infra/ --format markdown --fail-on unused --patch tighten.diff
      trailsmith check auth-details.json -p arn:aws:iam::123456789012:role/app
    """
    loaded = load_sources(sources, mapping=read_mapping(str(mapping)) if mapping else None)
    report = check(
        loaded,
        warehouse,
        since=since,
        until=until,
        principals=principal,
        engine=engine,
        spark_master=spark_master,
    )
    text = FORMATS[fmt.value](report)
    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        with opened(out, "--out") as handle:
            handle.write(text.encode())
    if patch is not None:
        diffs = [unified_diff(p) for c in report.principals for p in c.patches if p.form in APPLICABLE]
        with opened(patch, "--patch") as handle:
            handle.write("".join(diffs).encode())
    if fail_on is not FailOn.never and report.findings(fail_on.value):
        raise typer.Exit(1)
