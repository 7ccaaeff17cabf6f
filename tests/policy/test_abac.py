"""ABAC proposals from reconstructed tags: which resources a tag condition replaces, and that every observed
call is still allowed when replayed through the IAM evaluator with the tags it carried."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pytest

from trailsmith.iam.export import parse_document
from trailsmith.iam.request import Request, decide
from trailsmith.policy.abac import Tags, propose, request_conditions, type_pattern
from trailsmith.policy.document import Entry, build_documents
from trailsmith.policy.model import Evidence
from trailsmith.sql.tags import RESOURCE_TAGS_SCHEMA, SESSION_TAGS_SCHEMA

ACCOUNT = "111122223333"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/red-deployer"
INSTANCE = f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/"
INSTANCE_FMT = "arn:${Partition}:ec2:${Region}:${Account}:instance/${InstanceId}"
FUNCTION_FMT = "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}"
T0 = datetime(2024, 8, 1, tzinfo=timezone.utc)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def tag(arn: str, key: str, value: str, since: float, until: float | None = None, event: str = "") -> dict:
    return {
        "resourceArn": arn,
        "tagKey": key,
        "tagValue": value,
        "validFrom": at(since),
        "validUntil": None if until is None else at(until),
        "eventID": event or f"{arn}-{key}-{since}",
        "eventName": "CreateTags",
        "accountId": ACCOUNT,
        "region": "eu-west-1",
    }


def session(key: str, value: str) -> dict:
    return {
        "roleArn": ROLE,
        "sessionArn": None,
        "accessKeyId": f"ASIA{value.upper():0<16}",
        "tagKey": key,
        "tagValue": value,
        "transitive": False,
        "eventTime": at(1),
        "expiration": None,
        "eventID": f"s-{value}",
        "eventName": "AssumeRole",
        "accountId": ACCOUNT,
    }


def tags(rows: list[dict], sessions: list[dict] | None = None) -> Tags:
    return Tags.from_tables(
        pa.Table.from_pylist(rows, schema=RESOURCE_TAGS_SCHEMA),
        pa.Table.from_pylist(sessions or [], schema=SESSION_TAGS_SCHEMA),
    )


def entry(action: str, arn: str, first: float, last: float) -> Entry:
    return Entry(action, arn, Evidence(2, at(first), at(last), (f"e-{arn[-3:]}",)))


def formats(entries: list[Entry], fmt: str = INSTANCE_FMT) -> dict[tuple[str, str], str]:
    return {(e.action, e.resource): fmt for e in entries}


def statements(out: list[Entry]) -> list[dict[str, Any]]:
    (document,) = build_documents(out)
    return [{k: v for k, v in s.items() if k != "Sid"} for s in document.to_dict()["Statement"]]


def test_resources_tagged_like_the_principal_become_a_tag_condition() -> None:
    found = [
        entry("ec2:StopInstances", INSTANCE + "i-1", 2, 5),
        entry("ec2:StopInstances", INSTANCE + "i-2", 3, 4),
    ]
    known = tags(
        [
            tag(INSTANCE + "i-1", "team", "red", 1),
            tag(INSTANCE + "i-2", "team", "red", 0),
            tag(ROLE, "team", "red", 0),
        ]
    )
    out, notes = propose(found, formats(found), known, [ROLE])
    assert statements(out) == [
        {
            "Effect": "Allow",
            "Action": ["ec2:StopInstances"],
            "Resource": [INSTANCE + "*"],
            "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
        }
    ]
    (note,) = notes
    assert (note.status, note.key, note.calls) == ("emitted", "aws:ResourceTag/team", 4)
    assert note.reason == f"2 of 2 resources, tags known since {at(0).isoformat()}"


def test_a_fixed_value_when_the_principal_has_no_such_tag_or_a_session_overrides_it() -> None:
    found = [entry("ec2:StopInstances", INSTANCE + "i-1", 2, 5)]
    rows = [tag(INSTANCE + "i-1", "team", "red", 1)]
    fixed = {"StringEquals": {"aws:ResourceTag/team": "red"}}
    out, _ = propose(found, formats(found), tags(rows), [ROLE])
    assert statements(out)[0]["Condition"] == fixed
    # the role says red, but one of its sessions was given blue: the principal's tag is not red at every call
    overridden = tags([*rows, tag(ROLE, "team", "red", 0)], [session("team", "blue")])
    out, _ = propose(found, formats(found), overridden, [ROLE])
    assert statements(out)[0]["Condition"] == fixed


def test_resources_whose_tags_are_unknown_or_changed_keep_their_arns() -> None:
    found = [
        entry("ec2:StopInstances", INSTANCE + "i-1", 2, 5),
        entry("ec2:StopInstances", INSTANCE + "i-2", 2, 5),  # its tag was removed between its calls
        entry("ec2:StopInstances", INSTANCE + "i-3", 2, 5),  # the trail shows no tagging of it
    ]
    rows = [tag(INSTANCE + "i-1", "team", "red", 1), tag(INSTANCE + "i-2", "team", "red", 1, until=3)]
    out, notes = propose(found, formats(found), tags(rows), [ROLE])
    got = statements(out)
    assert {tuple(s["Resource"]) for s in got} == {(INSTANCE + "*",), (INSTANCE + "i-2", INSTANCE + "i-3")}
    assert notes[0].reason.startswith("1 of 3 resources")


def test_no_condition_where_the_action_cannot_test_the_tag_or_the_value_is_hostile() -> None:
    buckets = [entry("s3:ListAllMyBuckets", f"arn:aws:s3:::b{i}", 1, 2) for i in range(2)]
    rows = [tag(f"arn:aws:s3:::b{i}", "team", "red", 0) for i in range(2)]
    out, notes = propose(buckets, formats(buckets, "arn:${Partition}:s3:::${BucketName}"), tags(rows), [ROLE])
    assert out == buckets and notes[0].status == "not-proposed"
    hostile = [entry("ec2:StopInstances", INSTANCE + "i-1", 2, 5)]
    rows = [tag(INSTANCE + "i-1", "team", "${aws:username}", 0)]
    out, notes = propose(hostile, formats(hostile), tags(rows), [ROLE])
    assert out == hostile and "cannot" in notes[0].reason


def test_a_type_without_a_prefix_has_no_pattern() -> None:
    assert type_pattern("arn:aws:s3:::reports", "arn:${Partition}:s3:::${BucketName}") is None
    fn = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:deploy"
    assert type_pattern(fn, FUNCTION_FMT) == f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:*"


@pytest.mark.parametrize("principal_tag", [True, False])
def test_every_observed_call_is_allowed_on_replay(principal_tag: bool) -> None:
    """Each call, with the tags its resource carried at its time, is allowed by the emitted policy; a call on
    an untagged resource of the type is not."""
    functions = [f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:f{i}" for i in range(4)]
    found = [entry("lambda:InvokeFunction", arn, i, i + 2) for i, arn in enumerate(functions)]
    rows = [tag(arn, "team", "red", 0) for arn in functions[:3]]
    if principal_tag:
        rows.append(tag(ROLE, "team", "red", 0))
    known = tags(rows)
    out, _ = propose(found, formats(found, FUNCTION_FMT), known, [ROLE])
    policies = [parse_document(d.to_dict(), "p") for d in build_documents(out)]
    for e in found:
        for when in (e.evidence.first_seen, e.evidence.last_seen):
            context = {
                f"aws:ResourceTag/{k}": (t.value,) for k, t in known.timeline.at(e.resource, when).items()
            }
            context |= {"aws:PrincipalTag/team": ("red",)} if principal_tag else {}
            assert decide(policies, Request(e.action, e.resource, context)).decision == "allow", e.resource
    stranger = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:other"
    context = {"aws:ResourceTag/team": ("blue",), "aws:PrincipalTag/team": ("red",)}
    assert decide(policies, Request("lambda:InvokeFunction", stranger, context)).decision == "implicit-deny"


def test_create_calls_are_held_to_the_tags_they_asked_for() -> None:
    principal = {"team": ("red", T0)}
    asked = [{"team": "red"}, {"team": "red", "env": "dev"}]
    conditions, why = request_conditions("ec2:RunInstances", asked, principal)
    assert why == ""
    assert [(c.operator, c.key, c.values) for c in conditions] == [
        ("StringEquals", "aws:RequestTag/team", ("${aws:PrincipalTag/team}",)),
        ("ForAllValues:StringEquals", "aws:TagKeys", ("env", "team")),
    ]
    # replayed: each call, with the tags it asked for, is allowed; a call asking for another team's tag is not
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ec2:RunInstances",
                "Resource": "*",
                "Condition": {c.operator: {c.key: list(c.values)} for c in conditions},
            }
        ],
    }
    policy = parse_document(document, "p")

    def decision(tags: dict[str, str]) -> str:
        context = {f"aws:RequestTag/{k}": (v,) for k, v in tags.items()}
        context |= {"aws:TagKeys": tuple(tags), "aws:PrincipalTag/team": ("red",)}
        return decide([policy], Request("ec2:RunInstances", "*", context)).decision

    assert [decision(tags) for tags in asked] == ["allow", "allow"]
    assert decision({"team": "blue"}) == "implicit-deny"
    assert decision({"team": "red", "owner": "x"}) == "implicit-deny"


@pytest.mark.parametrize(
    ("action", "asked", "reason"),
    [
        ("ec2:RunInstances", [{"team": "red"}, {}], "1 of 2 calls asked for no tags"),
        ("ec2:DescribeInstances", [{"team": "red"}], "does not support"),
        ("ec2:CreateTags", [{"team": "${aws:username}"}], "cannot"),
    ],
)
def test_no_request_condition(action: str, asked: list[dict[str, str]], reason: str) -> None:
    conditions, why = request_conditions(action, asked, {})
    assert conditions == () and reason in why
