"""``policy --abac`` end to end: a trail in which roles are tagged (by their IAM tags and by session tags),
resources are tagged, untagged and retagged over time, and tagged resources are created; the policies it
gives, what ``--explain`` says, and every call replayed with the tags it met."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import abac_records
from helpers.abac_records import ANALYST, FUNCTION, RED, TABLE, A
from trailsmith.iam import replay
from trailsmith.policy.model import PrincipalPolicy
from trailsmith.policy.render import explain


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return abac_records.warehouse(tmp_path_factory.mktemp("abac"))


@pytest.fixture(scope="module")
def policies(warehouse: Path) -> dict[str, PrincipalPolicy]:
    return {p.principal: p for p in replay.generate(warehouse, abac=True, resources="exact")}


def statements(found: PrincipalPolicy) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.to_dict().items() if k != "Sid"} for s in found.statements]


def test_resources_tagged_like_the_role_become_one_condition(policies: dict[str, PrincipalPolicy]) -> None:
    red = statements(policies[RED])
    assert {
        "Effect": "Allow",
        "Action": ["lambda:InvokeFunction"],
        "Resource": [FUNCTION + "*"],
        "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
    } in red
    # f4 (tags unknown) and f5 (tagged after a call on it) keep their ARNs
    assert {
        "Effect": "Allow",
        "Action": ["lambda:InvokeFunction"],
        "Resource": [FUNCTION + "f4", FUNCTION + "f5"],
    } in red


def test_a_create_is_held_to_the_tags_it_asked_for(policies: dict[str, PrincipalPolicy]) -> None:
    [instance] = [
        s
        for s in statements(policies[RED])
        if s["Action"] == ["ec2:RunInstances"] and s["Resource"] == [f"arn:aws:ec2:eu-west-1:{A}:instance/*"]
    ]
    assert instance["Condition"] == {
        "StringEquals": {"aws:RequestTag/team": "${aws:PrincipalTag/team}"},
        "ForAllValues:StringEquals": {"aws:TagKeys": "team"},
    }
    # the image RunInstances also needs is authorised without request tags: no condition there
    assert any(
        s["Action"] == ["ec2:RunInstances"]
        and "arn:aws:ec2:eu-west-1::image/*" in s["Resource"]
        and "Condition" not in s
        for s in statements(policies[RED])
    )


def test_session_tags_are_the_principal_tags(policies: dict[str, PrincipalPolicy]) -> None:
    assert statements(policies[ANALYST]) == [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem"],
            "Resource": [TABLE + "*"],
            "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
        }
    ]


def test_explain_says_what_was_known_and_replayed(policies: dict[str, PrincipalPolicy]) -> None:
    text = explain(policies[RED])
    assert "conditions asked: abac" in text
    line = "aws:ResourceTag/team on lambda:InvokeFunction: StringEquals ${aws:PrincipalTag/team} "
    assert line + "(from 2 calls); replayed against 5 calls, all allowed; 2 of 4 resources" in text
    assert not any("replay:" in n for n in policies[RED].notes)


def test_without_abac_nothing_changes(warehouse: Path, policies: dict[str, PrincipalPolicy]) -> None:
    plain = {p.principal: p for p in replay.generate(warehouse, resources="exact")}
    assert all("Condition" not in s for s in statements(plain[ANALYST]))
    assert plain[ANALYST].conditions_asked == ()
