"""Resource extractors for compute, identity and deployment services: Lambda, EC2, ECS, CloudFormation,
CloudWatch, IAM, STS, ECR, Step Functions, Glue, EventBridge, CloudTrail.

EC2 is different from the rest: CloudTrail records its requests in the EC2 query protocol's own shape
(``instancesSet.items[].instanceId``, ``groupSet.items[].groupId`` ...), which varies per operation. EC2 ids
are unambiguous, though (``i-``, ``subnet-``, ``sg-`` ...), so the SQL collects every quoted id in the request
and the prefix says the resource type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from trailsmith.policy.arns import arn_format, literal, variables
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
    role_refs,
    user_refs,
)

# EC2 -----------------------------------------------------------------------------------------------------

#: EC2 id prefix -> IAM resource type of service ec2.
EC2_ID_TYPES: dict[str, str] = {
    "i": "instance",
    "vol": "volume",
    "snap": "snapshot",
    "ami": "image",
    "subnet": "subnet",
    "sg": "security-group",
    "vpc": "vpc",
    "eni": "network-interface",
    "igw": "internet-gateway",
    "rtb": "route-table",
    "acl": "network-acl",
    "lt": "launch-template",
    "nat": "natgateway",
    "eipalloc": "elastic-ip",
    "vpce": "vpc-endpoint",
    "pcx": "vpc-peering-connection",
    "tgw": "transit-gateway",
    "dopt": "dhcp-options",
    "fl": "vpc-flow-log",
    "sgr": "security-group-rule",
    "eigw": "egress-only-internet-gateway",
    "pl": "prefix-list",
    "cgw": "customer-gateway",
    "vgw": "vpn-gateway",
    "vpn": "vpn-connection",
}

#: The SQL pattern that finds EC2 ids among the request's JSON string values (group 1 is the id): EC2
#: names its resources by id in many differently named fields, so every one of its calls is scanned.
EC2_ID_PATTERN = (
    '"((?:' + "|".join(sorted(EC2_ID_TYPES, key=lambda p: (-len(p), p))) + ')-[0-9a-zA-Z]{8,17})"'
)

#: Types a VPC owner shares with other accounts (VPC sharing): an id alone does not say whose they are.
_SHARED_EC2 = frozenset({"subnet", "security-group"})


def ec2_id_ref(call: Call, ident: str) -> Ref | None:
    """The ARN of an EC2 id, in the call's region and account (any account for shareable types)."""
    prefix = ident.split("-", 1)[0]
    kind = EC2_ID_TYPES.get(prefix)
    if kind is None:
        return None
    fmt = arn_format("ec2", kind)
    last = variables(fmt)[-1]
    if kind in _SHARED_EC2:
        return pattern_ref(
            call,
            "ec2",
            kind,
            Account="*",
            note=f"{ident} may be shared from a VPC owner's account",
            **{last: literal(ident)},
        )
    return ref(call, "ec2", kind, **{last: ident})


def _ec2(call: Call) -> Iterator[Ref]:
    for ident in call.ids:
        found = ec2_id_ref(call, ident)
        if found is not None:
            yield found
    key = call.get("keyName")
    if key is not None:
        yield ref(call, "ec2", "key-pair", KeyPairName=key)


def _instance_connect(call: Call) -> Iterator[Ref]:
    ident = call.get("instanceId")
    if ident is not None:
        found = ec2_id_ref(call, ident)
        if found is not None:
            yield found


# Lambda --------------------------------------------------------------------------------------------------


def _lambda(call: Call) -> Iterator[Ref]:
    yield from arns_in(call, "arn")  # GetLayerVersionByArn names the layer version by its ARN
    value = call.get("functionName")
    if value is None:
        return
    account, region, qualifier = call.account, call.region, call.get("qualifier")
    if is_arn(value):
        parts = value.split(":")
        region, account = parts[3], parts[4]
        name = parts[6] if len(parts) > 6 else value
        qualifier = parts[7] if len(parts) > 7 else qualifier
    elif ":function:" in value:  # partial ARN "123456789012:function:name[:qualifier]"
        parts = value.split(":")
        account, name = parts[0], parts[2]
        qualifier = parts[3] if len(parts) > 3 else qualifier
    else:
        name, _, given = value.partition(":")
        qualifier = given or qualifier
    # A version or alias is a resource of its own: arn:...:function:name:qualifier.
    full = name if not qualifier else f"{name}:{qualifier}"
    yield ref(call, "lambda", "function", account=account, region=region, FunctionName=full)


# ECS -----------------------------------------------------------------------------------------------------


def _name_of(value: str) -> str:
    """The last path segment of an ECS ARN, or the value itself."""
    return value.rsplit("/", 1)[-1] if is_arn(value) else value


def _ecs(call: Call) -> Iterator[Ref]:
    cluster_value = call.get("cluster")
    cluster = _name_of(cluster_value) if cluster_value else "default"  # the API's default cluster
    for value in call.values("clusters") + ([cluster_value] if cluster_value else []):
        yield arn_ref(value) if is_arn(value) else ref(call, "ecs", "cluster", ClusterName=value)
    for value in call.values("services") + call.values("service"):
        if is_arn(value):
            yield arn_ref(value)
        else:
            yield ref(call, "ecs", "service", ClusterName=cluster, ServiceName=value)
    family = call.get("family")
    if family is not None:
        # RegisterTaskDefinition creates the family's next revision, whose number the request cannot know.
        yield pattern_ref(
            call,
            "ecs",
            "task-definition",
            TaskDefinitionFamilyName=literal(family),
            TaskDefinitionRevisionNumber="*",
            note=f"any revision of task definition {family}",
        )
    definition = call.get("taskDefinition")
    if definition is not None:
        if is_arn(definition):
            yield arn_ref(definition)
        else:
            name, _, revision = definition.partition(":")
            yield pattern_ref(
                call,
                "ecs",
                "task-definition",
                TaskDefinitionFamilyName=literal(name),
                TaskDefinitionRevisionNumber=literal(revision) if revision else "*",
            )


# CloudFormation ------------------------------------------------------------------------------------------


def _cloudformation(call: Call) -> Iterator[Ref]:
    stack = call.get("stackName")
    if stack is None:
        return
    if is_arn(stack):
        yield arn_ref(stack)
    else:
        # A stack ARN ends in a unique id the name does not carry.
        yield pattern_ref(call, "cloudformation", "stack", StackName=literal(stack), Id="*")


# CloudWatch ----------------------------------------------------------------------------------------------


def _cloudwatch(call: Call) -> Iterator[Ref]:
    for name in call.values("alarmName") + call.values("alarmNames"):
        yield ref(call, "cloudwatch", "alarm", AlarmName=name)
    prefix = call.get("alarmNamePrefix")
    if prefix is not None:
        yield pattern_ref(call, "cloudwatch", "alarm", AlarmName=literal(prefix) + "*")
    for name in call.values("dashboardName") + call.values("dashboardNames"):
        yield ref(call, "cloudwatch", "dashboard", DashboardName=name)


# IAM and STS ---------------------------------------------------------------------------------------------


def _iam(call: Call) -> Iterator[Ref]:
    path = call.get("path")
    role = call.get("roleName")
    if role is not None:
        if path is not None and call.name == "CreateRole":
            yield ref(call, "iam", "role", RoleNameWithPath=path.lstrip("/") + role)
        else:
            yield from role_refs(call, role)
    user = call.get("userName")
    if user is not None:
        if path is not None and call.name == "CreateUser":
            yield ref(call, "iam", "user", UserNameWithPath=path.lstrip("/") + user)
        else:
            yield from user_refs(call, user)
    elif ":user/" in call.principal:
        # Calls on users that name none act on the caller (GetUser, ListAccessKeys, CreateAccessKey ...).
        yield Ref(literal(call.principal), arn_format("iam", "user"), note="no user named: the calling user")
    group = call.get("groupName")
    if group is not None:
        yield ref(call, "iam", "group", GroupNameWithPath=group)
        yield pattern_ref(call, "iam", "group", GroupNameWithPath="*/" + literal(group))
    profile = call.get("instanceProfileName")
    if profile is not None:
        yield ref(call, "iam", "instance-profile", InstanceProfileNameWithPath=profile)
        yield pattern_ref(
            call, "iam", "instance-profile", InstanceProfileNameWithPath="*/" + literal(profile)
        )
    policy = call.get("policyArn")
    if policy is not None:
        yield arn_ref(policy)


def _sts(call: Call) -> Iterator[Ref]:
    role = call.get("roleArn")
    if role is not None:
        yield arn_ref(role)
    name = call.get("name")
    if name is not None and call.name == "GetFederationToken":
        yield ref(call, "sts", "federated-user", FederatedUserName=name)
    yield from from_resources(call)


# Smaller services ----------------------------------------------------------------------------------------


def _ecr(call: Call) -> Iterator[Ref]:
    name = call.get("repositoryName")
    if name is not None:
        yield ref(call, "ecr", "repository", account=call.get("registryId"), RepositoryName=name)
    yield from from_resources(call)


def _states(call: Call) -> Iterator[Ref]:
    for path in ("stateMachineArn", "executionArn"):
        value = call.get(path)
        if value is not None and is_arn(value):
            yield arn_ref(value)
    name = call.get("name")
    if name is not None and call.name == "CreateStateMachine":
        yield ref(call, "states", "statemachine", StateMachineName=name)


#: What ``name`` names, by the noun of the call (``GetTable`` -> ``Table``), for the Glue calls that name
#: their resource ``name``; the others name it ``jobName``, ``crawlerName``, ``databaseName`` ...
_GLUE_NAMED = {
    "Database": "database",
    "Table": "table",
    "Crawler": "crawler",
    "Job": "job",
    "Trigger": "trigger",
    "Workflow": "workflow",
    "WorkflowRun": "workflow",
    "WorkflowRunProperties": "workflow",
    "Connection": "connection",
}
_GLUE_LISTS = {"jobNames": "job", "crawlerNames": "crawler", "triggerNames": "trigger"}
_GLUE_VARIABLES = {
    "job": "JobName",
    "crawler": "CrawlerName",
    "trigger": "TriggerName",
    "workflow": "WorkflowName",
    "connection": "ConnectionName",
}
_VERB = re.compile(r"^(?:Batch)?[A-Z][a-z]+")


def _glue(call: Call) -> Iterator[Ref]:
    noun = _VERB.sub("", call.name)
    kind = _GLUE_NAMED.get(noun)
    named = call.get("name") if kind is not None else None
    names: dict[str, list[str]] = {k: [] for k in _GLUE_VARIABLES}
    if kind in names and named is not None:
        names[kind].append(named)
    for path, listed in (("jobName", "job"), ("crawlerName", "crawler"), ("connectionName", "connection")):
        names[listed] += call.values(path)
    for path, listed in _GLUE_LISTS.items():
        names[listed] += call.values(path)
    names["connection"] += call.values("connectionInput.name")
    for listed, values in names.items():
        for value in dict.fromkeys(values):
            yield ref(call, "glue", listed, **{_GLUE_VARIABLES[listed]: value})
    yield from _glue_catalog(call, kind, named)
    arn = call.get("resourceArn")
    if arn is not None and is_arn(arn):
        yield arn_ref(arn)


def _glue_catalog(call: Call, kind: str | None, named: str | None) -> Iterator[Ref]:
    """The Data Catalog's resources: the catalog itself, whose account is ``catalogId`` when the call names
    another account's catalog, a database and a table in it. A call on a database's tables without naming
    one (``GetTables``) acts on all of them."""
    catalog = call.get("catalogId")
    account = catalog if catalog is not None and catalog.isdigit() else None
    owner = account or call.account
    yield ref(call, "glue", "rootcatalog", account=account)
    database = (
        (named if kind == "database" else None) or call.get("databaseName") or call.get("databaseInput.name")
    )
    table = call.get("tableName") or (named if kind == "table" else None) or call.get("tableInput.name")
    function = call.get("functionName")
    if database is None:
        if account is not None and account != call.account:
            for listed in ("database", "table", "userdefinedfunction"):
                yield pattern_ref(call, "glue", listed, Account=literal(owner))
        return
    yield ref(call, "glue", "database", account=account, DatabaseName=database)
    if table is not None:
        yield ref(call, "glue", "table", account=account, DatabaseName=database, TableName=table)
    else:
        yield pattern_ref(call, "glue", "table", Account=literal(owner), DatabaseName=literal(database))
    if function is not None:
        variables = {"DatabaseName": database, "UserDefinedFunctionName": function}
        yield ref(call, "glue", "userdefinedfunction", account=account, **variables)
    else:
        yield pattern_ref(
            call, "glue", "userdefinedfunction", Account=literal(owner), DatabaseName=literal(database)
        )


def _events(call: Call) -> Iterator[Ref]:
    rule = call.get("rule") or call.get("name")
    if rule is None:
        return
    bus = call.get("eventBusName")
    if bus and bus != "default":
        yield ref(call, "events", "rule-on-custom-event-bus", EventBusName=_name_of(bus), RuleName=rule)
    else:
        yield ref(call, "events", "rule-on-default-event-bus", RuleName=rule)


def _cloudtrail(call: Call) -> Iterator[Ref]:
    for path in ("name", "trailName"):
        value = call.get(path)
        if value is not None and call.name != "CreateEventDataStore":
            yield arn_ref(value) if is_arn(value) else ref(call, "cloudtrail", "trail", TrailName=value)


SPECS: dict[str, ServiceSpec] = {
    "ec2": ServiceSpec(
        ("keyName",),
        _ec2,
        frozenset({"ec2:key-pair"} | {f"ec2:{kind}" for kind in EC2_ID_TYPES.values()}),
        resources=False,
        id_pattern=EC2_ID_PATTERN,
        models_match=False,
    ),
    "ec2-instance-connect": ServiceSpec(("instanceId",), _instance_connect, frozenset(), resources=False),
    "lambda": ServiceSpec(
        ("functionName", "qualifier", "arn"),
        _lambda,
        frozenset({"lambda:function"}),
        resources=False,
        only={"arn": ("GetLayerVersionByArn",)},
    ),
    "ecs": ServiceSpec(
        ("cluster", "clusters", "service", "services", "family", "taskDefinition"),
        _ecs,
        frozenset({"ecs:cluster", "ecs:service", "ecs:task-definition"}),
        resources=False,
    ),
    "cloudformation": ServiceSpec(
        ("stackName",), _cloudformation, frozenset({"cloudformation:stack"}), resources=False
    ),
    "monitoring": ServiceSpec(
        ("alarmName", "alarmNames", "alarmNamePrefix", "dashboardName", "dashboardNames"),
        _cloudwatch,
        frozenset({"cloudwatch:alarm", "cloudwatch:dashboard"}),
        resources=False,
    ),
    "iam": ServiceSpec(
        ("roleName", "userName", "groupName", "instanceProfileName", "policyArn", "path"),
        _iam,
        frozenset({"iam:role", "iam:user", "iam:group", "iam:instance-profile", "iam:policy"}),
        resources=False,
    ),
    "sts": ServiceSpec(("roleArn", "name"), _sts, frozenset({"sts:federated-user", "sts:role"})),
    "ecr": ServiceSpec(("repositoryName", "registryId"), _ecr, frozenset({"ecr:repository"})),
    "states": ServiceSpec(("stateMachineArn", "executionArn", "name"), _states, frozenset(), resources=False),
    "glue": ServiceSpec(
        (
            "name",
            "jobName",
            "crawlerName",
            "connectionName",
            *_GLUE_LISTS,
            "connectionInput.name",
            "catalogId",
            "databaseName",
            "databaseInput.name",
            "tableName",
            "tableInput.name",
            "functionName",
            "resourceArn",
        ),
        _glue,
        frozenset(
            f"glue:{kind}"
            for kind in (*_GLUE_VARIABLES, "rootcatalog", "database", "table", "userdefinedfunction")
        ),
        resources=False,
    ),
    "events": ServiceSpec(("rule", "name", "eventBusName"), _events, frozenset(), resources=False),
    "cloudtrail": ServiceSpec(("name", "trailName"), _cloudtrail, frozenset(), resources=False),
}
