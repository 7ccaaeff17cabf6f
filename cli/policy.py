"""``trailsmith policy``: least-privilege IAM policies from what principals really did."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

import typer

from trailsmith.cli import options
from trailsmith.cli.app import app
from trailsmith.cli.bundle import write_bundle
from trailsmith.cli.progress import stderr
from trailsmith.engines import Engine
from trailsmith.iam.replay import generate
from trailsmith.policy.conditions import DEFAULT_IPV4_BOUND, DEFAULT_IPV6_BOUND, FAMILIES
from trailsmith.policy.model import (
    DEFAULT_ATTACHED_POLICIES,
    DEFAULT_RESOURCE_MODE,
    MAX_DOCUMENT_CHARS,
    GroupMode,
    PolicyError,
    PrincipalPolicy,
    ResourceMode,
)
from trailsmith.policy.render import explain, explanation_json, terraform, unique_names
from trailsmith.warehouse.store import default_path

#: What ``--format`` writes: IAM JSON documents, or Terraform ``aws_iam_policy_document`` data blocks.
PolicyFormat = Literal["json", "terraform"]


@app.command("policy")
def policy_command(
    principal: list[str] = typer.Option(
        [],
        "--principal",
        "-p",
        metavar="ARN",
        help="Policy holder ARN (role or user); repeat for more.",
        show_default=False,
    ),
    all_principals: bool = typer.Option(False, "--all", help="Every principal of the warehouse."),
    warehouse: Path | None = options.Warehouse,
    since: str | None = typer.Option(
        None,
        "--since",
        metavar="WHEN",
        help="Start: 2024-08-01, 2024-08-01T12:00:00Z or 30d (ago).",
        show_default=False,
    ),
    until: str | None = typer.Option(
        None, "--until", metavar="WHEN", help="End, inclusive for a date: 2024-08-31.", show_default=False
    ),
    account: list[str] = typer.Option(
        [],
        "--account",
        metavar="ID",
        help="Only principals of this account id; repeat for more.",
        show_default=False,
    ),
    region: list[str] = typer.Option(
        [],
        "--region",
        metavar="REGION",
        help="Only calls made in this region; repeat for more.",
        show_default=False,
    ),
    group: GroupMode = typer.Option(
        "role",
        "--group",
        help="role: one policy per role or user; permission-set: one per "
        "IAM Identity Center permission set, merging its roles across accounts.",
    ),
    fmt: PolicyFormat = typer.Option("json", "--format", "-f", help="IAM JSON or Terraform data blocks."),
    resources: ResourceMode = typer.Option(
        DEFAULT_RESOURCE_MODE,
        "--resources",
        help=f"fit: exact ARNs, widened (most numerous first, by the generalize rules) only until a "
        f"principal's documents fit the quota of {DEFAULT_ATTACHED_POLICIES} attached managed policies of "
        f"{MAX_DOCUMENT_CHARS:,} characters; exact: exact ARNs only; generalize: every bounded wildcard; "
        "service: any resource. --explain lists every widening.",
    ),
    conditions: str | None = typer.Option(
        None,
        "--conditions",
        metavar="KEYS",
        help="Propose Condition blocks from what the trail recorded: a comma list of keys, or all. "
        + "; ".join(f"{f.key}: {f.meaning}" for f in FAMILIES.values())
        + ". A condition is written only for actions that support its key, only when every call of the "
        "action carried the key, and only after replaying every call through the IAM evaluator; "
        "--explain says what became of each key.",
        show_default=False,
    ),
    ipv4_bound: int = typer.Option(
        DEFAULT_IPV4_BOUND,
        "--ipv4-bound",
        metavar="BITS",
        help="aws:SourceIp: IPv4 addresses are aggregated into networks no wider than this prefix length.",
    ),
    ipv6_bound: int = typer.Option(
        DEFAULT_IPV6_BOUND,
        "--ipv6-bound",
        metavar="BITS",
        help="aws:SourceIp: the same for IPv6 addresses.",
    ),
    abac: bool = typer.Option(
        False,
        "--abac",
        help="Tag conditions in place of ARNs where the trail shows the tags (from create and tagging calls, "
        "and the principal's own IAM tags): aws:ResourceTag/KEY equal to ${aws:PrincipalTag/KEY} (or to "
        "one value) when every resource an action touched carried the tag before and throughout its calls; "
        "aws:RequestTag/KEY and aws:TagKeys for create and tagging calls that all asked for tags. Resources "
        "whose tags are unknown keep their ARNs; every call is replayed with the tags it met.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        metavar="DIR",
        help="Write one file per principal (and part) and index.json into this directory.",
        show_default=False,
    ),
    show_explain: bool = typer.Option(
        False,
        "--explain",
        help="On stderr (and as .explain.json with --out): the "
        "evidence for every statement and what was left out and why.",
    ),
    quiet: bool = options.Quiet,
    engine: Engine = options.EngineOption,
    spark_master: str = options.SparkMasterOption,
) -> None:
    """Generate least-privilege IAM policies from the calls principals made.

    Only authorised API calls count (throttled and not-found calls were authorised); denied calls, calls
    that need no permission, console sign-ins, service events and events that map to no IAM action are left
    out and reported. iam:PassRole is added for roles passed to services, with iam:PassedToService.
    With --engine spark the aggregation over the events runs on Spark; the documents are built here.

    By default (--resources fit) resources are exact ARNs as long as a principal's documents fit what IAM
    lets one role attach: 10 managed policies of 6,144 characters (whitespace not counted); beyond that the
    most numerous ARNs are widened to bounded patterns (objects under a prefix -> bucket/prefix/*), step by
    step, only until they fit. --explain lists every widening; a warning says when even the widest bounded
    patterns do not fit (nothing is ever left out).

    With --conditions, statements carry Condition blocks where the trail shows what held for every call of
    an action (its regions, VPC endpoints, an IAM user's networks, MFA, the calling service, the resources'
    accounts, the listed S3 prefixes); each is replayed against those calls and dropped if it would deny one.
    With --abac, resources the trail shows tagged give way to tag conditions (attribute-based access).

    With one --principal and no --out, stdout is exactly the policy document (a JSON array only when it
    had to be split), ready for aws iam create-policy.

    \b
    Examples:
      trailsmith policy -p arn:aws:iam::123456789012:role/app > app.json
      trailsmith policy -p arn:aws:iam::123456789012:role/app \\
          | aws iam create-policy --policy-name app --policy-document file:///dev/stdin
      trailsmith policy --all --since 90d --resources generalize --out policies/
      trailsmith policy --all --engine spark --spark-master yarn --out policies/
      trailsmith policy -p arn:aws:iam::123456789012:user/ci --conditions all --explain
      trailsmith policy -p arn:aws:iam::123456789012:role/team-red --abac --explain
    """
    if bool(principal) == all_principals:
        raise PolicyError("say whose policy", hint="Give --principal ARN (repeatable) or --all")
    policies = generate(
        warehouse,
        principal or None,
        since=since,
        until=until,
        accounts=account,
        regions=region,
        resources=resources,
        group=group,
        conditions=conditions,
        ipv4_bound=ipv4_bound,
        ipv6_bound=ipv6_bound,
        abac=abac,
        engine=engine,
        spark_master=spark_master,
    )
    if out is not None:
        _write_dir(out, policies, fmt, show_explain, warehouse)
    else:
        _write_stdout(policies, fmt)
    _report(policies, quiet, show_explain)


def _write_stdout(policies: list[PrincipalPolicy], fmt: PolicyFormat) -> None:
    usable = [p for p in policies if p.documents]
    if len(policies) == 1 and not usable:
        raise PolicyError(
            f"{policies[0].principal} made no authorised call that needs a permission",
            hint="Widen --since/--until, or see what it did with --explain",
        )
    if fmt == "terraform":
        sys.stdout.write("\n".join(terraform(p) for p in usable))
    elif len(policies) == 1:
        sys.stdout.write(usable[0].to_json())
    else:
        merged = {p.principal: json.loads(p.to_json()) for p in usable}
        sys.stdout.write(json.dumps(merged, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _write_dir(
    out: Path,
    policies: list[PrincipalPolicy],
    fmt: PolicyFormat,
    show_explain: bool,
    warehouse: Path | None,
) -> None:
    root = Path(warehouse if warehouse is not None else default_path())
    if out.resolve().is_relative_to(root.resolve()):
        raise PolicyError(
            f"{out} is inside the warehouse", hint="Write policies outside the warehouse directory"
        )
    names = unique_names([p.principal for p in policies])
    bundle = {
        p.principal: (
            _policy_files(p, names[p.principal], fmt, show_explain),
            {"members": list(p.members), "documents": len(p.documents)},
        )
        for p in policies
    }
    write_bundle(out, bundle, option="--out")


def _policy_files(
    policy: PrincipalPolicy, stem: str, fmt: PolicyFormat, show_explain: bool
) -> dict[str, str]:
    files: dict[str, str] = {}
    if fmt == "terraform" and policy.documents:
        files[f"{stem}.tf"] = terraform(policy)
    elif len(policy.documents) == 1:
        files[f"{stem}.json"] = policy.documents[0].to_json() + "\n"
    else:
        for number, document in enumerate(policy.documents, start=1):
            files[f"{stem}.part{number}.json"] = document.to_json() + "\n"
    if show_explain:
        files[f"{stem}.explain.json"] = explanation_json(policy)
    return files


def _report(policies: list[PrincipalPolicy], quiet: bool, show_explain: bool) -> None:
    for policy in policies:
        if show_explain:
            stderr.print(explain(policy), markup=False, highlight=False, end="")
        for note in policy.notes:
            stderr.print(f"warning: {policy.principal}: {note}", markup=False)
        if quiet:
            continue
        excluded: dict[str, int] = {}
        for item in policy.excluded:
            excluded[item.reason] = excluded.get(item.reason, 0) + item.evidence.events
        left = ", ".join(f"{n:,} {reason}" for reason, n in sorted(excluded.items())) or "nothing"
        widened = (
            f"; {_count(len(policy.widened), 'pattern')} widened to fit (see --explain)"
            if policy.widened and policy.resources_mode == "fit"
            else ""
        )
        stderr.print(
            f"{policy.principal}: {_count(len(policy.statements), 'statement')} in "
            f"{_count(len(policy.documents), 'document')} from {_count(policy.events, 'event')}; "
            f"left out: {left}; "
            f'{_count(len(policy.fallbacks), "action")} on "*" for lack of a resource{widened}',
            markup=False,
        )


def _count(n: int, noun: str) -> str:
    """``1 event``, ``2 events``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
