"""Resources of one call, action by action: what the request names or creates, what falls back to "*"."""

from __future__ import annotations

from typing import Any

import pytest

from trailsmith.actions.mapping import map_event
from trailsmith.policy.arns import allowed_characters, build, covers, literal, matches_format
from trailsmith.policy.extract.base import Call, Known
from trailsmith.policy.passrole import passed_roles
from trailsmith.policy.resources import grants_for

ACCOUNT, REGION = "111122223333", "eu-west-1"
USER = f"arn:aws:iam::{ACCOUNT}:user/dev/carol"


def call(
    source: str,
    name: str,
    fields: dict[str, str] | None = None,
    *,
    resources: tuple[Any, ...] = (),
    ec2_ids: tuple[str, ...] = (),
    known: Known | None = None,
    principal: str = USER,
) -> Call:
    return Call(
        source, name, "aws", ACCOUNT, REGION, principal, fields or {}, resources, ec2_ids, known or Known()
    )


def resources_of(c: Call) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for grant in grants_for(c, map_event(f"{c.source}.amazonaws.com", c.name).actions):
        out.setdefault(grant.action, set()).add(grant.resource)
    return out


def test_copy_object_writes_the_target_and_reads_the_source() -> None:
    got = resources_of(
        call(
            "s3",
            "CopyObject",
            {"bucketName": "dst", "key": "a/b.txt", "x-amz-copy-source": "src/in%20put.txt?versionId=3"},
        )
    )
    assert got["s3:PutObject"] == {"arn:aws:s3:::dst/a/b.txt"}
    assert got["s3:GetObject"] == {"arn:aws:s3:::src/in put.txt"}


def test_object_calls_without_a_key_get_the_bucket_s_objects() -> None:
    assert resources_of(call("s3", "DeleteObjects", {"bucketName": "b"})) == {
        "s3:DeleteObject": {"arn:aws:s3:::b/*"}
    }
    assert resources_of(call("s3", "ListObjectsV2", {"bucketName": "b"})) == {
        "s3:ListBucket": {"arn:aws:s3:::b"}
    }


def test_wildcard_characters_in_names_are_escaped() -> None:
    got = resources_of(call("s3", "GetObject", {"bucketName": "b", "key": "2024/*final?$.csv"}))
    [arn] = got["s3:GetObject"]
    assert arn == "arn:aws:s3:::b/2024/${*}final${?}${$}.csv"
    assert covers(arn, "arn:aws:s3:::b/2024/*final?$.csv") and not covers(
        arn, "arn:aws:s3:::b/2024/xfinalx$.csv"
    )


def test_dynamodb_query_on_an_index_is_scoped_to_the_index() -> None:
    got = resources_of(call("dynamodb", "Query", {"tableName": "Orders", "indexName": "by-status"}))
    assert got == {"dynamodb:Query": {f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Orders/index/by-status"}}


def test_re_encrypt_splits_source_and_destination_keys() -> None:
    source = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-1111-1111-1111-111111111111"
    target = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/22222222-2222-2222-2222-222222222222"
    got = resources_of(
        call(
            "kms",
            "ReEncrypt",
            {"destinationKeyId": target},
            resources=((source, "AWS::KMS::Key", None), (target, "AWS::KMS::Key", None)),
        )
    )
    assert got == {"kms:ReEncryptFrom": {source}, "kms:ReEncryptTo": {target}}


def test_kms_decrypt_takes_the_key_from_resources() -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/33333333-3333-3333-3333-333333333333"
    assert resources_of(call("kms", "Decrypt", {}, resources=((key, "AWS::KMS::Key", None),))) == {
        "kms:Decrypt": {key}
    }


def test_secret_names_match_their_arn_suffix() -> None:
    [pattern] = resources_of(call("secretsmanager", "GetSecretValue", {"secretId": "prod/db"}))[
        "secretsmanager:GetSecretValue"
    ]
    assert pattern == f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-??????"
    assert covers(pattern, f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-AbC123")
    assert not covers(pattern, f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-admin-AbC123")


def test_ssm_parameters_documents_and_instances() -> None:
    got = resources_of(
        call(
            "ssm",
            "SendCommand",
            {
                "documentName": "AWS-RunShellScript",
                "instanceIds": '["i-0123456789abcdef0","mi-0123456789abcdef0"]',
            },
        )
    )
    assert got["ssm:SendCommand"] == {
        f"arn:aws:ssm:{REGION}::document/AWS-RunShellScript",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:managed-instance/mi-0123456789abcdef0",
    }
    by_tag = resources_of(
        call("ssm", "SendCommand", {"documentName": "Ops-Patch", "targets": '[{"key":"tag:a"}]'})
    )
    assert by_tag["ssm:SendCommand"] == {
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/Ops-Patch",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:managed-instance/*",
    }
    got = resources_of(call("ssm", "GetParameters", {"names": '["/app/a", "b:3"]'}))
    assert got["ssm:GetParameters"] == {
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/a",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/b",
    }


def test_queue_urls_become_arns_in_the_queue_owners_account() -> None:
    got = resources_of(
        call("sqs", "SendMessage", {"queueUrl": f"https://sqs.{REGION}.amazonaws.com/444455556666/jobs"})
    )
    assert got == {"sqs:SendMessage": {f"arn:aws:sqs:{REGION}:444455556666:jobs"}}


def test_lambda_names_partial_arns_and_qualifiers() -> None:
    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"
    assert resources_of(call("lambda", "Invoke", {"functionName": "app"}))["lambda:InvokeFunction"] == {
        f"{fn}:app"
    }
    assert resources_of(call("lambda", "Invoke", {"functionName": "app", "qualifier": "live"}))[
        "lambda:InvokeFunction"
    ] == {f"{fn}:app:live"}
    other = "arn:aws:lambda:us-east-1:444455556666:function:remote"
    assert resources_of(call("lambda", "Invoke", {"functionName": other}))["lambda:InvokeFunction"] == {other}


def test_a_layer_version_named_by_its_arn() -> None:
    # GetLayerVersionByArn needs lambda:GetLayerVersion (the reference data says so) on the version it names.
    layer = "arn:aws:lambda:us-east-1:444455556666:layer:deps:3"
    got = resources_of(call("lambda", "GetLayerVersionByArn", {"arn": layer}))
    assert got == {"lambda:GetLayerVersion": {layer}}


def test_role_names_get_their_path_from_the_warehouse_or_any_path() -> None:
    known = Known.from_arns([f"arn:aws:iam::{ACCOUNT}:role/service-role/app"])
    assert resources_of(call("iam", "GetRole", {"roleName": "app"}, known=known)) == {
        "iam:GetRole": {f"arn:aws:iam::{ACCOUNT}:role/service-role/app"}
    }
    unknown = resources_of(call("iam", "GetRole", {"roleName": "other"}))["iam:GetRole"]
    assert unknown == {f"arn:aws:iam::{ACCOUNT}:role/other", f"arn:aws:iam::{ACCOUNT}:role/*/other"}
    assert all(
        any(covers(p, f"arn:aws:iam::{ACCOUNT}:role{path}other") for p in unknown) for path in ("/", "/a/b/")
    )


def test_user_calls_without_a_user_act_on_the_caller() -> None:
    assert resources_of(call("iam", "ListAccessKeys")) == {"iam:ListAccessKeys": {USER}}


def test_created_resources_are_scoped_to_the_account_and_region() -> None:
    got = resources_of(
        call("ec2", "RunInstances", ec2_ids=("ami-0123456789abcdef0", "subnet-0123456789abcdef0"))
    )
    assert got["ec2:RunInstances"] == {
        f"arn:aws:ec2:{REGION}::image/ami-0123456789abcdef0",
        f"arn:aws:ec2:{REGION}:*:subnet/subnet-0123456789abcdef0",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/*",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/*",
        # no security group named: the VPC's default one, in the account
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/*",
    }
    snapshot = resources_of(call("ec2", "CreateSnapshot", ec2_ids=("vol-0123456789abcdef0",)))[
        "ec2:CreateSnapshot"
    ]
    assert snapshot == {
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-0123456789abcdef0",
        f"arn:aws:ec2:{REGION}::snapshot/*",
    }


def test_calls_naming_nothing_of_a_known_kind_act_on_all_of_it_in_the_account() -> None:
    got = resources_of(call("monitoring", "DescribeAlarms", {"stateValue": "ALARM"}))
    assert got == {"cloudwatch:DescribeAlarms": {f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"}}
    prefix = resources_of(call("monitoring", "DescribeAlarms", {"alarmNamePrefix": "orders-"}))
    assert prefix == {"cloudwatch:DescribeAlarms": {f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:orders-*"}}


def test_unreadable_resources_fall_back_to_star_for_that_action_only() -> None:
    # The call recorded no resources[], and its request names the cluster in no field that Redshift's model
    # has (no hand-written extractor either): nothing can be read, so "*", reported as a fallback.
    grants = grants_for(
        call("redshift", "DeleteCluster", {"clusterName": "warehouse"}),
        ("redshift:DeleteCluster", "redshift:DescribeClusters"),
    )
    by_action = {g.action: g for g in grants}
    assert (by_action["redshift:DeleteCluster"].resource, by_action["redshift:DeleteCluster"].kind) == (
        "*",
        "fallback",
    )
    assert "no resource of type cluster" in by_action["redshift:DeleteCluster"].note
    assert by_action["redshift:DescribeClusters"].note.startswith("redshift:DescribeClusters: ")


def test_services_without_an_extractor_are_scoped_by_the_resolver() -> None:
    # The model's member (ClusterIdentifier, recorded as clusterIdentifier) fills ${ClusterName}.
    [grant] = grants_for(
        call("redshift", "DeleteCluster", {"clusterIdentifier": "warehouse"}), ("redshift:DeleteCluster",)
    )
    assert (grant.resource, grant.kind) == (
        f"arn:aws:redshift:{REGION}:{ACCOUNT}:cluster:warehouse",
        "resource",
    )


def test_actions_without_resource_types_get_star() -> None:
    [grant] = grants_for(
        call("ec2", "DescribeInstances", ec2_ids=("i-0123456789abcdef0",)), ("ec2:DescribeInstances",)
    )
    assert (grant.resource, grant.kind) == ("*", "any")


def test_resources_of_unknown_services_are_matched_by_shape() -> None:
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/T"
    other = "arn:aws:s3:::unrelated"
    c = Call("dax", "X", "aws", ACCOUNT, REGION, USER, {}, ((table, None, None), (other, None, None)))
    [grant] = grants_for(c, ("dynamodb:GetItem",))
    assert grant.resource == table


@pytest.mark.parametrize(
    ("source", "name", "fields", "service", "role"),
    [
        (
            "lambda",
            "CreateFunction20150331",
            {"role": f"arn:aws:iam::{ACCOUNT}:role/fn"},
            "lambda.amazonaws.com",
            f"arn:aws:iam::{ACCOUNT}:role/fn",
        ),
        (
            "ecs",
            "RegisterTaskDefinition",
            {"executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/x"},
            "ecs-tasks.amazonaws.com",
            f"arn:aws:iam::{ACCOUNT}:role/x",
        ),
        (
            "cloudformation",
            "CreateStack",
            {"stackName": "s", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/cfn"},
            "cloudformation.amazonaws.com",
            f"arn:aws:iam::{ACCOUNT}:role/cfn",
        ),
        (
            "states",
            "CreateStateMachine",
            {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/sfn"},
            "states.amazonaws.com",
            f"arn:aws:iam::{ACCOUNT}:role/sfn",
        ),
        ("glue", "CreateJob", {"role": "etl"}, "glue.amazonaws.com", f"arn:aws:iam::{ACCOUNT}:role/*/etl"),
        (
            "s3",
            "PutBucketReplication",
            {"ReplicationConfiguration.Role": f"arn:aws:iam::{ACCOUNT}:role/r"},
            "s3.amazonaws.com",
            f"arn:aws:iam::{ACCOUNT}:role/r",
        ),
        (
            "events",
            "PutTargets",
            {"targets": f'[{{"id":"1","roleArn":"arn:aws:iam::{ACCOUNT}:role/ev"}}]'},
            "events.amazonaws.com",
            f"arn:aws:iam::{ACCOUNT}:role/ev",
        ),
    ],
)
def test_passed_roles(source: str, name: str, fields: dict[str, str], service: str, role: str) -> None:
    c = call(source, name, fields)
    passed = list(passed_roles(c, map_event(f"{source}.amazonaws.com", name).actions))
    assert passed and {p.service for p in passed} == {service}
    assert role in {p.role for p in passed}


def test_instance_profiles_resolve_through_add_role_to_instance_profile() -> None:
    fields = {"iamInstanceProfile": '{"name": "web"}'}
    known = Known.from_arns([f"arn:aws:iam::{ACCOUNT}:role/apps/web-role"], {(ACCOUNT, "web"): ("web-role",)})
    [passed] = passed_roles(call("ec2", "RunInstances", fields, known=known), ("ec2:RunInstances",))
    assert (
        passed.role == f"arn:aws:iam::{ACCOUNT}:role/apps/web-role"
        and "AddRoleToInstanceProfile" in passed.note
    )
    assumed = list(passed_roles(call("ec2", "RunInstances", fields), ("ec2:RunInstances",)))
    assert {p.role for p in assumed} == {
        f"arn:aws:iam::{ACCOUNT}:role/web",
        f"arn:aws:iam::{ACCOUNT}:role/*/web",
    }
    assert all("assumed" in p.note for p in assumed)


def test_no_role_is_passed_by_calls_that_do_not_pass_one() -> None:
    c = call(
        "lambda",
        "UpdateFunctionCode20150331v2",
        {"functionName": "f", "role": f"arn:aws:iam::{ACCOUNT}:role/x"},
    )
    assert list(passed_roles(c, ("lambda:UpdateFunctionCode",))) == []


def test_arn_helpers() -> None:
    fmt = "arn:${Partition}:s3:::${BucketName}"
    assert matches_format("arn:aws:s3:::b", fmt) and not matches_format("arn:aws:s3:::b/k", fmt)
    assert (
        build("arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}", {"Partition": "aws"})
        == "arn:aws:logs:*:*:log-group:*"
    )
    assert literal("a$b") == "a${$}b"
    assert allowed_characters("arn:aws:s3:::b/\u4e2d\u6587.txt") == ("arn:aws:s3:::b/*.txt", True)
    assert allowed_characters("arn:aws:s3:::b/r\u00e9sum\u00e9") == ("arn:aws:s3:::b/r\u00e9sum\u00e9", False)


def test_request_dependent_calls_keep_every_candidate_and_say_so(tmp_path: Any) -> None:
    import trailsmith
    import trailsmith.policy.generator as policy
    from helpers.events import event, write_records

    partiql = event(
        1,
        eventSource="dynamodb.amazonaws.com",
        eventName="ExecuteStatement",
        requestParameters={"statement": "SELECT * FROM Orders"},
        resources=[
            {"type": "AWS::DynamoDB::Table", "ARN": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Orders"}
        ],
    )
    write_records(tmp_path / "in" / "a.json.gz", [partiql])
    trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    [p] = policy.generate(tmp_path / "wh")
    assert set(p.actions) == {
        "dynamodb:PartiQLSelect",
        "dynamodb:PartiQLInsert",
        "dynamodb:PartiQLUpdate",
        "dynamodb:PartiQLDelete",
    }
    [statement] = p.statements
    assert statement.resources == (f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Orders",)
    assert any("depending on its request" in n for n in statement.notes)


RDS = f"arn:aws:rds:{REGION}:{ACCOUNT}"


def test_rds_calls_are_scoped_to_what_they_name_in_both_spellings() -> None:
    # RDS keeps identifiers in lower case; IAM compares ARNs case-sensitively: both are allowed.
    got = resources_of(
        call("rds", "CreateDBInstance", {"dBInstanceIdentifier": "OrdersDB", "dBSubnetGroupName": "app"})
    )
    assert got == {"rds:CreateDBInstance": {f"{RDS}:db:OrdersDB", f"{RDS}:db:ordersdb", f"{RDS}:subgrp:app"}}
    assert resources_of(
        call("rds", "ModifyDBSnapshotAttribute", {"dBSnapshotIdentifier": "exfiltration"})
    ) == {"rds:ModifyDBSnapshotAttribute": {f"{RDS}:snapshot:exfiltration"}}


def test_rds_sources_given_as_arns_keep_their_region_and_account_and_colons() -> None:
    source = "arn:aws:rds:us-east-1:444455556666:snapshot:rds:orders-2024-08-01-05-10"  # an automated one
    got = resources_of(
        call(
            "rds",
            "CopyDBSnapshot",
            {"sourceDBSnapshotIdentifier": source, "targetDBSnapshotIdentifier": "copy"},
        )
    )
    assert got == {"rds:CopyDBSnapshot": {source, f"{RDS}:snapshot:copy"}}
    tagged = resources_of(call("rds", "AddTagsToResource", {"resourceName": f"{RDS}:cluster:c1"}))
    assert tagged == {"rds:AddTagsToResource": {f"{RDS}:cluster:c1"}}


def test_rds_kinds_a_call_left_to_defaults_are_any_of_that_kind_in_the_account() -> None:
    grants = grants_for(
        call("rds", "CreateDBCluster", {"dBClusterIdentifier": "c1"}),
        map_event("rds.amazonaws.com", "CreateDBCluster").actions,
    )
    assert {(g.resource, g.kind) for g in grants} >= {
        (f"{RDS}:cluster:c1", "resource"),
        (f"{RDS}:subgrp:*", "implied"),
        (f"{RDS}:cluster-pg:*", "implied"),
    }
    assert all(g.resource != "*" for g in grants)


def test_route53_resolver_ids_become_their_arns() -> None:
    resolver = f"arn:aws:route53resolver:{REGION}:{ACCOUNT}"
    got = resources_of(
        call("route53resolver", "DeleteResolverQueryLogConfig", {"resolverQueryLogConfigId": "rqlc-1"})
    )
    assert got == {
        "route53resolver:DeleteResolverQueryLogConfig": {f"{resolver}:resolver-query-log-config/rqlc-1"}
    }
    created = resources_of(
        call("route53resolver", "CreateResolverRule", {"name": "r", "domainName": "corp."})
    )
    assert created == {"route53resolver:CreateResolverRule": {f"{resolver}:resolver-rule/*"}}


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # a foundation model id: that model in the call's region, and no other kind of model is needed
        ("amazon.nova-pro-v1:0", {f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-pro-v1:0"}),
        # a cross-region inference profile: the profile, and its model in whichever region it routes to
        (
            "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
            {
                f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/"
                "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
                "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0",
            },
        ),
        # an ARN whose model id holds a colon keeps its kind
        (
            f"arn:aws:bedrock:{REGION}::foundation-model/meta.llama3-8b-instruct-v1:0",
            {f"arn:aws:bedrock:{REGION}::foundation-model/meta.llama3-8b-instruct-v1:0"},
        ),
        # an application inference profile routes to models CloudTrail does not name
        (
            f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/p1",
            {
                f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/p1",
                f"arn:aws:bedrock:*:{ACCOUNT}:inference-profile/*",
                "arn:aws:bedrock:*::foundation-model/*",
            },
        ),
    ],
)
def test_bedrock_invocations_are_scoped_to_the_model(model: str, expected: set[str]) -> None:
    for event in ("InvokeModel", "Converse"):
        assert resources_of(call("bedrock", event, {"modelId": model})) == {"bedrock:InvokeModel": expected}


def test_bedrock_async_invocations_may_create_the_invocation() -> None:
    got = resources_of(call("bedrock", "StartAsyncInvoke", {"modelId": "amazon.nova-reel-v1:0"}))
    assert got == {
        "bedrock:InvokeModel": {
            f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-reel-v1:0",
            f"arn:aws:bedrock:{REGION}:{ACCOUNT}:async-invoke/*",
        }
    }


def test_an_unnamed_bedrock_model_is_still_a_fallback() -> None:
    [grant] = grants_for(call("bedrock", "InvokeModel", {}), ("bedrock:InvokeModel",))
    assert (grant.resource, grant.kind) == ("*", "fallback")


def test_a_call_naming_none_of_the_optional_types_it_could_name_is_not_a_fallback() -> None:
    [grant] = grants_for(call("rds", "DescribeDBInstances", {}), ("rds:DescribeDBInstances",))
    assert (grant.resource, grant.kind) == ("*", "any")
    [named] = grants_for(
        call("rds", "DescribeDBInstances", {"dBInstanceIdentifier": "orders"}), ("rds:DescribeDBInstances",)
    )
    assert (named.resource, named.kind) == (f"{RDS}:db:orders", "resource")


def _arns(source: str, name: str, fields: dict[str, str]) -> dict[str, set[str]]:
    return resources_of(call(source, name, fields))


def test_stream_calls_are_scoped_to_their_stream() -> None:
    stream = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/clicks"
    assert _arns("kinesis", "PutRecords", {"streamName": "clicks"}) == {"kinesis:PutRecords": {stream}}
    consumer = f"{stream}/consumer/app:1690000000"
    assert _arns("kinesis", "SubscribeToShard", {"consumerARN": consumer}) == {
        "kinesis:SubscribeToShard": {consumer}
    }
    # GetRecords names only a shard iterator: the stream comes from resources[], or the call falls back.
    c = call(
        "kinesis",
        "GetRecords",
        {"shardIterator": "AAAA"},
        resources=((stream, "AWS::Kinesis::Stream", None),),
    )
    assert {g.resource for g in grants_for(c, ("kinesis:GetRecords",))} == {stream}
    firehose = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/to-s3"
    assert _arns("firehose", "PutRecordBatch", {"deliveryStreamName": "to-s3"}) == {
        "firehose:PutRecordBatch": {firehose}
    }


def test_athena_queries_are_scoped_to_their_workgroup() -> None:
    athena = f"arn:aws:athena:{REGION}:{ACCOUNT}"
    assert _arns("athena", "StartQueryExecution", {"workGroup": "analysts"}) == {
        "athena:StartQueryExecution": {f"{athena}:workgroup/analysts"}
    }
    # An execution id does not say its workgroup: any workgroup of the account and region.
    assert _arns("athena", "GetQueryResults", {"queryExecutionId": "q1"}) == {
        "athena:GetQueryResults": {f"{athena}:workgroup/*"}
    }
    assert _arns("athena", "GetDatabase", {"catalogName": "AwsDataCatalog", "databaseName": "db"}) == {
        "athena:GetDatabase": {f"{athena}:datacatalog/AwsDataCatalog"}
    }


def test_eks_calls_are_scoped_to_the_cluster_and_its_named_parts() -> None:
    eks = f"arn:aws:eks:{REGION}:{ACCOUNT}"
    assert _arns("eks", "DescribeCluster", {"name": "prod"}) == {
        "eks:DescribeCluster": {f"{eks}:cluster/prod"}
    }
    assert _arns("eks", "DescribeNodegroup", {"clusterName": "prod", "nodegroupName": "ng1"}) == {
        "eks:DescribeNodegroup": {f"{eks}:nodegroup/prod/ng1/*"}
    }
    # Optional kinds the call did not name (pod identity associations of CreateAddon) are not granted.
    assert _arns("eks", "CreateAddon", {"clusterName": "prod", "addonName": "vpc-cni"}) == {
        "eks:CreateAddon": {f"{eks}:cluster/prod"}
    }
    entry = {"clusterName": "prod", "principalArn": f"arn:aws:iam::{ACCOUNT}:role/dev"}
    assert _arns(
        "eks", "AssociateAccessPolicy", entry | {"policyArn": "arn:aws:eks::aws:cluster-access-policy/View"}
    ) == {"eks:AssociateAccessPolicy": {f"{eks}:access-entry/prod/*/*/*/*"}}


def test_codebuild_build_calls_are_authorised_on_the_build_s_project() -> None:
    project = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project"
    assert _arns("codebuild", "BatchGetBuilds", {"ids": '["api:1111-2222", "web:3333"]'}) == {
        "codebuild:BatchGetBuilds": {f"{project}/api", f"{project}/web"}
    }
    build = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/api:1111"
    assert _arns("codebuild", "StopBuild", {"id": build}) == {"codebuild:StopBuild": {f"{project}/api"}}
    assert _arns("codebuild", "CreateProject", {"name": "api"}) == {
        "codebuild:CreateProject": {f"{project}/api"}
    }


def test_glue_catalog_calls_need_the_catalog_the_database_and_the_table() -> None:
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    assert _arns("glue", "GetTable", {"databaseName": "sales", "name": "orders"}) == {
        "glue:GetTable": {f"{glue}:catalog", f"{glue}:database/sales", f"{glue}:table/sales/orders"}
    }
    # A call on all tables of a database: the database's tables, not every table.
    assert _arns("glue", "GetTables", {"databaseName": "sales"}) == {
        "glue:GetTables": {f"{glue}:catalog", f"{glue}:database/sales", f"{glue}:table/sales/*"}
    }
    assert _arns("glue", "CreateTable", {"databaseName": "sales", "tableInput.name": "new"}) == {
        "glue:CreateTable": {f"{glue}:catalog", f"{glue}:database/sales", f"{glue}:table/sales/new"}
    }


def test_glue_calls_on_another_account_s_catalog_are_scoped_to_that_account() -> None:
    other = f"arn:aws:glue:{REGION}:444455556666"
    fields = {"catalogId": "444455556666", "databaseName": "sales", "tableName": "orders"}
    assert _arns("glue", "GetPartitions", fields) == {
        "glue:GetPartitions": {f"{other}:catalog", f"{other}:database/sales", f"{other}:table/sales/orders"}
    }
    assert _arns("glue", "GetDatabases", {"catalogId": "444455556666"}) == {
        "glue:GetDatabases": {f"{other}:catalog", f"{other}:database/*"}
    }


@pytest.mark.parametrize(
    ("name", "fields", "resource"),
    [
        ("StartCrawler", {"name": "c1"}, "crawler/c1"),
        ("StartTrigger", {"name": "t1"}, "trigger/t1"),
        ("GetWorkflowRun", {"name": "wf", "runId": "r1"}, "workflow/wf"),
        ("CreateJob", {"name": "etl", "role": "etl-role"}, "job/etl"),
        ("GetJobRun", {"jobName": "etl", "runId": "r1"}, "job/etl"),
    ],
)
def test_glue_calls_naming_their_resource_name(name: str, fields: dict[str, str], resource: str) -> None:
    action = f"glue:{name}"
    got = _arns("glue", name, fields)
    assert got[action] == {f"arn:aws:glue:{REGION}:{ACCOUNT}:{resource}"}


def test_route53_ids_are_read_with_or_without_their_kind_prefix() -> None:
    zone = "arn:aws:route53:::hostedzone/Z0123456789ABC"
    for written in ("/hostedzone/Z0123456789ABC", "Z0123456789ABC"):
        assert _arns("route53", "ChangeResourceRecordSets", {"hostedZoneId": written}) == {
            "route53:ChangeResourceRecordSets": {zone}
        }
    assert _arns("route53", "GetHostedZone", {"id": "Z0123456789ABC"}) == {"route53:GetHostedZone": {zone}}
    assert _arns("route53", "GetChange", {"id": "/change/C2682N5HXP0BZ4"}) == {
        "route53:GetChange": {"arn:aws:route53:::change/C2682N5HXP0BZ4"}
    }


def test_auto_scaling_groups_are_named_under_any_group_id() -> None:
    assert _arns(
        "autoscaling", "SetDesiredCapacity", {"autoScalingGroupName": "web", "desiredCapacity": "3"}
    ) == {
        "autoscaling:SetDesiredCapacity": {
            f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/web"
        }
    }


def test_load_balancer_calls_take_the_arns_they_name_whatever_the_kind() -> None:
    elb = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"
    listener = f"{elb}:listener/net/edge/50dc6c495c0c9188/f2f7dc8efc522ab2"
    # The reference lists a listener of each kind as required: the one named is enough.
    assert _arns("elasticloadbalancing", "ModifyListener", {"listenerArn": listener}) == {
        "elasticloadbalancing:ModifyListener": {listener}
    }
    group = f"{elb}:targetgroup/web/73e2d6bc24d8a067"
    assert _arns("elasticloadbalancing", "RegisterTargets", {"targetGroupArn": group}) == {
        "elasticloadbalancing:RegisterTargets": {group}
    }
    assert _arns("elasticloadbalancing", "CreateTargetGroup", {"name": "api"}) == {
        "elasticloadbalancing:CreateTargetGroup": {f"{elb}:targetgroup/api/*"}
    }
    assert _arns(
        "elasticloadbalancing", "RegisterInstancesWithLoadBalancer", {"loadBalancerName": "classic"}
    ) == {"elasticloadbalancing:RegisterInstancesWithLoadBalancer": {f"{elb}:loadbalancer/classic"}}


def test_codepipeline_calls_are_scoped_to_the_pipeline_stage_or_action_they_name() -> None:
    pipeline = f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:deploy"
    assert _arns("codepipeline", "StartPipelineExecution", {"name": "deploy"}) == {
        "codepipeline:StartPipelineExecution": {pipeline}
    }
    approval = {"pipelineName": "deploy", "stageName": "Prod", "actionName": "Approve"}
    assert _arns("codepipeline", "PutApprovalResult", approval) == {
        "codepipeline:PutApprovalResult": {f"{pipeline}/Prod/Approve"}
    }


def test_cognito_user_pool_calls_are_scoped_to_the_pool() -> None:
    assert _arns("cognito-idp", "AdminGetUser", {"userPoolId": "eu-west-1_AbCdEf123", "username": "u"}) == {
        "cognito-idp:AdminGetUser": {f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/eu-west-1_AbCdEf123"}
    }


def test_sagemaker_names_are_allowed_as_given_and_in_lower_case() -> None:
    endpoint = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint"
    assert _arns("sagemaker", "InvokeEndpoint", {"endpointName": "Churn-Prod"}) == {
        "sagemaker:InvokeEndpoint": {f"{endpoint}/Churn-Prod", f"{endpoint}/churn-prod"}
    }
    assert _arns("sagemaker", "CreateEndpoint", {"endpointName": "e1", "endpointConfigName": "c1"}) == {
        "sagemaker:CreateEndpoint": {
            f"{endpoint}/e1",
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/c1",
        }
    }
