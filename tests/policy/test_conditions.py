"""``policy --conditions``: each key read from generated calls, keys absent from some calls, actions that do
not support a key, cross-account resources, service-made calls, IPv6, MFA skipped once, the replay that drops
a condition, the quota, and every call of the sample still allowed by its conditioned policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import trailsmith
import trailsmith.policy.generator as policy
from helpers.events import ACCOUNT, event, write_records
from trailsmith.iam import replay
from trailsmith.policy.conditions import (
    FAMILIES,
    Family,
    Options,
    Reading,
    Seen,
    Tally,
    networks,
    parse_keys,
    propose,
    readings,
    string_equals,
    supports,
)
from trailsmith.policy.generator import fits_quota
from trailsmith.policy.model import Condition, PolicyError, PrincipalPolicy
from trailsmith.policy.render import explain, explanation_json
from trailsmith.policy.usage import Filters, usage_sql

OTHER = "222222222222"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci/Builder"


def user(name: str, mfa: str | None = None) -> dict[str, Any]:
    """An IAM user; ``mfa`` gives it a console-style session with ``mfaAuthenticated``."""
    identity: dict[str, Any] = {
        "type": "IAMUser",
        "principalId": f"AIDA{name.upper()}",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": f"AKIA{name.upper()}",
        "userName": name,
    }
    if mfa is not None:
        identity["sessionContext"] = {
            "attributes": {"creationDate": "2024-03-01T00:00:00Z", "mfaAuthenticated": mfa}
        }
    return identity


def arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def get(n: int, who: dict[str, Any], key: str, bucket: str = "builds", **kw: Any) -> dict[str, Any]:
    return event(
        n,
        userIdentity=who,
        requestParameters={"bucketName": bucket, "key": key, "Host": f"{bucket}.s3.amazonaws.com"},
        resources=[
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
        ],
        **kw,
    )


def listing(n: int, who: dict[str, Any], prefix: str | None, **kw: Any) -> dict[str, Any]:
    """A ListObjectsV2 call on bucket ``builds`` (``prefix`` None: a listing without one)."""
    params = {"bucketName": "builds", "Host": "builds.s3.amazonaws.com", "list-type": "2"}
    if prefix is not None:
        params["prefix"] = prefix
    return event(
        n,
        userIdentity=who,
        eventName="ListObjects",
        requestParameters=params,
        resources=[{"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::builds"}],
        **kw,
    )


def decrypt(n: int, account: str) -> dict[str, Any]:
    key = f"arn:aws:kms:eu-west-1:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    return event(
        n,
        eventSource="kms.amazonaws.com",
        eventName="Decrypt",
        requestParameters={"keyId": key, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        resources=[{"accountId": account, "type": "AWS::KMS::Key", "ARN": key}],
        managementEvent=True,
        eventCategory="Management",
    )


def records() -> list[dict[str, Any]]:
    alice, bob, carol = user("alice", "true"), user("bob", "true"), user("carol")
    return [
        # alice: two regions, IPv4 and IPv6 addresses, always MFA, listings with prefixes
        get(1, alice, "a/1", sourceIPAddress="192.0.2.10"),
        get(2, alice, "a/2", sourceIPAddress="192.0.2.20", awsRegion="us-east-1"),
        get(3, alice, "a/3", sourceIPAddress="2001:db8::5"),
        get(4, alice, "a/4", sourceIPAddress="2001:db8::7"),
        listing(5, alice, "logs/", sourceIPAddress="198.51.100.7"),
        listing(6, alice, "data/", sourceIPAddress="198.51.100.7"),
        # bob: reads through a VPC endpoint but one; a listing without a prefix; a queue CloudFormation made
        # for him (without MFA, from the service's "address")
        get(10, bob, "b/1", vpcEndpointId="vpce-0a1b2c3d", sourceIPAddress="10.0.0.5"),
        get(11, bob, "b/2", vpcEndpointId="vpce-0a1b2c3d", sourceIPAddress="10.0.0.6"),
        get(12, bob, "b/3", bucket="other", sourceIPAddress="203.0.113.9"),
        listing(13, bob, "x/", vpcEndpointId="vpce-0a1b2c3d", sourceIPAddress="10.0.0.5"),
        listing(14, bob, None, vpcEndpointId="vpce-0a1b2c3d", sourceIPAddress="10.0.0.5"),
        event(
            15,
            userIdentity=user("bob", "false") | {"invokedBy": "cloudformation.amazonaws.com"},
            eventSource="sqs.amazonaws.com",
            eventName="CreateQueue",
            sourceIPAddress="cloudformation.amazonaws.com",
            requestParameters={"queueName": "jobs"},
            resources=None,
            managementEvent=True,
            eventCategory="Management",
        ),
        # carol: a prefix spelled like a policy variable, which IAM would resolve
        listing(20, carol, "${aws:username}/", sourceIPAddress="192.0.2.30"),
        listing(21, carol, "${aws:username}/", sourceIPAddress="192.0.2.30"),
        # frank: a prefix IAM cannot hold in a policy
        listing(22, user("frank"), "報告/", sourceIPAddress="192.0.2.50"),
        # dave: MFA on one read, not on the other
        get(25, user("dave", "true"), "d/1", sourceIPAddress="192.0.2.40"),
        get(26, user("dave", "false"), "d/2", sourceIPAddress="192.0.2.40"),
        # erin: MFA on every read, not on her one listing: "always used MFA" is the user's, not per action
        get(27, user("erin", "true"), "e/1", sourceIPAddress="192.0.2.60"),
        listing(28, user("erin", "false"), "e/", sourceIPAddress="192.0.2.60"),
        # the role: KMS keys of its own account and of another
        decrypt(30, ACCOUNT),
        decrypt(31, OTHER),
    ]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("conditions")
    write_records(root / "in" / "calls.json.gz", records())
    report = trailsmith.ingest([str(root / "in")], root / "wh", workers=1)
    assert report.events_new == len(records())
    return root / "wh"


@pytest.fixture(scope="module")
def every(warehouse: Path) -> dict[str, PrincipalPolicy]:
    """Every principal's policy with every key, exact resources."""
    return {p.principal: p for p in replay.generate(warehouse, conditions="all", resources="exact")}


def statements(found: PrincipalPolicy) -> list[dict[str, Any]]:
    return [s.to_dict() for s in found.statements]


def note(found: PrincipalPolicy, action: str, key: str) -> dict[str, Any]:
    [match] = [n.to_dict() for n in found.conditions if n.action == action and n.key == key]
    return match


def test_regions_ipv4_and_ipv6_networks_mfa_and_prefixes(every: dict[str, PrincipalPolicy]) -> None:
    assert statements(every[arn("alice")]) == [
        {
            "Sid": "S3GetObject",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::builds/a/{i}" for i in range(1, 5)],
            "Condition": {
                "StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]},
                # .10 and .20 share 192.0.2.0/27; ::5 and ::7 share 2001:db8::4/126
                "IpAddress": {"aws:SourceIp": ["192.0.2.0/27", "2001:db8::4/126"]},
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
            },
        },
        {
            "Sid": "S3ListBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": ["arn:aws:s3:::builds"],
            "Condition": {
                "StringEquals": {"aws:RequestedRegion": "eu-west-1", "s3:prefix": ["data/", "logs/"]},
                "IpAddress": {"aws:SourceIp": "198.51.100.7/32"},
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
            },
        },
    ]
    assert note(every[arn("alice")], "s3:GetObject", "aws:SourceIp") == {
        "action": "s3:GetObject",
        "key": "aws:SourceIp",
        "status": "emitted",
        "calls": 4,
        "condition": {"IpAddress": {"aws:SourceIp": ["192.0.2.0/27", "2001:db8::4/126"]}},
        "checked": 4,
        "denied": 0,
    }


def test_endpoints_absent_keys_and_calls_a_service_made(every: dict[str, PrincipalPolicy]) -> None:
    bob = every[arn("bob")]
    assert statements(bob) == [
        {
            # one read did not come through the endpoint: no aws:SourceVpce; aws:SourceIp is absent from
            # the two that did: none either; and the queue CloudFormation made for him was without MFA, so
            # he did not always use MFA: no MFA condition anywhere
            "Sid": "S3GetObject",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::builds/b/1", "arn:aws:s3:::builds/b/2", "arn:aws:s3:::other/b/3"],
            "Condition": {
                "StringEquals": {"aws:RequestedRegion": "eu-west-1"},
            },
        },
        {
            # one listing had no prefix: no s3:prefix
            "Sid": "S3ListBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": ["arn:aws:s3:::builds"],
            "Condition": {
                "StringEquals": {"aws:RequestedRegion": "eu-west-1", "aws:SourceVpce": "vpce-0a1b2c3d"},
            },
        },
        {
            "Sid": "SqsCreateQueue",
            "Effect": "Allow",
            "Action": ["sqs:CreateQueue"],
            "Resource": [f"arn:aws:sqs:eu-west-1:{ACCOUNT}:jobs"],
            "Condition": {
                "StringEquals": {"aws:RequestedRegion": "eu-west-1"},
                "ForAnyValue:StringEquals": {"aws:CalledVia": "cloudformation.amazonaws.com"},
                "Bool": {"aws:ViaAWSService": "true"},
            },
        },
    ]
    assert note(bob, "s3:GetObject", "aws:SourceVpce") == {
        "action": "s3:GetObject",
        "key": "aws:SourceVpce",
        "status": "not-proposed",
        "calls": 3,
        "lacking": 1,
        "reason": "not made through a VPC endpoint",
    }
    assert note(bob, "s3:GetObject", "aws:SourceIp")["lacking"] == 2
    assert note(bob, "s3:ListBucket", "s3:prefix")["reason"] == "the request has no prefix parameter"
    service = note(bob, "sqs:CreateQueue", "aws:SourceIp")
    assert service["status"] == "not-proposed"
    assert service["reason"].startswith("made by cloudformation.amazonaws.com on the principal's behalf")


def test_a_user_who_once_skipped_mfa_gets_no_mfa_condition(every: dict[str, PrincipalPolicy]) -> None:
    dave = every[arn("dave")]
    assert statements(dave)[0]["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": "eu-west-1"},
        "IpAddress": {"aws:SourceIp": "192.0.2.40/32"},
    }
    assert (
        note(dave, "s3:GetObject", "aws:MultiFactorAuthPresent")["reason"]
        == "some of the principal's calls were made without MFA"
    )
    erin = every[arn("erin")]
    assert all("aws:MultiFactorAuthPresent" not in str(s.get("Condition")) for s in statements(erin))
    assert note(erin, "s3:GetObject", "aws:MultiFactorAuthPresent")["status"] == "not-proposed"


def test_cross_account_resources_and_no_source_ip_for_roles(every: dict[str, PrincipalPolicy]) -> None:
    role = every[ROLE]
    assert statements(role) == [
        {
            "Sid": "KmsDecrypt",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [
                f"arn:aws:kms:eu-west-1:{a}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                for a in (ACCOUNT, OTHER)
            ],
            "Condition": {
                "StringEquals": {"aws:RequestedRegion": "eu-west-1", "aws:ResourceAccount": [ACCOUNT, OTHER]}
            },
        }
    ]
    assert note(role, "kms:Decrypt", "aws:SourceIp")["reason"].startswith("not an IAM user")
    # the same account only: the ARNs say it already
    queue = note(every[arn("bob")], "sqs:CreateQueue", "aws:ResourceAccount")
    assert queue["status"] == "not-proposed" and "own account" in queue["reason"]


def test_keys_an_action_does_not_support_are_never_proposed(every: dict[str, PrincipalPolicy]) -> None:
    assert supports("s3:ListBucket", "s3:prefix") and not supports("s3:GetObject", "s3:prefix")
    for found in every.values():
        assert all(n.key != "s3:prefix" or n.action == "s3:ListBucket" for n in found.conditions)
        for statement in found.statements:
            keys = {c.key for c in statement.conditions}
            assert "s3:prefix" not in keys or statement.actions == ("s3:ListBucket",)
    # aws:SourceVpc is accepted but the trail never tells it
    assert all(
        n.status == "not-proposed" for p in every.values() for n in p.conditions if n.key == "aws:SourceVpc"
    )


def test_a_condition_that_would_deny_an_observed_call_is_dropped_and_explained(
    every: dict[str, PrincipalPolicy],
) -> None:
    carol = every[arn("carol")]
    # IAM reads ${aws:username} in a condition value as a variable: "carol/", not the prefix she listed
    assert statements(carol)[0]["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": "eu-west-1"},
        "IpAddress": {"aws:SourceIp": "192.0.2.30/32"},
    }
    first = "00000000-0000-0000-0000-000000000015"
    assert note(carol, "s3:ListBucket", "s3:prefix") == {
        "action": "s3:ListBucket",
        "key": "s3:prefix",
        "status": "dropped",
        "calls": 2,
        "condition": {"StringEquals": {"s3:prefix": ["${aws:username}/"]}},
        "checked": 2,
        "denied": 2,
        "reason": f"it would deny 2 of 2 calls (event {first} with s3:prefix ['${{aws:username}}/'])",
    }
    text = explain(carol)
    assert "s3:prefix on s3:ListBucket: dropped: it would deny 2 of 2 calls" in text
    assert (
        "aws:RequestedRegion on s3:ListBucket: StringEquals eu-west-1 (from 2 calls); "
        "replayed against 2 calls, all allowed" in text
    )
    assert json.loads(explanation_json(carol))["conditions"]["asked"] == list(FAMILIES)
    assert not any(n.startswith("replay:") for n in carol.notes)


def test_values_iam_refuses_in_a_policy_are_not_proposed(every: dict[str, PrincipalPolicy]) -> None:
    frank = every[arn("frank")]
    assert "s3:prefix" not in statements(frank)[0]["Condition"].get("StringEquals", {})
    assert note(frank, "s3:ListBucket", "s3:prefix")["reason"] == (
        "the value '報告/' holds characters an IAM policy cannot"
    )


def test_only_the_asked_keys_and_none_by_default(warehouse: Path, every: dict[str, PrincipalPolicy]) -> None:
    [alice] = replay.generate(warehouse, [arn("alice")], conditions="aws:requestedregion", resources="exact")
    assert [s.to_dict().get("Condition") for s in alice.statements] == [
        {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}},
        {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
    ]
    assert {n.key for n in alice.conditions} == {"aws:RequestedRegion"}
    plain = policy.generate(warehouse)
    unasked = replay.generate(warehouse)
    assert [p.to_json() for p in unasked] == [p.to_json() for p in plain]
    assert [explanation_json(p) for p in unasked] == [explanation_json(p) for p in plain]
    assert all(not s.conditions for p in plain for s in p.statements)
    # the default aggregation groups by no request context
    assert "s3Prefix" not in usage_sql(Filters())[0]
    assert Options(parse_keys("s3:prefix,aws:SourceIp")).columns == (
        "s3Prefix",
        "userSourceIPAddress",
        "vpcEndpointId",
    )


def test_bad_keys_and_bounds_are_one_line_errors(warehouse: Path) -> None:
    with pytest.raises(PolicyError, match="'aws:SourceIP4' is not one --conditions proposes"):
        parse_keys("aws:RequestedRegion,aws:SourceIP4")
    with pytest.raises(PolicyError, match="not a prefix length"):
        Options(("aws:SourceIp",), ipv4_bound=33)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trailsmith.cli",
            "policy",
            "-w",
            str(warehouse),
            "--all",
            "--conditions",
            "aws:Nope",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        "trailsmith: error: condition key 'aws:Nope'"
    )


def test_the_cli_writes_the_conditions_and_explains_them(warehouse: Path) -> None:
    args = [
        "-w",
        str(warehouse),
        "-p",
        arn("carol"),
        "--conditions",
        "all",
        "--explain",
        "--ipv4-bound",
        "16",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "trailsmith.cli", "policy", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    [statement] = json.loads(result.stdout)["Statement"]
    assert statement["Condition"]["IpAddress"] == {"aws:SourceIp": "192.0.2.30/32"}
    assert "s3:prefix on s3:ListBucket: dropped" in result.stderr


def test_addresses_are_aggregated_no_wider_than_the_bound() -> None:
    def shown(addresses: list[str], v4: int = 24, v6: int = 64) -> list[str]:
        return [str(n) for n in networks(addresses, v4, v6)]

    assert shown(["192.0.2.1", "192.0.2.200"]) == ["192.0.2.0/24"]
    assert shown(["192.0.2.1", "192.0.3.1"]) == ["192.0.2.1/32", "192.0.3.1/32"]
    assert shown(["192.0.2.1", "192.0.3.1"], v4=16) == ["192.0.2.0/23"]
    assert shown(["192.0.2.1", "192.0.2.1"]) == ["192.0.2.1/32"]
    assert shown(["2001:db8::1", "2001:db8:0:1::1"]) == ["2001:db8::1/128", "2001:db8:0:1::1/128"]
    assert shown(["2001:db8::1", "2001:db8::ffff"]) == ["2001:db8::/112"]
    assert shown(["2001:db8::1", "2001:db8::2"], v6=128) == ["2001:db8::1/128", "2001:db8::2/128"]
    assert shown(["::5", "::7"]) == ["::4/126"]  # small IPv6 addresses stay IPv6


def test_conditions_still_fit_the_attachment_quota(tmp_path: Path) -> None:
    calls = []
    for n in range(1500):
        bucket = f"bucket-number-{n % 3}"
        key = f"exports/{n % 50:03d}/{n:05d}/data-file-with-a-long-name.parquet"
        record = get(n, user("erin"), key, bucket=bucket, sourceIPAddress=f"192.0.2.{n % 7}")
        record["awsRegion"] = ("eu-west-1", "us-east-1")[n % 2]
        calls.append(record)
    write_records(tmp_path / "in" / "many.json.gz", calls)
    trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    [exact] = replay.generate(tmp_path / "wh", conditions="all", resources="exact")
    assert not fits_quota(exact.documents)
    [fitted] = replay.generate(tmp_path / "wh", conditions="all")
    assert fits_quota(fitted.documents) and fitted.widened
    assert {tuple(s.to_dict()["Condition"]) for s in fitted.statements} == {("StringEquals", "IpAddress")}
    assert {s.to_dict()["Condition"]["IpAddress"]["aws:SourceIp"] for s in fitted.statements} == {
        "192.0.2.0/29"
    }


def test_every_conditioned_policy_of_the_sample_allows_every_call_it_came_from(
    sample_warehouse: Path,
) -> None:
    options = Options(parse_keys("all"))
    policies = replay.generate(sample_warehouse, conditions="all")
    emitted = {n.key for p in policies for n in p.conditions if n.status == "emitted"}
    assert {"aws:RequestedRegion", "aws:SourceIp", "aws:SourceVpce", "s3:prefix"} <= emitted
    # the calls again, read on their own, each decided against the whole finished policy
    from trailsmith.engines import usage_source

    with usage_source(sample_warehouse) as source:
        filters, known = policy.prepare(source, None, None, None, (), (), "role", options.columns)
        table = source.aggregate(filters)
    _, calls = policy.policies_and_calls(table, known, conditions=options)
    assert sum(len(c) for c in calls.values()) > 100
    # nothing was dropped, so the verdicts were noted on the first build: the same as building again
    verdicts = {
        (p.principal, action, key): verdict
        for p in policies
        for (action, key), verdict in replay.replay(p.conditions, calls.get(p.principal, [])).items()
    }
    assert not any(v.denied for v in verdicts.values())
    rebuilt = policy.policies_from_usage(table, known, conditions=options, verdicts=verdicts)
    assert [p.explanation() for p in rebuilt] == [p.explanation() for p in policies]
    for found in policies:
        assert not any(n.startswith("replay:") for n in found.notes), found.notes
        assert replay.denied(found, calls.get(found.principal, [])) == []
        assert all(n.replayed is not None for n in found.conditions if n.status == "emitted")


def test_a_family_of_keys_plugs_in_and_a_key_some_calls_lack_is_not_proposed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The registry takes families of keys (as ABAC's ``aws:ResourceTag/*`` will be): each call maps the keys
    it carries to values, and a key that some calls of the action lack is not proposed."""

    def tags(seen: Seen) -> dict[str, Reading]:
        return {f"aws:PrincipalTag/{k}": (v,) for k, v in seen.row["tags"].items()}

    family = Family("aws:PrincipalTag/*", "the caller's tags", (), tags, string_equals)
    monkeypatch.setitem(FAMILIES, family.key, family)
    options = Options(("aws:RequestedRegion", "aws:PrincipalTag/*"))
    rows = [
        {"awsRegion": "eu-west-1", "tags": {"team": "a", "env": "prod"}},
        {"awsRegion": "eu-west-1", "tags": {"team": "b"}},
    ]
    tallies: dict[str, Tally] = {}
    for row in rows:
        for key, reading in readings(
            Seen(arn("x"), "s3:GetObject", "arn:aws:s3:::b/k", row), options
        ).items():
            tallies.setdefault(key, Tally()).add(reading, 1, ACCOUNT)
    found = {p.key: p for p in propose("s3:GetObject", tallies, 2, options)}
    assert list(found) == ["aws:RequestedRegion", "aws:PrincipalTag/env", "aws:PrincipalTag/team"]
    assert found["aws:PrincipalTag/team"].condition == Condition(
        "StringEquals", "aws:PrincipalTag/team", ("a", "b")
    )
    env = found["aws:PrincipalTag/env"]
    assert (env.condition, env.reason, env.lacking) == (None, "absent from the request context", 1)
