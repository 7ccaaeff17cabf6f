"""The generic resolver: traps with the ARNs AWS would authorise, and its coverage of botocore's API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trailsmith.actions.reference import action_info
from trailsmith.policy.arns import matches_format
from trailsmith.policy.extract import generic
from trailsmith.policy.extract.base import Call
from trailsmith.policy.extract.models import find, operation_name
from trailsmith.policy.extract.resolver_coverage import Report, run
from trailsmith.policy.resources import grants_for

ACCOUNT = "111122223333"
WHERE = ("aws", "us-east-1", ACCOUNT)  # partition, region, account of the event
OTHER = "444455556666"
EVENT = ("aws", "us-east-1", ACCOUNT)
ELB = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}"

#: The share of required resource types resolved right, as policies are made (hand-written extractors with
#: the resolver filling in), measured (90.6%), rounded down.
FLOOR = 0.90


def arns(host: str, name: str, request: dict[str, Any], actions: tuple[str, ...] | None = None) -> set[str]:
    found = generic.resolve(host, name, generic.flat(request), *EVENT, actions=actions)
    for item in found:
        formats = generic.alternatives(item.fmt)
        assert all(any(matches_format(a, f) for f in formats) for a in item.arns)
    return {arn for item in found for arn in item.arns}


@pytest.mark.parametrize(
    ("host", "name", "request_", "expected"),
    [
        # ARN-valued members
        pytest.param(
            "acm",
            "DescribeCertificate",
            {"certificateArn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0f1e-42"},
            {f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0f1e-42"},
            id="acm-certificate-arn",
        ),
        pytest.param(
            "rds-data",
            "ExecuteStatement",
            {
                "resourceArn": f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:orders",
                "secretArn": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-AbCd",
                "sql": "select 1",
            },
            {f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:orders"},
            id="rds-data-resource-arn",
        ),
        # a member whose model shape is an ARN, though its name does not say so (ChimeBearer is a ChimeArn)
        pytest.param(
            "messaging-chime",
            "SendChannelMessage",
            {
                "channelArn": f"arn:aws:chime:us-east-1:{ACCOUNT}:app-instance/ai-1/channel/ch-1",
                "chimeBearer": f"arn:aws:chime:us-east-1:{ACCOUNT}:app-instance/ai-1/user/u-1",
                "content": "hello",
            },
            {
                f"arn:aws:chime:us-east-1:{ACCOUNT}:app-instance/ai-1/channel/ch-1",
                f"arn:aws:chime:us-east-1:{ACCOUNT}:app-instance/ai-1/user/u-1",
            },
            id="arn-by-shape",
        ),
        # name fields
        pytest.param(
            "codecommit",
            "GetRepository",
            {"repositoryName": "infra"},
            {f"arn:aws:codecommit:us-east-1:{ACCOUNT}:infra"},
            id="codecommit-repository",
        ),
        pytest.param(
            "es",
            "DescribeDomain",
            {"domainName": "logs"},
            {f"arn:aws:es:us-east-1:{ACCOUNT}:domain/logs"},
            id="opensearch-domain",
        ),
        pytest.param(
            "monitoring",
            "DeleteAlarms",
            {"alarmNames": ["cpu-high", "disk-full"]},
            {
                f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:cpu-high",
                f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:disk-full",
            },
            id="cloudwatch-alarm-names",
        ),
        pytest.param(
            "codedeploy",
            "GetDeploymentGroup",
            {"applicationName": "shop", "deploymentGroupName": "blue"},
            {f"arn:aws:codedeploy:us-east-1:{ACCOUNT}:deploymentgroup:shop/blue"},
            id="codedeploy-deployment-group",
        ),
        # id fields
        pytest.param(
            "cloudfront",
            "GetDistribution2020_05_31",
            {"id": "E2QWRUHEXAMPLE"},
            {f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2QWRUHEXAMPLE"},
            id="cloudfront-distribution-id",
        ),
        pytest.param(
            "elasticfilesystem",
            "DescribeFileSystems",
            {"fileSystemId": "fs-0123456789abcdef0"},
            {f"arn:aws:elasticfilesystem:us-east-1:{ACCOUNT}:file-system/fs-0123456789abcdef0"},
            id="efs-file-system",
        ),
        pytest.param(
            "elasticmapreduce",
            "DescribeCluster",
            {"clusterId": "j-2AXXXXXXGAPLF"},
            {f"arn:aws:elasticmapreduce:us-east-1:{ACCOUNT}:cluster/j-2AXXXXXXGAPLF"},
            id="emr-cluster-id",
        ),
        pytest.param(
            "route53",
            "ChangeResourceRecordSets",
            {"hostedZoneId": "Z1D633PJN98FT9", "changeBatch": {"comment": "x"}},
            {"arn:aws:route53:::hostedzone/Z1D633PJN98FT9"},
            id="route53-hosted-zone-id-for-generic-id-variable",
        ),
        # a number named differently from its variable: VersionNumber is ${LayerVersion}
        pytest.param(
            "lambda",
            "GetLayerVersion",
            {"layerName": "geo", "versionNumber": 7},
            {f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:geo:7"},
            id="lambda-layer-version-number",
        ),
        # nested members
        pytest.param(
            "budgets",
            "UpdateBudget",
            {"accountId": ACCOUNT, "newBudget": {"budgetName": "monthly", "budgetType": "COST"}},
            {f"arn:aws:budgets::{ACCOUNT}:budget/monthly"},
            id="nested-budget-name",
        ),
        pytest.param(
            "aps",
            "CreateScraper",
            {
                "source": {"eksConfiguration": {"clusterArn": f"arn:aws:eks:us-east-1:{OTHER}:cluster/k8s"}},
                "destination": {
                    "ampConfiguration": {"workspaceArn": f"arn:aws:aps:us-east-1:{ACCOUNT}:workspace/ws-1"}
                },
            },
            {f"arn:aws:eks:us-east-1:{OTHER}:cluster/k8s", f"arn:aws:aps:us-east-1:{ACCOUNT}:workspace/ws-1"},
            id="nested-arns",
        ),
        # path-shaped ARNs follow the request URI
        pytest.param(
            "apigateway",
            "GetStage",
            {"restApiId": "a1b2c3", "stageName": "prod"},
            {"arn:aws:apigateway:us-east-1::/restapis/a1b2c3/stages/prod"},
            id="apigateway-stage-path",
        ),
        pytest.param(
            "greengrass",
            "CreateDeployment",
            {"groupId": "g-1", "deploymentType": "NewDeployment", "groupVersionId": "v-2"},
            {f"arn:aws:greengrass:us-east-1:{ACCOUNT}:/greengrass/groups/g-1"},
            id="required-type-is-a-parent-of-the-uri",
        ),
        # a resource in another account, from an ARN where a name is expected
        pytest.param(
            "lambda",
            "GetFunction",
            {"functionName": f"arn:aws:lambda:eu-west-1:{OTHER}:function:shared"},
            {f"arn:aws:lambda:eu-west-1:{OTHER}:function:shared"},
            id="function-in-another-account",
        ),
        pytest.param(
            "lambda",
            "GetLayerVersion",
            {"layerName": f"arn:aws:lambda:eu-west-1:{OTHER}:layer:geo", "versionNumber": 3},
            {f"arn:aws:lambda:eu-west-1:{OTHER}:layer:geo:3"},
            id="layer-of-another-account-by-layer-arn",
        ),
        # facts the names alone do not carry
        pytest.param(
            "secretsmanager",
            "GetSecretValue",
            {"secretId": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-AbCdEf"},
            {f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-AbCdEf"},
            id="secret-by-arn",
        ),
        pytest.param(
            "wafv2",
            "GetIPSet",
            {"name": "blocked", "scope": "CLOUDFRONT", "id": "a1"},
            {f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/ipset/blocked/a1"},
            id="wafv2-scope-spelling",
        ),
        pytest.param(
            "rds",
            "DescribeDBInstances",
            {"dBInstanceIdentifier": "Orders"},
            {f"arn:aws:rds:us-east-1:{ACCOUNT}:db:Orders", f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders"},
            id="rds-lower-cased-names",
        ),
        pytest.param(
            "lambda",
            "UpdateFunctionConfiguration20150331v2",
            {"functionName": "worker"},
            {f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker"},
            id="api-version-suffix",
        ),
    ],
)
def test_traps(host: str, name: str, request_: dict[str, Any], expected: set[str]) -> None:
    assert arns(host, name, request_) == expected


@pytest.mark.parametrize(
    ("host", "name", "request_", "expected"),
    [
        # the model's documentation says modelId may hold an inference profile's ARN: its name does not
        pytest.param(
            "bedrock-runtime",
            "InvokeModel",
            {"modelId": f"arn:aws:bedrock:us-east-1:{OTHER}:application-inference-profile/p-1"},
            {f"arn:aws:bedrock:us-east-1:{OTHER}:application-inference-profile/p-1"},
            id="documented-arn-member",
        ),
        pytest.param(
            "arc-zonal-shift",
            "GetManagedResource",
            {"resourceIdentifier": f"{ELB}:loadbalancer/app/web/5a"},
            {f"{ELB}:loadbalancer/app/web/5a"},
            id="documented-arn-of-another-service",
        ),
        # DataBrew, Route 53 readiness and Fraud Detector ARNs end in the name, whatever the variable says
        pytest.param(
            "databrew",
            "DeleteDataset",
            {"name": "orders"},
            {f"arn:aws:databrew:us-east-1:{ACCOUNT}:dataset/orders"},
            id="name-for-resource-id",
        ),
        pytest.param(
            "route53-recovery-readiness",
            "GetCell",
            {"cellName": "east"},
            {f"arn:aws:route53-recovery-readiness::{ACCOUNT}:cell/east"},
            id="name-for-resource-id-global",
        ),
        pytest.param(
            "frauddetector",
            "GetDetectors",
            {"detectorId": "fraud_checks"},
            {f"arn:aws:frauddetector:us-east-1:{ACCOUNT}:detector/fraud_checks"},
            id="chosen-id-for-resource-path",
        ),
        # SES names an identity by the address or domain itself
        pytest.param(
            "email",
            "GetEmailIdentity",
            {"emailIdentity": "example.com"},
            {f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/example.com"},
            id="qualified-type-member",
        ),
    ],
)
def test_traps_from_documentation(host: str, name: str, request_: dict[str, Any], expected: set[str]) -> None:
    # only the types with variables: a fixed ARN (Bedrock's marketplace/model-endpoint/all-access) is no
    # reading of the request
    found = generic.resolve(host, name, generic.flat(request_), *EVENT)
    assert {arn for item in found if generic.named(item.fmt) for arn in item.arns} == expected


def test_a_path_of_names_is_not_one_name() -> None:
    """A Fraud Detector detector version's ARN is ``detector-version/<detector>/<version>``: the detector's id
    alone must not fill it (the ARN would be wrong and deny the call)."""
    found = generic.resolve(
        "frauddetector", "GetDetectorVersion", {"detectorId": "d", "detectorVersionId": "1"}, *EVENT
    )
    versions = [item for item in found if item.resource_type == "detector-version"]
    assert versions and all(item.arns == () for item in versions)


@pytest.mark.parametrize(
    ("host", "name", "request_", "resource_type", "expected"),
    [
        # a bot version is not the bot's name twice: every version of the named bot
        pytest.param(
            "models.lex",
            "GetBotVersions",
            {"name": "OrderBot"},
            "bot version",
            f"arn:aws:lex:us-east-1:{ACCOUNT}:bot:OrderBot:*",
            id="lex-versions",
        ),
        # a stack's ARN ends in the id CloudFormation gave it; the request names the stack
        pytest.param(
            "cloudformation",
            "DeleteStack",
            {"stackName": "web"},
            "stack",
            f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/web/*",
            id="stack-id",
        ),
        # a create call names the parent; the child's id does not exist yet
        pytest.param(
            "connect",
            "CreateQuickConnect",
            {"instanceId": "inst-1", "name": "escalate"},
            "quick-connect",
            f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/inst-1/transfer-destination/*",
            id="created-child",
        ),
    ],
)
def test_assigned_ids(
    host: str, name: str, request_: dict[str, Any], resource_type: str, expected: str
) -> None:
    """Ids the service assigns are ``*`` when the request names the rest, and only then."""
    found = [
        i
        for i in generic.resolve(host, name, generic.flat(request_), *EVENT)
        if i.resource_type == resource_type
    ]
    assert [item.arns for item in found] == [(expected,)]
    assert "not in the request: *" in found[0].reason


def test_assigned_id_needs_a_name() -> None:
    # nothing the request names is in the ARN: no pattern of the whole account
    (item,) = generic.resolve("lightsail", "DeleteKeyPair", {"keyPairName": "k"}, *EVENT)
    assert item.arns == ()
    # an optional type (the queue a quick connect may transfer to) is not assumed involved
    found = generic.resolve("connect", "CreateQuickConnect", {"instanceId": "i", "name": "q"}, *EVENT)
    assert {i.resource_type for i in found if i.arns} == {"quick-connect"}


def test_layer_version_by_arn() -> None:
    # the mapping has no rule for GetLayerVersionByArn yet; the call needs lambda:GetLayerVersion
    layer = f"arn:aws:lambda:eu-west-1:{OTHER}:layer:geo:7"
    assert arns("lambda", "GetLayerVersionByArn", {"arn": layer}, ("lambda:GetLayerVersion",)) == {layer}


@pytest.mark.parametrize(
    ("host", "name", "request_", "resource_type"),
    [
        # UpdateNotebookMetadata's Name is the notebook's, never its work group's
        pytest.param(
            "athena", "UpdateNotebookMetadata", {"notebookId": "n", "name": "nb"}, "workgroup", id="athena"
        ),
        # CreateCampaign's name is the campaign's, not the signal catalog's it uses
        pytest.param("iotfleetwise", "CreateCampaign", {"name": "c"}, "signalcatalog", id="fleetwise"),
        # a partial or qualified function ARN does not fit the function's format: "*" rather than a guess
        pytest.param(
            "lambda", "GetFunction", {"functionName": f"{ACCOUNT}:function:f"}, "function", id="partial"
        ),
        pytest.param("lambda", "GetFunction", {"functionName": "f:prod"}, "function", id="qualified-name"),
        pytest.param(
            "lambda",
            "Invoke",
            {"functionName": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f:prod"},
            "function",
            id="alias-arn-is-not-the-function",
        ),
        # a secret's ARN has a random suffix; AWS-owned documents have no account in their ARN
        pytest.param("secretsmanager", "GetSecretValue", {"secretId": "prod/db"}, "Secret", id="secret-name"),
        pytest.param(
            "ssm", "SendCommand", {"documentName": "AWS-RunShellScript"}, "document", id="aws-document"
        ),
        # Lightsail ARNs hold an id the request never names
        pytest.param("lightsail", "DeleteKeyPair", {"keyPairName": "k"}, "KeyPair", id="lightsail-id"),
    ],
)
def test_no_guess(host: str, name: str, request_: dict[str, Any], resource_type: str) -> None:
    found = [
        i
        for i in generic.resolve(host, name, generic.flat(request_), *EVENT)
        if i.resource_type == resource_type
    ]
    assert found
    assert all(item.arns == () and item.reason for item in found)


def test_a_nested_foreign_id_is_not_the_created_resource() -> None:
    # a nested domainId of sagemaker's CreateDomain is DataZone's; the domain made gets the id AWS assigns
    request_ = {"domainName": "d", "domainSettings": {"unifiedStudioSettings": {"domainId": "dzd-1"}}}
    [found] = [
        i
        for i in generic.resolve("api.sagemaker", "CreateDomain", generic.flat(request_), *EVENT)
        if i.resource_type == "domain"
    ]
    assert found.arns == (f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:domain/*",)


@pytest.mark.parametrize(
    ("host", "name", "request_", "resource_type", "arn"),
    [
        pytest.param(
            "ec2", "CreateInternetGateway", {}, "internet-gateway", "internet-gateway/*", id="nothing-named"
        ),
        pytest.param(
            "redshift-serverless",
            "CreateWorkgroup",
            {"workgroupName": "w", "namespaceName": "n"},
            "workgroup",
            "workgroup/*",
            id="named-but-the-arn-holds-an-id",
        ),
    ],
)
def test_a_created_resource_is_the_types_pattern(
    host: str, name: str, request_: dict[str, Any], resource_type: str, arn: str
) -> None:
    # the id does not exist before the call: the type's ARN with * there is as tight as it gets
    [found] = [
        i
        for i in generic.resolve(host, name, generic.flat(request_), *EVENT)
        if i.resource_type == resource_type
    ]
    assert found.arns == (f"arn:aws:{host}:us-east-1:{ACCOUNT}:{arn}",)


def test_changing_a_resource_is_not_creating_it() -> None:
    # CreateNetworkAclEntry changes a network ACL: named by its id, never the type's pattern
    found = arns("ec2", "CreateNetworkAclEntry", {"networkAclId": "acl-1", "ruleNumber": 100})
    assert found == {f"arn:aws:ec2:us-east-1:{ACCOUNT}:network-acl/acl-1"}
    assert arns("ec2", "CreateNetworkAclEntry", {"ruleNumber": 100}) == set()


def test_unresolved_says_why() -> None:
    (item,) = generic.resolve("lightsail", "DeleteKeyPair", {"keyPairName": "k"}, *EVENT)
    assert item.arns == ()
    assert "${Id}" in item.reason


def test_request_paths() -> None:
    assert "functionName" in generic.request_paths("lambda")["GetFunction"]
    assert generic.request_paths("cloudfront")["GetDistribution"] == ("id",)
    assert {"restApiId", "stageName"} <= set(generic.request_paths("apigateway")["GetStage"])
    assert "newBudget.budgetName" in generic.request_paths("budgets")["UpdateBudget"]


def test_extractor_and_spec() -> None:
    fields = {"alarmNames": '["a"]', "maxRecords": "5"}
    call = Call("monitoring", "DescribeAlarms", "aws", ACCOUNT, "us-east-1", "p", fields)
    refs = list(generic.extract(call))
    assert [(r.arn, r.actions) for r in refs] == [
        (f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:a", frozenset({"cloudwatch:DescribeAlarms"}))
    ]
    assert refs[0].fmt == action_info("cloudwatch:DescribeAlarms").resource_types[0].arn
    spec = generic.spec("monitoring")
    assert "alarmNames" in spec.fields
    assert "DescribeAlarms" in spec.only["alarmNames"]


def test_models() -> None:
    assert operation_name("GetDistribution2020_05_31") == "GetDistribution"
    (operation,) = find("apigateway", "GetStage")[:1]
    assert operation.request_uri == "/restapis/{restapi_id}/stages/{stage_name}"
    assert {m.uri for m in operation.members if m.uri} == {"restapi_id", "stage_name"}


@pytest.fixture(scope="module")
def report() -> Report:
    return run()


@pytest.mark.slow
def test_coverage(report: Report) -> None:
    counts = report.counts()
    assert sum(counts.values()) > 10_000
    assert report.share() >= FLOOR
    assert counts["wrong"] == 0, [c for c in report.cases if c.outcome == "wrong"][:10]


@pytest.mark.slow
def test_every_resolved_arn_has_its_actions_format(report: Report) -> None:
    bad = []
    for case in report.cases:
        if case.outcome == "extractor":
            continue  # hand-written extractors tag what they build with its format (qualified functions)
        info = action_info(case.action)
        formats = [f for t in info.resource_types for f in generic.alternatives(t.arn)]
        bad += [(case, arn) for arn in case.arns if not any(matches_format(arn, f) for f in formats)]
    assert bad == []


def test_a_call_naming_too_many_resources_gets_none_rather_than_some() -> None:
    # A policy listing 64 of 65 repositories would deny the call: none, with the reason, so "*" is granted.
    names = [f"repo{i}" for i in range(generic.MAX_ARNS + 1)]
    fields = {"repositoryNames": json.dumps(names)}
    [few] = generic.resolve("codecommit", "BatchGetRepositories", {"repositoryNames": '["a", "b"]'}, *WHERE)
    assert few.arns == tuple(f"arn:aws:codecommit:us-east-1:{ACCOUNT}:{n}" for n in ("a", "b"))
    [many] = generic.resolve("codecommit", "BatchGetRepositories", fields, *WHERE)
    assert many.arns == () and f"more than {generic.MAX_ARNS}" in many.reason


def test_a_sibling_named_instead_is_not_needed() -> None:
    """A message is sent as an app instance user *or* bot (one ``ChimeBearer``): naming the user waives the
    bot; without a bearer, nothing says which was needed, and the action stays on ``"*"``."""
    prefix = f"arn:aws:chime:us-east-1:{ACCOUNT}:app-instance/ai-1/"
    request = {"channelArn": prefix + "channel/c-1", "chimeBearer": prefix + "user/u-1", "content": "hi"}
    actions = generic.actions_of("messaging-chime", "SendChannelMessage")
    call = Call("messaging-chime", "SendChannelMessage", "aws", ACCOUNT, "us-east-1", "", request)
    grants = grants_for(call, actions)
    assert {(g.resource, g.kind) for g in grants} == {
        (prefix + "channel/c-1", "resource"),
        (prefix + "user/u-1", "resource"),
    }
    unnamed = {"channelArn": prefix + "channel/c-1", "content": "hi"}
    without = grants_for(
        Call("messaging-chime", "SendChannelMessage", "aws", ACCOUNT, "us-east-1", "", unnamed), actions
    )
    assert [(g.resource, g.kind) for g in without] == [("*", "fallback")]
