"""Granted versus used over data/sample: the unused set is exactly granted minus used.

"Used" comes from the synthetic generator's ground truth (hand-written catalog facts, never the mapping
code), and ``last_used``/``calls`` are checked against the raw JSON of the archive. "Granted" is what the
evaluation says, checked on its own in ``tests/iam/test_unused_eval.py``.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import trailsmith
from helpers.events import ACCOUNT, event, write_records
from helpers.paths import IAM_FIXTURES, SAMPLE
from trailsmith.iam import export as iam_export
from trailsmith.iam.unused import SCHEMA, UnusedReport, analyze, match_principals, suggest
from trailsmith.ingestion.driver import IngestReport
from trailsmith.synth import SynthConfig, SynthReport, generate

EXPORT = IAM_FIXTURES / "sample-062058595613.json"
S = "062058595613"

#: Allowed events that need an action: the S3 facts of REFERENCE.md, Lambda's versioned names, same names.
EVIDENCE = {
    "s3:PutObject": (
        "s3",
        {
            "PutObject",
            "CreateMultipartUpload",
            "UploadPart",
            "CompleteMultipartUpload",
            "CopyObject",
            "UploadPartCopy",
        },
    ),
    "s3:GetObject": ("s3", {"GetObject", "HeadObject", "CopyObject", "UploadPartCopy"}),
    "s3:ListBucket": ("s3", {"ListObjects", "ListObjectsV2", "HeadBucket"}),
    "dynamodb:Query": ("dynamodb", {"Query"}),
    "dynamodb:GetItem": ("dynamodb", {"GetItem"}),
    "ssm:GetParameter": ("ssm", {"GetParameter"}),
    "ec2:DescribeInstances": ("ec2", {"DescribeInstances"}),
    "lambda:GetFunction": ("lambda", {"GetFunction", "GetFunction20150331v2"}),
    "cloudwatch:DescribeAlarms": ("monitoring", {"DescribeAlarms"}),
}


@pytest.fixture(scope="module")
def archive(
    tmp_path_factory: pytest.TempPathFactory, sample_ingest: tuple[Path, IngestReport]
) -> tuple[Path, SynthReport]:
    """data/sample ingested (the shared warehouse, only read), and the ground truth of the same seeded
    generation."""
    root = tmp_path_factory.mktemp("unused")
    truth = generate(root / "regenerated", SynthConfig.sample())
    warehouse, report = sample_ingest
    assert report.quarantined == 0 and report.events_new == truth.totals.events, (
        "data/sample is SynthConfig.sample()"
    )
    return warehouse, truth


@pytest.fixture(scope="module")
def details() -> iam_export.AuthorizationDetails:
    return iam_export.load([EXPORT], strict=True)


@pytest.fixture(scope="module")
def report(archive: tuple[Path, SynthReport], details: iam_export.AuthorizationDetails) -> UnusedReport:
    return analyze(details, archive[0])


def raw_events() -> list[dict[str, Any]]:
    """Every distinct event of data/sample, read with gzip and json only."""
    seen: dict[str, dict[str, Any]] = {}
    for path in sorted(SAMPLE.rglob("*.json.gz")):
        if "CloudTrail-Digest" in str(path):
            continue
        for record in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            seen.setdefault(record["eventID"], record)
    return list(seen.values())


def holder(record: dict[str, Any]) -> str | None:
    identity = record.get("userIdentity") or {}
    if identity.get("type") == "AssumedRole":
        return identity["sessionContext"]["sessionIssuer"]["arn"]
    return identity.get("arn") if identity.get("type") == "IAMUser" else None


def authorised(record: dict[str, Any]) -> bool:
    code = record.get("errorCode") or ""
    return "AccessDenied" not in code and "Unauthorized" not in code


def statuses(report: UnusedReport) -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for row in report.rows():
        out[row.principal][row.status].add(row.action)
    return out


def test_unused_is_exactly_granted_minus_used(
    report: UnusedReport, archive: tuple[Path, SynthReport]
) -> None:
    truth = archive[1]
    found = statuses(report)
    checked = 0
    for evaluation in report.evaluations:
        arn = evaluation.principal.arn
        granted = set(evaluation.grants)
        holder_truth = truth.holders.get(arn)
        used = {a for a, _ in holder_truth.needed} if holder_truth else set()
        denied = {a for a, _ in holder_truth.denied} if holder_truth else set()
        assert found[arn]["unused"] == granted - used, arn
        assert found[arn]["used"] == granted & used, arn
        assert found[arn]["not_granted"] == used - granted, arn
        assert found[arn]["denied"] == denied - granted - used, arn
        checked += bool(used)
    assert checked == 14  # every principal of the account but the never-seen one (root is not in exports)


def test_the_export_covers_every_kind_of_row(report: UnusedReport) -> None:
    found = statuses(report)
    role = f"arn:aws:iam::{S}:role/"
    assert found[role + "service-role/orders-api-exec"]["not_granted"] == {"sqs:GetQueueUrl"}
    assert found[role + "service-role/thumbnailer-exec"]["denied"] == {"s3:DeleteObject"}
    assert (
        "iam:PassRole" in found[role + "app-deployer"]["used"]
    )  # from requests, through the policy generator
    assert "iam:PassRole" in found[role + "service/ops/ops-automation"]["used"]
    rows = {(r.principal, r.action): r for r in report.rows()}
    pipeline = rows[(role + "service/data-pipeline", "s3:GetObject")]
    assert pipeline.status == "used" and pipeline.denied_calls == 1 and pipeline.last_denied is not None
    passrole = rows[(role + "app-deployer", "iam:PassRole")]
    assert passrole.conditional and passrole.resource_scoped and passrole.calls == 2
    alice = rows[(f"arn:aws:iam::{S}:user/engineering/alice", "s3:GetObject")]
    assert alice.granted_by == (f"group:engineers/arn:aws:iam::{S}:policy/ReadOnlyLite",)


def test_last_used_and_calls_match_the_raw_json(report: UnusedReport) -> None:
    expected: dict[tuple[str, str], tuple[int, str]] = {}
    for record in raw_events():
        principal = holder(record)
        if principal is None or not authorised(record) or record.get("eventType") == "AwsServiceEvent":
            continue
        for action, (host, names) in EVIDENCE.items():
            if record["eventSource"] == f"{host}.amazonaws.com" and record["eventName"] in names:
                calls, last = expected.get((principal, action), (0, ""))
                expected[(principal, action)] = (calls + 1, max(last, record["eventTime"]))
    rows = {(r.principal, r.action): r for r in report.rows() if r.action in EVIDENCE}
    compared = 0
    for (principal, action), row in rows.items():
        calls, last = expected.get((principal, action), (0, ""))
        assert row.calls == calls, (principal, action)
        got = row.last_used.strftime("%Y-%m-%dT%H:%M:%SZ") if row.last_used else ""
        assert got == last, (principal, action)
        compared += bool(calls)
    assert compared >= 15


def test_summary_counts(report: UnusedReport) -> None:
    by_arn = {s.principal: s for s in report.summaries()}
    table = report.table()
    assert table.schema == SCHEMA
    rows = table.to_pylist()
    for arn, summary in by_arn.items():
        mine = [r for r in rows if r["principal"] == arn]
        assert summary.granted == sum(r["status"] in ("used", "unused") for r in mine)
        assert summary.unused == sum(r["status"] == "unused" for r in mine)
        assert summary.removable == pytest.approx(summary.unused / summary.granted)
    admin = next(s for a, s in by_arn.items() if "AWSReservedSSO_AdministratorAccess" in a)
    assert admin.used == 23 and admin.granted == len(trailsmith.iam.evaluate.all_actions())
    never = by_arn[f"arn:aws:iam::{S}:role/service/old-batch"]
    assert (never.calls, never.used, never.seen_as) == (0, 0, ())
    assert never.line().endswith("never seen in the window")
    assert report.outsiders == ()  # root is not an IAM entity and every role and user is in the export


def test_window_prunes_and_narrows(
    archive: tuple[Path, SynthReport], details: iam_export.AuthorizationDetails, report: UnusedReport
) -> None:
    second_day = analyze(details, archive[0], since="2024-08-02")
    first_day = analyze(details, archive[0], until="2024-08-01")
    start = datetime(2024, 8, 2, tzinfo=timezone.utc)
    whole = {(r.principal, r.action): r for r in report.rows(["used"])}
    for part, inside in ((second_day, lambda t: t >= start), (first_day, lambda t: t < start)):
        used = {(r.principal, r.action): r for r in part.rows(["used"])}
        assert used and set(used) < set(whole)
        assert all(inside(r.last_used) for r in used.values())
        granted: dict[str, set[str]] = defaultdict(set)
        for row in part.rows(["used", "unused"]):
            granted[row.principal].add(row.action)
        assert all(granted[e.principal.arn] == set(e.grants) for e in part.evaluations)
    later = {(r.principal, r.action): r for r in second_day.rows(["used"])}
    earlier = {(r.principal, r.action): r for r in first_day.rows(["used"])}
    assert set(later) | set(earlier) == set(whole)
    for key, row in whole.items():
        assert row.calls == (later[key].calls if key in later else 0) + (
            earlier[key].calls if key in earlier else 0
        )
        assert row.last_used == (later[key] if key in later else earlier[key]).last_used


def test_suggestions_keep_exactly_what_was_used(
    report: UnusedReport, archive: tuple[Path, SynthReport]
) -> None:
    suggestions = {s.principal: s for s in suggest(report, archive[0])}
    truth = archive[1]
    for evaluation in report.evaluations:
        arn = evaluation.principal.arn
        suggestion = suggestions[arn]
        used = {a for a, _ in truth.holders[arn].needed} if arn in truth.holders else set()
        assert set(suggestion.kept) | set(suggestion.added) == used, arn
        assert set(suggestion.removed) == set(evaluation.grants) - used
        assert set(suggestion.added) == used - set(evaluation.grants)
    api = suggestions[f"arn:aws:iam::{S}:role/service-role/orders-api-exec"]
    policy = json.loads(api.policy_json() or "")
    assert policy["Version"] == "2012-10-17"
    assert {a for s in policy["Statement"] for a in s["Action"]} == set(api.kept) | set(api.added)
    diff = api.diff.splitlines()
    assert diff[0] == f"# trailsmith unused: arn:aws:iam::{S}:role/service-role/orders-api-exec"
    assert any(line.startswith("+ sqs:GetQueueUrl ") and "not granted by the export" in line for line in diff)
    assert any(line.startswith("  dynamodb:GetItem ") and "17 calls" in line for line in diff)
    assert any(
        line.startswith("- dynamodb:DeleteTable ") and line.endswith("granted by inline:api") for line in diff
    )
    admin = next(s for a, s in suggestions.items() if "AdministratorAccess" in a)
    by = "granted by arn:aws:iam::aws:policy/AdministratorAccess"
    collapsed = {
        line.split()[1]
        for line in admin.diff.splitlines()
        if line.startswith("- ") and line.endswith(by) and line.split()[1].endswith(":*")
    }
    assert "batch:*" in collapsed and "iam:*" not in collapsed  # no batch action used; some iam ones were
    never = suggestions[f"arn:aws:iam::{S}:role/service/old-batch"]
    assert never.documents == () and never.policy_json() is None and never.kept == ()
    assert "no policy (no authorised call in the window needed a permission)" in never.diff


# --- principals whose ARN differs between the trail and the export ------------------------------------


def test_roles_match_by_name_when_the_trail_omits_the_path(tmp_path: Path) -> None:
    with_path = event(1)
    without_issuer = event(2, eventName="PutObject")
    del without_issuer["userIdentity"]["sessionContext"]["sessionIssuer"]
    stranger = event(3, eventName="ListBuckets")
    stranger["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
        f"arn:aws:iam::{ACCOUNT}:role/Stranger"
    )
    write_records(tmp_path / "in" / "a.json.gz", [with_path, without_issuer, stranger])
    trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    export = {
        "RoleDetailList": [
            {
                "RoleName": "Builder",
                "Path": "/ci/",
                "Arn": f"arn:aws:iam::{ACCOUNT}:role/ci/Builder",
                "RolePolicyList": [
                    {
                        "PolicyName": "s3",
                        "PolicyDocument": {
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                                    "Resource": "*",
                                }
                            ]
                        },
                    }
                ],
            }
        ]
    }
    details = iam_export.parse_authorization_details(export, "inline-export")
    report = analyze(details, tmp_path / "wh", principals=[f"arn:aws:iam::{ACCOUNT}:role/Builder"])
    arn = f"arn:aws:iam::{ACCOUNT}:role/ci/Builder"
    assert report.matched[arn] == (f"arn:aws:iam::{ACCOUNT}:role/Builder", arn)
    got = {r.action: (r.status, r.calls) for r in report.rows()}
    assert got == {"s3:GetObject": ("used", 1), "s3:PutObject": ("used", 1), "s3:DeleteObject": ("unused", 0)}
    assert report.outsiders == (f"arn:aws:iam::{ACCOUNT}:role/Stranger",)


def test_matching_is_by_partition_account_kind_and_name() -> None:
    export = [
        "arn:aws:iam::111122223333:role/a/App",
        "arn:aws:iam::111122223333:user/App",
        "arn:aws-cn:iam::111122223333:role/App",
    ]
    seen = [
        "arn:aws:iam::111122223333:role/app",
        "arn:aws:iam::444455556666:role/App",
        "arn:aws:iam::111122223333:user/x/App",
        "arn:aws:iam::111122223333:root",
    ]
    assert match_principals(export, seen) == {
        "arn:aws:iam::111122223333:role/a/App": ("arn:aws:iam::111122223333:role/app",),
        "arn:aws:iam::111122223333:user/App": ("arn:aws:iam::111122223333:user/x/App",),
        "arn:aws-cn:iam::111122223333:role/App": (),
    }


def test_unknown_principal_and_bad_window(
    archive: tuple[Path, SynthReport], details: iam_export.AuthorizationDetails
) -> None:
    with pytest.raises(iam_export.IamExportError) as caught:
        analyze(details, archive[0], principals=[f"arn:aws:iam::{S}:role/app-deployerr"])
    assert caught.value.hint == f"Did you mean arn:aws:iam::{S}:role/app-deployer?"
    with pytest.raises(iam_export.IamExportError, match="--since is not before --until"):
        analyze(details, archive[0], since="2024-08-03", until="2024-08-01")
