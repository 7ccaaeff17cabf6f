"""The long tail of services, end to end: calls that name their one resource get that resource.

Services without a hand-written extractor get their resources from the data-driven resolver
(:mod:`trailsmith.policy.extract.generic`), which also fills in where an extractor reads nothing
(:mod:`trailsmith.policy.extract.layered`): the records below are written as CloudTrail writes them
(member names with a lower-case first letter, API-version suffixes on CloudFront's event names), ingested
into a warehouse, and turned into a policy. Every action must be scoped to the exact ARN the request
named, never ``"*"``; a call that names no resource (a list call) keeps ``"*"`` as what it is.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import trailsmith
from helpers.events import ACCOUNT, event
from trailsmith.policy.extract.base import Call
from trailsmith.policy.extract.registry import spec_for, specs
from trailsmith.policy.generator import generate
from trailsmith.policy.usage import generated_hosts

REGION = "eu-west-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci/Builder"
CLUSTER = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:orders"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:orders-AbCdEf"
CERTIFICATE = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"

#: (eventSource, eventName, requestParameters, region) -> the action and the one resource it needs
CALLS: list[tuple[str, str, dict[str, object], str, str, str]] = [
    (
        "cloudfront.amazonaws.com",
        "GetDistribution2020_05_31",
        {"id": "E1ABCDEFGHIJ"},
        "us-east-1",
        "cloudfront:GetDistribution",
        f"arn:aws:cloudfront::{ACCOUNT}:distribution/E1ABCDEFGHIJ",
    ),
    (
        "codecommit.amazonaws.com",
        "GetRepository",
        {"repositoryName": "app"},
        REGION,
        "codecommit:GetRepository",
        f"arn:aws:codecommit:{REGION}:{ACCOUNT}:app",
    ),
    (
        "apigateway.amazonaws.com",
        "GetStage",
        {"restApiId": "a1b2c3d4e5", "stageName": "prod"},
        REGION,
        "apigateway:GET",
        f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5/stages/prod",
    ),
    (
        "elasticfilesystem.amazonaws.com",
        "DescribeFileSystems",
        {"fileSystemId": "fs-0123456789abcdef0"},
        REGION,
        "elasticfilesystem:DescribeFileSystems",
        f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/fs-0123456789abcdef0",
    ),
    (
        "acm.amazonaws.com",
        "DescribeCertificate",
        {"certificateArn": CERTIFICATE},
        REGION,
        "acm:DescribeCertificate",
        CERTIFICATE,
    ),
    (
        "es.amazonaws.com",
        "DescribeElasticsearchDomain",
        {"domainName": "logs"},
        REGION,
        "es:DescribeElasticsearchDomain",
        f"arn:aws:es:{REGION}:{ACCOUNT}:domain/logs",
    ),
    (
        "codedeploy.amazonaws.com",
        "GetDeploymentGroup",
        {"applicationName": "web", "deploymentGroupName": "blue"},
        REGION,
        "codedeploy:GetDeploymentGroup",
        f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup:web/blue",
    ),
    (
        "elasticmapreduce.amazonaws.com",
        "DescribeCluster",
        {"clusterId": "j-2AXXXXXXGAPLF"},
        REGION,
        "elasticmapreduce:DescribeCluster",
        f"arn:aws:elasticmapreduce:{REGION}:{ACCOUNT}:cluster/j-2AXXXXXXGAPLF",
    ),
    (
        "rds-data.amazonaws.com",
        "ExecuteStatement",
        {"resourceArn": CLUSTER, "secretArn": SECRET, "database": "orders"},
        REGION,
        "rds-data:ExecuteStatement",
        CLUSTER,
    ),
]

#: Calls to services with a hand-written extractor that does not read what these name: the resolver fills in
FILLED_IN: list[tuple[str, str, dict[str, object], str, str, str]] = [
    (
        "lambda.amazonaws.com",
        "GetLayerVersion20181031",
        {"layerName": "geo", "versionNumber": 7},
        REGION,
        "lambda:GetLayerVersion",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:geo:7",
    ),
    (
        "monitoring.amazonaws.com",
        "GetMetricStream",
        {"name": "to-firehose"},
        REGION,
        "cloudwatch:GetMetricStream",
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:metric-stream/to-firehose",
    ),
    (
        "events.amazonaws.com",
        "DescribeArchive",
        {"archiveName": "orders"},
        REGION,
        "events:DescribeArchive",
        f"arn:aws:events:{REGION}:{ACCOUNT}:archive/orders",
    ),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("long-tail")
    records = [
        event(
            number,
            eventSource=source,
            eventName=name,
            requestParameters=request,
            awsRegion=region,
            resources=None,
            eventCategory="Management",
            managementEvent=True,
        )
        for number, (source, name, request, region, _, _) in enumerate(CALLS + FILLED_IN)
    ]
    records.append(
        event(
            len(CALLS + FILLED_IN),
            eventSource="cloudfront.amazonaws.com",
            eventName="ListDistributions2020_05_31",
            requestParameters=None,
            awsRegion="us-east-1",
            resources=None,
            eventCategory="Management",
        )
    )
    with gzip.open(root / "calls.json.gz", "wt") as handle:
        json.dump({"Records": records}, handle)
    report = trailsmith.ingest([str(root / "calls.json.gz")], root / "wh", workers=1)
    assert report.events_new == len(CALLS + FILLED_IN) + 1 and report.quarantined == 0
    return root / "wh"


def test_every_named_resource_is_scoped(warehouse: Path) -> None:
    [policy] = generate(warehouse, [ROLE], resources="exact")
    granted = {
        (action, resource) for s in policy.statements for action in s.actions for resource in s.resources
    }
    expected = {(action, arn) for *_, action, arn in CALLS + FILLED_IN}
    assert expected <= granted
    assert policy.fallbacks == ()
    assert ("cloudfront:ListDistributions", "*") in granted  # a list call names nothing: "*" as what it is
    assert {resource for _, resource in granted} == {arn for *_, arn in CALLS + FILLED_IN} | {"*"}


def test_the_resolver_serves_every_service_and_fills_in_for_extractors(warehouse: Path) -> None:
    hosts = {source.removesuffix(".amazonaws.com") for source, *_ in CALLS}
    assert not hosts & set(specs())  # none of these has a hand-written extractor
    filled = {source.removesuffix(".amazonaws.com") for source, *_ in FILLED_IN}
    assert filled <= set(specs())
    calls = [(source, name) for source, name, *_ in CALLS + FILLED_IN]
    calls += [("s3.amazonaws.com", "GetObject"), ("signin.amazonaws.com", "ConsoleLogin")]
    assert set(generated_hosts(calls)) == hosts | filled
    # a service with an extractor costs nothing more when none of its calls needs the resolver
    assert generated_hosts([("lambda.amazonaws.com", "Invoke20150331")]) == ()
    # S3's requests do not use botocore's member names: its extractor stays alone
    assert spec_for("s3") is specs()["s3"]
    assert spec_for("not-a-service") is None
    lambda_spec = spec_for("lambda")
    assert lambda_spec is not None and lambda_spec is not specs()["lambda"]
    # the resolver's fields are pulled only for the operations it fills in for, after the extractor's
    assert lambda_spec.fields[: len(specs()["lambda"].fields)] == specs()["lambda"].fields
    assert "GetLayerVersion" in lambda_spec.only["layerName"]
    assert "Invoke" not in lambda_spec.only["layerName"]


def test_the_extractor_wins_where_it_names_something() -> None:
    # a DynamoDB query on an index is authorised on the index alone; the resolver must not add the table
    call = Call(
        "dynamodb", "Query", "aws", ACCOUNT, REGION, ROLE, {"tableName": "orders", "indexName": "by-day"}
    )
    spec = spec_for("dynamodb")
    assert spec is not None
    arns = {ref.arn for ref in spec.extract(call)}
    assert arns == {f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/index/by-day"}


def test_explain_says_where_each_resource_came_from(warehouse: Path) -> None:
    [policy] = generate(warehouse, [ROLE], resources="exact")
    notes = {n for s in policy.statements if s.actions == ("apigateway:GET",) for n in s.notes}
    assert any("/restapis/a1b2c3d4e5/stages/prod" in n for n in notes), notes
