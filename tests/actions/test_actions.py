"""Event -> IAM action mapping: every emitted action exists, the pitfalls map right, nothing is guessed."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest

from helpers.paths import REALDATA
from trailsmith.actions import reference as iamref
from trailsmith.actions import rules as action_rules
from trailsmith.actions.mapping import (
    action_info,
    botocore_operations,
    coverage,
    iam_prefix,
    map_event,
    mapping_table,
)

#: Measured 95.4% of 19,657 operations with IAM reference data 0.1.202610271 and botocore 1.44.8 (a
#: same-name-only mapping reaches ~92%); 98.3% of 18,023 (17,711 mapped, 265 unmapped) with the same
#: reference data and botocore 1.43.11. A drop below this floor means a rule broke or the reference data
#: lost actions, and deserves a look.
COVERAGE_FLOOR = 0.95


def _actions_of(spec: str) -> list[str]:
    return spec.split()


def _all_rule_actions() -> Iterator[tuple[str, str, str]]:
    for table in (action_rules.RULES, action_rules.REQUEST_DEPENDENT):
        for key, entries in table.items():
            for name, spec in entries.items():
                for action in _actions_of(spec):
                    yield key, name, action


@pytest.mark.parametrize(("key", "name", "action"), list(_all_rule_actions()))
def test_every_rule_names_an_existing_action(key: str, name: str, action: str) -> None:
    assert iamref.action_exists(action), f"{key} {name}: {action} is not in the IAM reference data"


def test_rule_keys_are_prefixes_or_known_hosts() -> None:
    hosts = set(action_rules.HOST_PREFIXES) | {"portal.sso", "s3-control"}
    for table in (action_rules.RULES, action_rules.REQUEST_DEPENDENT, action_rules.NO_PERMISSION):
        for key in table:
            assert iamref.service_exists(key) or key in hosts, key
    for host, prefix in action_rules.HOST_PREFIXES.items():
        assert iamref.service_exists(prefix), f"{host} -> {prefix}: no such IAM service"
        assert not iamref.service_exists(host), f"{host} is an IAM prefix itself; the entry would shadow it"


def test_no_rule_shadows_a_same_named_action_without_reason() -> None:
    # A rule overriding an existing same-named action must be deliberate: only these do.
    deliberate = {("s3express", n) for n in action_rules.RULES["s3express"]} | {
        ("s3-control", n) for n in action_rules.RULES["s3-control"]
    }
    for key, entries in action_rules.RULES.items():
        prefix = key if iamref.service_exists(key) else action_rules.HOST_PREFIXES[key]
        for name in entries:
            if (key, name) not in deliberate:
                hidden = iamref.canonical_action(prefix, name)
                assert hidden is None, f"{hidden} exists; the rule for {key} {name} hides it"


@pytest.mark.parametrize(
    ("source", "prefix"),
    [
        ("monitoring.amazonaws.com", "cloudwatch"),
        ("email.amazonaws.com", "ses"),
        ("appstream2.amazonaws.com", "appstream"),
        ("models.lex.amazonaws.com", "lex"),
        ("runtime.lex.amazonaws.com", "lex"),
        ("mturk-requester.amazonaws.com", "mechanicalturk"),
        ("streams.dynamodb.amazonaws.com", "dynamodb"),
        ("tagging.amazonaws.com", "tag"),
        ("pinpoint.amazonaws.com", "mobiletargeting"),
        ("qconnect.amazonaws.com", "wisdom"),
        ("rdsdata.amazonaws.com", "rds-data"),
        ("migrationhub.amazonaws.com", "mgh"),
        ("s3.amazonaws.com", "s3"),
        ("EC2.AMAZONAWS.COM", "ec2"),
        ("application-insights.amazonaws.com", "applicationinsights"),  # botocore's name for the endpoint
        ("unknown-thing.amazonaws.com", None),
    ],
)
def test_service_prefix(source: str, prefix: str | None) -> None:
    assert iam_prefix(source) == prefix


PITFALLS = [
    ("s3.amazonaws.com", "ListObjects", ("s3:ListBucket",)),
    ("s3.amazonaws.com", "ListObjectsV2", ("s3:ListBucket",)),
    ("s3.amazonaws.com", "HeadBucket", ("s3:ListBucket",)),
    ("s3.amazonaws.com", "HeadObject", ("s3:GetObject",)),
    ("s3.amazonaws.com", "ListBuckets", ("s3:ListAllMyBuckets",)),
    ("s3.amazonaws.com", "CreateMultipartUpload", ("s3:PutObject",)),
    ("s3.amazonaws.com", "UploadPart", ("s3:PutObject",)),
    ("s3.amazonaws.com", "CompleteMultipartUpload", ("s3:PutObject",)),
    ("s3.amazonaws.com", "AbortMultipartUpload", ("s3:AbortMultipartUpload",)),
    ("s3.amazonaws.com", "CopyObject", ("s3:PutObject", "s3:GetObject")),
    ("s3.amazonaws.com", "UploadPartCopy", ("s3:PutObject", "s3:GetObject")),
    ("s3.amazonaws.com", "DeleteObjects", ("s3:DeleteObject",)),
    ("s3.amazonaws.com", "ListObjectVersions", ("s3:ListBucketVersions",)),
    ("s3.amazonaws.com", "ListMultipartUploads", ("s3:ListBucketMultipartUploads",)),
    ("s3.amazonaws.com", "ListParts", ("s3:ListMultipartUploadParts",)),
    ("s3.amazonaws.com", "PutBucketLifecycleConfiguration", ("s3:PutLifecycleConfiguration",)),
    ("s3.amazonaws.com", "DeleteBucketLifecycle", ("s3:PutLifecycleConfiguration",)),
    ("s3.amazonaws.com", "GetBucketEncryption", ("s3:GetEncryptionConfiguration",)),
    ("s3.amazonaws.com", "DeleteBucketCors", ("s3:PutBucketCORS",)),
    ("s3.amazonaws.com", "GetBucketCors", ("s3:GetBucketCORS",)),
    ("s3.amazonaws.com", "PutBucketReplication", ("s3:PutReplicationConfiguration",)),
    ("s3.amazonaws.com", "DeleteBucketReplication", ("s3:PutReplicationConfiguration",)),
    ("s3.amazonaws.com", "GetPublicAccessBlock", ("s3:GetBucketPublicAccessBlock",)),
    ("s3.amazonaws.com", "GetBucketObjectLockConfiguration", ("s3:GetBucketObjectLockConfiguration",)),
    ("s3-control.amazonaws.com", "PutPublicAccessBlock", ("s3:PutAccountPublicAccessBlock",)),
    ("s3-control.amazonaws.com", "CreateBucket", ("s3-outposts:CreateBucket",)),
    ("s3express.amazonaws.com", "GetObject", ("s3express:CreateSession",)),
    ("lambda.amazonaws.com", "Invoke", ("lambda:InvokeFunction",)),
    ("lambda.amazonaws.com", "GetLayerVersionByArn", ("lambda:GetLayerVersion",)),  # "also supports" note
    ("lambda.amazonaws.com", "CreateFunction20150331", ("lambda:CreateFunction",)),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", ("lambda:UpdateFunctionCode",)),
    (
        "lambda.amazonaws.com",
        "UpdateFunctionConfiguration20150331v2",
        ("lambda:UpdateFunctionConfiguration",),
    ),
    ("cloudfront.amazonaws.com", "CreateDistribution2020_05_31", ("cloudfront:CreateDistribution",)),
    ("kms.amazonaws.com", "ReEncrypt", ("kms:ReEncryptFrom", "kms:ReEncryptTo")),
    ("dynamodb.amazonaws.com", "GetItem", ("dynamodb:GetItem",)),
    ("dynamodb.amazonaws.com", "BatchWriteItem", ("dynamodb:BatchWriteItem",)),
    ("dynamodb.amazonaws.com", "TransactGetItems", ("dynamodb:GetItem",)),
    ("streams.dynamodb.amazonaws.com", "GetRecords", ("dynamodb:GetRecords",)),
    ("securityhub.amazonaws.com", "GetFindingsV2", ("securityhub:GetFindings",)),
    ("monitoring.amazonaws.com", "PutMetricData", ("cloudwatch:PutMetricData",)),
    ("email.amazonaws.com", "SendEmail", ("ses:SendEmail",)),
    ("sqs.amazonaws.com", "SendMessageBatch", ("sqs:SendMessage",)),
    ("bedrock.amazonaws.com", "Converse", ("bedrock:InvokeModel",)),
    ("apigateway.amazonaws.com", "GetRestApis", ("apigateway:GET",)),
    ("apigateway.amazonaws.com", "UpdateStage", ("apigateway:PATCH",)),
    ("cloudcontrolapi.amazonaws.com", "CreateResource", ("cloudformation:CreateResource",)),
]


@pytest.mark.parametrize(("source", "name", "actions"), PITFALLS)
def test_pitfalls_map_to_the_right_actions(source: str, name: str, actions: tuple[str, ...]) -> None:
    mapping = map_event(source, name)
    assert mapping.status == "mapped", mapping
    assert mapping.actions == actions
    assert not mapping.request_dependent


def test_request_dependent_calls_list_every_candidate() -> None:
    mapping = map_event("dynamodb.amazonaws.com", "TransactWriteItems")
    assert mapping.request_dependent
    assert set(mapping.actions) == {
        "dynamodb:ConditionCheckItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }
    partiql = map_event("dynamodb.amazonaws.com", "ExecuteStatement")
    assert partiql.request_dependent and "dynamodb:PartiQLSelect" in partiql.actions


@pytest.mark.parametrize(
    ("source", "name", "rule"),
    [
        ("sts.amazonaws.com", "GetCallerIdentity", "no-permission:always-allowed"),
        ("signin.amazonaws.com", "ConsoleLogin", "no-permission:console-sign-in"),
        ("signin.amazonaws.com", "ExitRole", "no-permission:console-sign-in"),
        ("signin.amazonaws.com", "SwitchRole", "no-permission:console-sign-in"),
        ("sts.amazonaws.com", "AssumeRoleWithWebIdentity", "no-permission:unsigned"),
        ("cognito-idp.amazonaws.com", "InitiateAuth", "no-permission:unsigned"),
        ("sso.amazonaws.com", "GetRoleCredentials", "no-permission:unsigned"),
    ],
)
def test_calls_needing_no_permission(source: str, name: str, rule: str) -> None:
    mapping = map_event(source, name)
    assert (mapping.status, mapping.rule, mapping.actions) == ("no_permission", rule, ())
    assert mapping.reason


@pytest.mark.parametrize(
    ("source", "name", "action"),
    [
        ("datasync.amazonaws.com", "CreateLocationS3", "datasync:CreateLocationS3"),
        ("rds.amazonaws.com", "RestoreDBClusterFromS3", "rds:RestoreDBClusterFromS3"),
        ("cloud9.amazonaws.com", "CreateEnvironmentEC2", "cloud9:CreateEnvironmentEC2"),
        ("ec2.amazonaws.com", "DescribeInstances", "ec2:DescribeInstances"),
    ],
)
def test_digit_ending_actions_survive(source: str, name: str, action: str) -> None:
    mapping = map_event(source, name)
    assert (mapping.actions, mapping.rule) == ((action,), "same-name")


def test_version_suffix_is_stripped_only_when_that_finds_an_action() -> None:
    stripped = map_event("ec2.amazonaws.com", "DescribeInstances20160115")
    assert stripped.actions == ("ec2:DescribeInstances",)
    assert stripped.rule == "api-version-suffix+same-name"
    assert map_event("lambda.amazonaws.com", "Invoke20150331").actions == ("lambda:InvokeFunction",)
    assert map_event("ec2.amazonaws.com", "NoSuchCall20150331").status == "unmapped"


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("ec2.amazonaws.com", "NoSuchCall20150331"),
        ("redshift-data.amazonaws.com", "GetStatementResultV2"),  # a V2 with no checked rule
        ("quicksight.amazonaws.com", "CreateTopicV2"),
        ("nosuchservice.amazonaws.com", "GetObject"),
        ("participant.connect.amazonaws.com", "SendMessage"),
        ("", "GetObject"),
        ("s3.amazonaws.com", ""),
    ],
)
def test_unmapped_events_get_no_action(source: str, name: str) -> None:
    mapping = map_event(source, name)
    assert mapping.status == "unmapped" and mapping.actions == () and mapping.reason


@pytest.fixture(scope="module")
def all_operations() -> list[tuple[str, str]]:
    return botocore_operations()


def test_every_operation_maps_to_existing_actions_or_nothing(all_operations: list[tuple[str, str]]) -> None:
    assert len(all_operations) > 15_000
    for source, name in all_operations:
        mapping = map_event(source, name)
        if mapping.status == "mapped":
            assert mapping.actions and all(iamref.action_exists(a) for a in mapping.actions), (source, name)
        else:
            assert mapping.actions == (), (source, name, mapping)


def test_coverage_stays_above_the_floor(all_operations: list[tuple[str, str]]) -> None:
    report = coverage(all_operations)
    assert report.operations == len(all_operations)
    assert report.mapped + report.no_permission + report.unmapped == report.operations
    assert report.mapped_share >= COVERAGE_FLOOR, report.summary()
    assert report.unmapped_sample and all(map_event(*p).status == "unmapped" for p in report.unmapped_sample)
    assert "mapped to existing IAM actions" in report.summary()


def test_unsigned_botocore_operations_are_no_permission() -> None:
    """Cross-check the hand-written NO_PERMISSION table against botocore's auth facts."""
    from botocore.loaders import create_loader

    loader = create_loader()
    for service in loader.list_available_services("service-2"):
        model = loader.load_service_model(service, "service-2")
        source = f"{model['metadata']['endpointPrefix']}.amazonaws.com"
        for name, operation in model["operations"].items():
            if operation.get("authtype") == "none" or operation.get("auth") == ["smithy.api#noAuth"]:
                assert map_event(source, name).status == "no_permission", (source, name)


def test_host_prefixes_agree_with_botocore_signing_names() -> None:
    from botocore.loaders import create_loader

    loader = create_loader()
    checked = 0
    for service in loader.list_available_services("service-2"):
        metadata = loader.load_service_model(service, "service-2")["metadata"]
        host, signing = metadata["endpointPrefix"], metadata.get("signingName")
        if host in action_rules.HOST_PREFIXES and signing and iamref.service_exists(signing):
            if host != "cloudcontrolapi":  # signs as itself, authorises as cloudformation:*Resource
                assert action_rules.HOST_PREFIXES[host] == signing, host
            checked += 1
    assert checked > 50


def test_action_facts_for_the_policy_generator() -> None:
    info = action_info("s3:GetObject")
    assert info.access_level == "Read" and info.resource_level
    object_type = next(t for t in info.resource_types if t.name == "object")
    assert object_type.arn == "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    assert not action_info("s3:ListAllMyBuckets").resource_level
    assert action_info("s3:getbucketcors").action == "s3:GetBucketCORS"
    with pytest.raises(KeyError):
        action_info("s3:HeadObject")


def test_mapping_table_rows_and_nulls() -> None:
    table = mapping_table(
        [
            ("s3.amazonaws.com", "CopyObject"),
            ("sts.amazonaws.com", "GetCallerIdentity"),
            ("nosuch.amazonaws.com", "Thing"),
            ("s3.amazonaws.com", "CopyObject"),
        ]
    )
    assert table.schema.names == ["eventSource", "eventName", "action", "status", "rule"]
    assert table.to_pylist() == [
        {
            "eventSource": "nosuch.amazonaws.com",
            "eventName": "Thing",
            "action": None,
            "status": "unmapped",
            "rule": "unknown-service",
        },
        {
            "eventSource": "s3.amazonaws.com",
            "eventName": "CopyObject",
            "action": "s3:PutObject",
            "status": "mapped",
            "rule": "rule:s3",
        },
        {
            "eventSource": "s3.amazonaws.com",
            "eventName": "CopyObject",
            "action": "s3:GetObject",
            "status": "mapped",
            "rule": "rule:s3",
        },
        {
            "eventSource": "sts.amazonaws.com",
            "eventName": "GetCallerIdentity",
            "action": None,
            "status": "no_permission",
            "rule": "no-permission:always-allowed",
        },
    ]
    assert mapping_table([]).num_rows == 0


def test_mapping_table_joins_in_duckdb() -> None:
    events = pa.table(
        {
            "eventSource": ["s3.amazonaws.com"] * 2 + ["kms.amazonaws.com", "signin.amazonaws.com"],
            "eventName": ["HeadObject", "ListObjectsV2", "ReEncrypt", "ConsoleLogin"],
        }
    )
    sources, names = events["eventSource"].to_pylist(), events["eventName"].to_pylist()
    mapping = mapping_table(zip(sources, names, strict=True))
    con = duckdb.connect()
    con.register("events", events)
    con.register("mapping", mapping)
    rows = con.execute(
        "SELECT m.action, count(*) FROM events e JOIN mapping m USING (eventSource, eventName) "
        "WHERE m.status = 'mapped' GROUP BY m.action ORDER BY m.action"
    ).fetchall()
    assert rows == [
        ("kms:ReEncryptFrom", 1),
        ("kms:ReEncryptTo", 1),
        ("s3:GetObject", 1),
        ("s3:ListBucket", 1),
    ]


def test_deterministic(all_operations: list[tuple[str, str]]) -> None:
    sample = all_operations[::97]
    first = [map_event(*p) for p in sample]
    map_event.cache_clear()
    assert [map_event(*p) for p in sample] == first
    shuffled = list(sample)
    random.Random(7).shuffle(shuffled)
    assert mapping_table(shuffled).equals(mapping_table(sample))


def _realdata_pairs() -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for path in sorted(REALDATA.rglob("*.json")):
        text = path.read_text(encoding="utf-8")
        if text.lstrip().startswith("["):
            events = json.loads(text)
        else:
            events = [json.loads(line) for line in text.splitlines() if line.strip()]
        pairs.update((e["eventSource"], e["eventName"]) for e in events)
    return pairs


@pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real captures absent at {REALDATA} (a clone elsewhere)")
def test_real_captures_map_completely() -> None:
    pairs = _realdata_pairs()
    assert len(pairs) >= 70
    by_status: dict[str, set[tuple[str, str]]] = {"mapped": set(), "no_permission": set(), "unmapped": set()}
    for pair in pairs:
        mapping = map_event(*pair)
        by_status[mapping.status].add(pair)
        assert all(iamref.action_exists(a) for a in mapping.actions), (pair, mapping)
    # Which pairs need no permission, and that nothing in the captures is left unmapped.
    assert by_status["no_permission"] == {
        ("signin.amazonaws.com", "ConsoleLogin"),
        ("sts.amazonaws.com", "GetCallerIdentity"),
    }
    assert by_status["unmapped"] == set()
    expected = {
        ("s3.amazonaws.com", "ListObjects"): ("s3:ListBucket",),
        ("s3.amazonaws.com", "ListBuckets"): ("s3:ListAllMyBuckets",),
        ("monitoring.amazonaws.com", "DescribeAlarms"): ("cloudwatch:DescribeAlarms",),
        ("lambda.amazonaws.com", "AddPermission20150331v2"): ("lambda:AddPermission",),
        ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2"): ("lambda:UpdateFunctionCode",),
        ("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2"): (
            "lambda:UpdateFunctionConfiguration",
        ),
        ("secretsmanager.amazonaws.com", "BatchGetSecretValue"): ("secretsmanager:BatchGetSecretValue",),
        ("ec2-instance-connect.amazonaws.com", "SendSerialConsoleSSHPublicKey"): (
            "ec2-instance-connect:SendSerialConsoleSSHPublicKey",
        ),
    }
    for pair, actions in expected.items():
        assert map_event(*pair).actions == actions, pair
