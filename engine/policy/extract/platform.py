"""Resource extractors for RDS, Route 53 and its Resolver, Bedrock, Kinesis, Firehose, Athena, EKS,
CodeBuild, CodePipeline, Auto Scaling, Elastic Load Balancing, Cognito user pools and SageMaker.

Field names are the request members of botocore's service models with a lower-case first letter, as
CloudTrail records them (``dBInstanceIdentifier``, ``resolverQueryLogConfigId``, ``modelId``); the ARN
shapes come from the IAM reference data. The facts that need a comment are commented where they are used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from trailsmith.policy.arns import arn_format, literal
from trailsmith.policy.extract.base import (
    Call,
    Ref,
    ServiceSpec,
    arn_ref,
    arns_in,
    from_resources,
    is_arn,
    pattern_ref,
    ref,
)

# RDS -----------------------------------------------------------------------------------------------------

#: Request fields naming an RDS resource -> (IAM resource type, its format's name variable). The source and
#: target fields of the copy and restore calls name the same kinds; a source may be an ARN of another
#: region or account (cross-region read replicas, shared snapshots), which then stands as written.
_RDS_FIELDS: dict[str, tuple[str, str]] = {
    "dBInstanceIdentifier": ("db", "DbInstanceName"),
    "sourceDBInstanceIdentifier": ("db", "DbInstanceName"),
    "targetDBInstanceIdentifier": ("db", "DbInstanceName"),
    "dBClusterIdentifier": ("cluster", "DbClusterInstanceName"),
    "sourceDBClusterIdentifier": ("cluster", "DbClusterInstanceName"),
    "dBSnapshotIdentifier": ("snapshot", "SnapshotName"),
    "sourceDBSnapshotIdentifier": ("snapshot", "SnapshotName"),
    "targetDBSnapshotIdentifier": ("snapshot", "SnapshotName"),
    "dBClusterSnapshotIdentifier": ("cluster-snapshot", "ClusterSnapshotName"),
    "sourceDBClusterSnapshotIdentifier": ("cluster-snapshot", "ClusterSnapshotName"),
    "targetDBClusterSnapshotIdentifier": ("cluster-snapshot", "ClusterSnapshotName"),
    "dBSubnetGroupName": ("subgrp", "SubnetGroupName"),
    "dBParameterGroupName": ("pg", "ParameterGroupName"),
    "sourceDBParameterGroupIdentifier": ("pg", "ParameterGroupName"),
    "targetDBParameterGroupIdentifier": ("pg", "ParameterGroupName"),
    "dBClusterParameterGroupName": ("cluster-pg", "ClusterParameterGroupName"),
    "sourceDBClusterParameterGroupIdentifier": ("cluster-pg", "ClusterParameterGroupName"),
    "targetDBClusterParameterGroupIdentifier": ("cluster-pg", "ClusterParameterGroupName"),
    "optionGroupName": ("og", "OptionGroupName"),
    "sourceOptionGroupIdentifier": ("og", "OptionGroupName"),
    "targetOptionGroupIdentifier": ("og", "OptionGroupName"),
    "subscriptionName": ("es", "SubscriptionName"),
}
#: Fields that hold the ARN of any RDS resource (the tagging calls, cross-region replication sources).
_RDS_ARN_FIELDS = ("resourceName", "replicationSourceIdentifier")


def _rds(call: Call) -> Iterator[Ref]:
    # RDS stores most identifiers in lower case whatever case the request used.
    yield from _lower_cased_names(call, "rds", _RDS_FIELDS, _rds_arn)
    for path in _RDS_ARN_FIELDS:
        value = call.get(path)
        if value is not None and is_arn(value):
            yield _rds_arn(value)


def _lower_cased_names(
    call: Call, prefix: str, fields: dict[str, tuple[str, str]], as_arn: Callable[[str], Ref]
) -> Iterator[Ref]:
    """The resources named by ``fields`` (path -> (type, name variable)) of a service that keeps names in
    lower case in its ARNs. IAM compares ARNs case-sensitively, so both spellings are allowed when they
    differ: neither reading of the request can break the call. A field holding an ARN stands as written."""
    for path, (kind, variable) in fields.items():
        value = call.get(path)
        if value is None:
            continue
        if is_arn(value):
            yield as_arn(value)
            continue
        for name in dict.fromkeys((value, value.lower())):
            yield ref(call, prefix, kind, **{variable: name})


def _rds_arn(value: str) -> Ref:
    """An RDS ARN tagged with its kind's format: names may hold colons (automated snapshots are named
    ``rds:db-2024-08-01-05-10``), which shape matching would read as the end of the name."""
    parts = value.split(":", 6)
    fmt = arn_format("rds", parts[5]) if len(parts) == 7 and parts[2] == "rds" else ""
    return Ref(literal(value), fmt) if fmt else arn_ref(value)


# Route 53 Resolver ---------------------------------------------------------------------------------------

_RESOLVER_FIELDS: dict[str, str] = {
    "resolverQueryLogConfigId": "resolver-query-log-config",
    "resolverRuleId": "resolver-rule",
    "resolverEndpointId": "resolver-endpoint",
    "firewallRuleGroupId": "firewall-rule-group",
    "firewallDomainListId": "firewall-domain-list",
    "firewallRuleGroupAssociationId": "firewall-rule-group-association",
}


def _route53resolver(call: Call) -> Iterator[Ref]:
    for path, kind in _RESOLVER_FIELDS.items():
        value = call.get(path)
        if value is not None:
            yield arn_ref(value) if is_arn(value) else ref(call, "route53resolver", kind, ResourceId=value)
    yield from arns_in(call, "resourceArn")


# Bedrock -------------------------------------------------------------------------------------------------

#: A system-defined cross-region inference profile id: a geography, then the model id it routes to
#: (``us.anthropic.claude-3-5-sonnet-20240620-v1:0``). Such a profile sends each request to the model in
#: one of its geography's regions, and a call through it needs the profile and the model in every such
#: region (Bedrock user guide, "Prerequisites for inference profiles"); which regions is not recorded.
_GEO_PROFILE = re.compile(r"^(?P<geo>us|eu|apac|ca|jp|au|us-gov|global)\.(?P<model>[a-z0-9-]+\..+)$")

#: The resource types of which one model invocation names one: the reference marks them all as required
#: because any one of them can be the call's target. ``async-invoke`` is the invocation StartAsyncInvoke
#: creates, which a synchronous call has none of; that call gets it below.
_MODEL_TYPES = frozenset(
    f"bedrock:{kind}"
    for kind in (
        "application-inference-profile",
        "async-invoke",
        "bedrock-marketplace-model-endpoint",
        "custom-model",
        "custom-model-deployment",
        "default-prompt-router",
        "foundation-model",
        "imported-model",
        "inference-profile",
        "project",
        "prompt-router",
        "provisioned-model",
        "system-tool",
    )
)

_INVOKE = frozenset({"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"})


def _bedrock(call: Call) -> Iterator[Ref]:
    for path in ("modelId", "modelIdentifier"):
        value = call.get(path)
        if value is not None:
            yield from _model(call, value)
    if call.name == "StartAsyncInvoke":
        # The call creates the asynchronous invocation, whose id the service assigns.
        note = "StartAsyncInvoke creates the invocation: any in the account and region"
        yield pattern_ref(call, "bedrock", "async-invoke", note=note, actions=("bedrock:InvokeModel",))
    yield from from_resources(call)


def _model(call: Call, value: str) -> Iterator[Ref]:
    if is_arn(value):
        kind, _, ident = value.split(":", 5)[-1].partition("/")
        fmt = arn_format("bedrock", kind)
        # Model ids hold colons (``...-v1:0``), which shape matching reads as the end of the name: an ARN
        # of a known kind is tagged with its kind's format instead.
        yield Ref(literal(value), fmt) if fmt and value.split(":")[2] == "bedrock" else arn_ref(value)
        geo = _GEO_PROFILE.match(ident) if kind == "inference-profile" else None
        if geo is not None:
            yield _routed_model(call, geo)
        elif kind == "application-inference-profile":
            # A profile of the account's own wraps a model or a system profile that CloudTrail does not name.
            note = f"application inference profile {ident} routes to models CloudTrail does not record"
            for routed in ("foundation-model", "inference-profile"):
                account = {} if routed == "foundation-model" else {"Account": literal(call.account)}
                yield pattern_ref(call, "bedrock", routed, note=note, actions=_INVOKE, Region="*", **account)
        return
    geo = _GEO_PROFILE.match(value)
    if geo is None:
        # A plain id names a foundation model; the other kinds of model are named by ARN.
        yield ref(call, "bedrock", "foundation-model", ResourceId=value)
        return
    yield ref(call, "bedrock", "inference-profile", ResourceId=value, actions=_INVOKE)
    yield _routed_model(call, geo)


def _routed_model(call: Call, geo: re.Match[str]) -> Ref:
    model = geo.group("model")
    note = f"inference profile {geo.group(0)} routes to {model} in regions CloudTrail does not record"
    return pattern_ref(
        call, "bedrock", "foundation-model", note=note, actions=_INVOKE, Region="*", ResourceId=literal(model)
    )


# Kinesis and Firehose ------------------------------------------------------------------------------------


def _kinesis(call: Call) -> Iterator[Ref]:
    name = call.get("streamName")
    if name is not None:
        yield ref(call, "kinesis", "stream", StreamName=name)
    yield from arns_in(call, "streamARN", "consumerARN", "resourceARN")
    # GetRecords names only a shard iterator: its stream is in resources[], when CloudTrail records it.
    yield from from_resources(call)


def _firehose(call: Call) -> Iterator[Ref]:
    name = call.get("deliveryStreamName")
    if name is not None:
        yield ref(call, "firehose", "deliverystream", DeliveryStreamName=name)


# Athena --------------------------------------------------------------------------------------------------

_ATHENA_CATALOG_CALLS = frozenset(
    {"CreateDataCatalog", "GetDataCatalog", "DeleteDataCatalog", "UpdateDataCatalog"}
)


def _athena(call: Call) -> Iterator[Ref]:
    group = call.get("workGroup") or (call.get("name") if call.name == "CreateWorkGroup" else None)
    if group is not None:
        yield ref(call, "athena", "workgroup", WorkGroupName=group)
    catalog = call.get("catalogName") or (call.get("name") if call.name in _ATHENA_CATALOG_CALLS else None)
    if catalog is not None:
        yield ref(call, "athena", "datacatalog", DataCatalogName=catalog)
    yield from arns_in(call, "resourceARN")


# EKS -----------------------------------------------------------------------------------------------------

#: The parts of a cluster that a call names by the cluster's name and its own; the ARN ends in an id the
#: service assigns (``nodegroup/cluster/name/<uuid>``), so the grant is the named part under any id.
_EKS_PARTS: dict[str, tuple[str, str]] = {
    "nodegroupName": ("nodegroup", "NodegroupName"),
    "addonName": ("addon", "AddonName"),
    "fargateProfileName": ("fargateprofile", "FargateProfileName"),
    "capabilityName": ("capability", "CapabilityName"),
}


def _eks(call: Call) -> Iterator[Ref]:
    # The cluster calls (CreateCluster, DescribeCluster, UpdateClusterConfig ...) name it ``name``; the
    # calls on its parts ``clusterName``. ``name`` is something else only for EKS Anywhere subscriptions.
    cluster = call.get("clusterName") or (call.get("name") if "EksAnywhere" not in call.name else None)
    if cluster is not None:
        yield ref(call, "eks", "cluster", ClusterName=cluster)
        for path, (kind, variable) in _EKS_PARTS.items():
            value = call.get(path)
            if value is not None:
                yield pattern_ref(
                    call, "eks", kind, ClusterName=literal(cluster), **{variable: literal(value)}
                )
        if call.get("principalArn") is not None:
            yield pattern_ref(call, "eks", "access-entry", ClusterName=literal(cluster))
        if "PodIdentityAssociation" in call.name:  # named by an id the service assigns
            yield pattern_ref(call, "eks", "podidentityassociation", ClusterName=literal(cluster))
    yield from arns_in(call, "resourceArn")


# CodeBuild -----------------------------------------------------------------------------------------------

#: A build's (or build batch's) ARN: the id after the kind is ``<project name>:<uuid>``.
_BUILD_ARN = re.compile(r"^arn:[^:]*:codebuild:[^:]*:[^:]*:build(?:-batch)?/")


def _build_project(ident: str) -> str:
    return _BUILD_ARN.sub("", ident).rsplit(":", 1)[0]


_CODEBUILD_PROJECT_CALLS = frozenset({"CreateProject", "UpdateProject", "DeleteProject"})
_CODEBUILD_ARNS = (
    "projectArn",
    "resourceArn",
    "reportGroupArn",
    "reportGroupArns",
    "reportArn",
    "reportArns",
    "arn",
)


def _codebuild(call: Call) -> Iterator[Ref]:
    names = call.values("projectName")
    if call.name in _CODEBUILD_PROJECT_CALLS:
        names += call.values("name")
    if call.name == "BatchGetProjects":
        names += call.values("names")
    if "Sandbox" not in call.name:
        # A build's id is ``<project name>:<uuid>``, and IAM authorises the calls on builds on their project.
        names += [_build_project(ident) for ident in call.values("ids") + call.values("id") if ":" in ident]
    for name in names:
        if is_arn(name):
            yield arn_ref(name)
        else:
            yield ref(call, "codebuild", "project", ProjectName=name)
    group = call.get("name") if call.name == "CreateReportGroup" else None
    if group is not None:
        yield ref(call, "codebuild", "report-group", ReportGroupName=group)
    yield from arns_in(call, *_CODEBUILD_ARNS)


# Route 53 ------------------------------------------------------------------------------------------------

#: What ``id`` names, by the noun of the call (``GetHostedZone`` -> ``HostedZone``). Route 53's ids may be
#: written with their kind as a path prefix (``/hostedzone/Z123``, ``/change/C456``), as its responses do.
_ROUTE53_IDS = {
    "HostedZone": "hostedzone",
    "HostedZoneComment": "hostedzone",
    "Change": "change",
    "ReusableDelegationSet": "delegationset",
    "TrafficPolicy": "trafficpolicy",
    "TrafficPolicyVersion": "trafficpolicy",
    "TrafficPolicyVersions": "trafficpolicy",
    "TrafficPolicyComment": "trafficpolicy",
    "TrafficPolicyInstance": "trafficpolicyinstance",
    "QueryLoggingConfig": "queryloggingconfig",
    "CidrCollection": "cidrcollection",
}
_ROUTE53_FIELDS = {
    "hostedZoneId": "hostedzone",
    "healthCheckId": "healthcheck",
    "delegationSetId": "delegationset",
}
_NOUN = re.compile(r"^[A-Z][a-z]+")


def _route53(call: Call) -> Iterator[Ref]:
    found = [(kind, call.get(path)) for path, kind in _ROUTE53_FIELDS.items()]
    kind = _ROUTE53_IDS.get(_NOUN.sub("", call.name))
    if kind is not None:
        found.append((kind, call.get("id")))
    for kind, value in found:
        if value is not None:
            ident = value.rsplit("/", 1)[-1]
            yield ref(call, "route53", kind, account="", region="", Id=ident)


# Auto Scaling --------------------------------------------------------------------------------------------


def _autoscaling(call: Call) -> Iterator[Ref]:
    # Both ARNs hold an id the service assigns before the name: the grant is the name under any id.
    for name in call.values("autoScalingGroupName") + call.values("autoScalingGroupNames"):
        yield pattern_ref(call, "autoscaling", "autoscalinggroup", GroupFriendlyName=literal(name))
    for name in call.values("launchConfigurationName") + call.values("launchConfigurationNames"):
        yield pattern_ref(call, "autoscaling", "launchconfiguration", LaunchConfigurationName=literal(name))


# Elastic Load Balancing ----------------------------------------------------------------------------------

_ELB_ARNS = (
    "loadBalancerArn",
    "loadBalancerArns",
    "targetGroupArn",
    "targetGroupArns",
    "listenerArn",
    "listenerArns",
    "ruleArn",
    "ruleArns",
    "resourceArns",
    "trustStoreArn",
)
#: Version 2's CreateLoadBalancer ``type`` -> the kind in the ARN (application is the default).
_ELB_KINDS = {"application": "app", "network": "net", "gateway": "gwy"}


def _elasticloadbalancing(call: Call) -> Iterator[Ref]:
    yield from arns_in(call, *_ELB_ARNS)
    # Classic load balancers are named; they are version 1's only resource.
    for balancer in call.values("loadBalancerName") + call.values("loadBalancerNames"):
        yield ref(call, "elasticloadbalancing", "loadbalancer", LoadBalancerName=balancer)
    name = call.get("name")
    if name is not None and call.name == "CreateTargetGroup":
        yield pattern_ref(call, "elasticloadbalancing", "targetgroup", TargetGroupName=literal(name))
    if name is not None and call.name == "CreateLoadBalancer":
        kind = _ELB_KINDS.get(call.get("type") or "application", "app")
        yield pattern_ref(
            call, "elasticloadbalancing", f"loadbalancer/{kind}/", LoadBalancerName=literal(name)
        )


# CodePipeline --------------------------------------------------------------------------------------------

_PIPELINE_CALLS = frozenset({"GetPipeline", "GetPipelineState", "DeletePipeline", "StartPipelineExecution"})


def _codepipeline(call: Call) -> Iterator[Ref]:
    pipeline = call.get("pipelineName") or (call.get("name") if call.name in _PIPELINE_CALLS else None)
    pipeline = pipeline or call.get("pipeline.name")  # CreatePipeline, UpdatePipeline
    if pipeline is None:
        return
    yield ref(call, "codepipeline", "pipeline", PipelineName=pipeline)
    stage, action = call.get("stageName"), call.get("actionName")
    if stage is not None:
        yield ref(call, "codepipeline", "stage", PipelineName=pipeline, StageName=stage)
        if action is not None:
            yield ref(
                call, "codepipeline", "action", PipelineName=pipeline, StageName=stage, ActionName=action
            )


# Cognito user pools --------------------------------------------------------------------------------------


def _cognito_idp(call: Call) -> Iterator[Ref]:
    pool = call.get("userPoolId")
    if pool is not None:
        yield ref(call, "cognito-idp", "userpool", UserPoolId=pool)
    yield from arns_in(call, "resourceArn")


# SageMaker -----------------------------------------------------------------------------------------------

#: Request fields naming a SageMaker resource -> (IAM resource type, its format's name variable).
_SAGEMAKER_FIELDS: dict[str, tuple[str, str]] = {
    "endpointName": ("endpoint", "EndpointName"),
    "endpointConfigName": ("endpoint-config", "EndpointConfigName"),
    "modelName": ("model", "ModelName"),
    "trainingJobName": ("training-job", "TrainingJobName"),
    "processingJobName": ("processing-job", "ProcessingJobName"),
    "transformJobName": ("transform-job", "TransformJobName"),
    "notebookInstanceName": ("notebook-instance", "NotebookInstanceName"),
    "pipelineName": ("pipeline", "PipelineName"),
}


def _sagemaker(call: Call) -> Iterator[Ref]:
    # SageMaker writes its resources' names in lower case in their ARNs.
    yield from _lower_cased_names(call, "sagemaker", _SAGEMAKER_FIELDS, arn_ref)
    yield from arns_in(call, "resourceArn")


SPECS: dict[str, ServiceSpec] = {
    "rds": ServiceSpec(
        tuple(_RDS_FIELDS) + _RDS_ARN_FIELDS,
        _rds,
        frozenset(f"rds:{kind}" for kind, _ in _RDS_FIELDS.values()),
        resources=False,
    ),
    "route53resolver": ServiceSpec(
        (*_RESOLVER_FIELDS, "resourceArn"),
        _route53resolver,
        frozenset(f"route53resolver:{kind}" for kind in _RESOLVER_FIELDS.values()),
        resources=False,
    ),
    "bedrock": ServiceSpec(
        ("modelId", "modelIdentifier"), _bedrock, frozenset(), alternatives=(_MODEL_TYPES,)
    ),
    "kinesis": ServiceSpec(("streamName", "streamARN", "consumerARN", "resourceARN"), _kinesis),
    "firehose": ServiceSpec(
        ("deliveryStreamName",), _firehose, frozenset({"firehose:deliverystream"}), resources=False
    ),
    "athena": ServiceSpec(
        ("workGroup", "name", "catalogName", "resourceARN"),
        _athena,
        frozenset({"athena:workgroup", "athena:datacatalog"}),
        resources=False,
    ),
    "eks": ServiceSpec(
        ("clusterName", "name", "principalArn", "resourceArn", *_EKS_PARTS),
        _eks,
        frozenset(
            {"eks:cluster", "eks:access-entry", "eks:podidentityassociation"}
            | {f"eks:{kind}" for kind, _ in _EKS_PARTS.values()}
        ),
        resources=False,
    ),
    "route53": ServiceSpec(
        (*_ROUTE53_FIELDS, "id"),
        _route53,
        frozenset(f"route53:{kind}" for kind in {*_ROUTE53_FIELDS.values(), *_ROUTE53_IDS.values()}),
        resources=False,
    ),
    "autoscaling": ServiceSpec(
        (
            "autoScalingGroupName",
            "autoScalingGroupNames",
            "launchConfigurationName",
            "launchConfigurationNames",
        ),
        _autoscaling,
        frozenset({"autoscaling:autoScalingGroup", "autoscaling:launchConfiguration"}),
        resources=False,
    ),
    "elasticloadbalancing": ServiceSpec(
        (*_ELB_ARNS, "loadBalancerName", "loadBalancerNames", "name", "type"),
        _elasticloadbalancing,
        resources=False,
        alternatives=tuple(
            frozenset(f"elasticloadbalancing:{family}{kind}" for kind in kinds)
            for family, kinds in (
                ("listener/", ("app", "gwy", "net")),
                ("listener-rule/", ("app", "net")),
                ("loadbalancer/", ("app/", "gwy/", "net/")),
            )
        ),
    ),
    "codepipeline": ServiceSpec(
        ("pipelineName", "name", "pipeline.name", "stageName", "actionName"),
        _codepipeline,
        frozenset({"codepipeline:pipeline"}),
        resources=False,
    ),
    "cognito-idp": ServiceSpec(
        ("userPoolId", "resourceArn"), _cognito_idp, frozenset({"cognito-idp:userpool"}), resources=False
    ),
    "sagemaker": ServiceSpec(
        (*_SAGEMAKER_FIELDS, "resourceArn"),
        _sagemaker,
        frozenset(f"sagemaker:{kind}" for kind, _ in _SAGEMAKER_FIELDS.values()),
        resources=False,
    ),
    "codebuild": ServiceSpec(
        ("projectName", "name", "names", "ids", "id", *_CODEBUILD_ARNS),
        _codebuild,
        frozenset({"codebuild:project"}),
        resources=False,
    ),
}
