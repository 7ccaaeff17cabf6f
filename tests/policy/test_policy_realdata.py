"""The real captures in ../shared/realdata: every action emitted exists in the IAM reference data, and the
calls that were denied or needed no permission stay out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import trailsmith
import trailsmith.policy.generator as policy
from helpers.paths import REALDATA
from trailsmith.actions.reference import action_exists
from trailsmith.policy.arns import covers

pytestmark = pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real captures not present at {REALDATA}")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("realpolicy") / "wh"
    trailsmith.ingest([str(REALDATA)], path, workers=1)
    return path


def raw_events() -> list[dict]:
    events: list[dict] = []
    for path in sorted(REALDATA.rglob("*.json")):
        text = path.read_text()
        events.extend(
            json.loads(text)
            if text.lstrip().startswith("[")
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
    return events


def test_every_emitted_action_exists(warehouse: Path) -> None:
    policies = policy.generate(warehouse)
    actions = {a for p in policies for a in p.actions}
    assert len(actions) > 40
    assert sorted(a for a in actions if not action_exists(a)) == []


def test_every_resource_of_the_real_calls_is_read(warehouse: Path) -> None:
    # RDS snapshots, Route 53 Resolver configs and Bedrock models included: nothing falls back to "*".
    policies = policy.generate(warehouse)
    assert [f for p in policies for f in p.fallbacks] == []
    resources = {r for p in policies for s in p.statements for r in s.resources}
    assert {r.split(":")[2] for r in resources if r != "*"} >= {"rds", "route53resolver", "bedrock"}


def test_each_generalisation_keeps_the_actions(warehouse: Path) -> None:
    exact = {p.principal: p.actions for p in policy.generate(warehouse)}
    for mode in ("generalize", "service"):
        wider = policy.generate(warehouse, resources=mode)  # type: ignore[arg-type]
        assert {p.principal: p.actions for p in wider} == exact


def holder_of(event: dict) -> str | None:
    identity = event["userIdentity"]
    if identity.get("type") == "IAMUser":
        return identity["arn"]
    if identity.get("type") in ("AssumedRole", "FederatedUser"):
        return identity["sessionContext"]["sessionIssuer"]["arn"]
    return None


def test_denied_calls_stay_out_and_recorded_resources_are_allowed(warehouse: Path) -> None:
    policies = {p.principal: p for p in policy.generate(warehouse)}
    denied: dict[str, int] = {}
    for e in raw_events():
        if e.get("errorCode") in ("AccessDenied", "Client.UnauthorizedOperation") and holder_of(e):
            denied[holder_of(e)] = denied.get(holder_of(e), 0) + 1  # type: ignore[index]
    assert denied
    reported = {
        k: sum(x.evidence.events for x in p.excluded if x.reason == "denied") for k, p in policies.items()
    }
    assert {k: v for k, v in reported.items() if v} == denied
    for principal, count in denied.items():
        only_denied = policies[principal]
        assert count > 0 and only_denied.principal == principal
    # Every S3 object an allowed GetObject named is allowed by the policy of its caller.
    checked = 0
    for e in raw_events():
        if e["eventName"] == "GetObject" and not e.get("errorCode") and holder_of(e):
            [arn] = [r["ARN"] for r in e["resources"] if r["type"] == "AWS::S3::Object"]
            assert any(
                "s3:GetObject" in s.actions and any(covers(r, arn) for r in s.resources)
                for s in policies[holder_of(e)].statements
            )  # type: ignore[index]
            checked += 1
    assert checked
