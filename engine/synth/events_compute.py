"""AWS Lambda, Amazon EC2 and Amazon ECS events.

Lambda records carry API-version suffixes (``CreateFunction20150331``, ``GetFunction20150331v2``) and its
data event is ``Invoke``, while the actions are ``lambda:CreateFunction`` and ``lambda:InvokeFunction``.
Three calls here hide an ``iam:PassRole`` in their request: ``CreateFunction`` (``role``), ``RunInstances``
(``iamInstanceProfile``, whose role is named like the profile) and ``RegisterTaskDefinition``
(``taskRoleArn`` and ``executionRoleArn``).
"""

from __future__ import annotations

from collections.abc import Callable

from trailsmith.synth.catalog import JSON, Call, Ctx, Template, iso_ms, resource
from trailsmith.synth.ids import UPPER_ALNUM, b64, chars, hex_string, uuid4
from trailsmith.synth.world import Function

LAMBDA, EC2, ECS = "lambda.amazonaws.com", "ec2.amazonaws.com", "ecs.amazonaws.com"
_NO_FUNCTION = ("ResourceNotFoundException", "Function not found")


# Lambda ---------------------------------------------------------------------------------------------------


def _fn_arn(c: Ctx, fn: Function) -> str:
    return f"{c.pool.prefix('lambda')}function:{fn.name}"


def _fn_resources(c: Ctx, fn: Function) -> list[JSON]:
    return [resource("AWS::Lambda::Function", _fn_arn(c, fn), c.acct)]


def _fn_config(c: Ctx, fn: Function, **changes: object) -> JSON:
    config: JSON = {
        "functionName": fn.name,
        "functionArn": _fn_arn(c, fn),
        "runtime": fn.runtime,
        "role": fn.role.arn,
        "handler": fn.handler,
        "codeSize": c.rng.randrange(900, 9_000_000),
        "description": "",
        "timeout": 30,
        "memorySize": 256,
        "lastModified": iso_ms(c.day, c.rng),
        "codeSha256": b64(c.rng, 43) + "=",
        "version": "$LATEST",
        "environment": {},
        "tracingConfig": {"mode": "PassThrough"},
        "revisionId": uuid4(c.rng),
        "state": "Active",
        "lastUpdateStatus": "InProgress",
        "lastUpdateStatusReason": "The function is being created.",
        "packageType": "Zip",
        "architectures": ["arm64"],
        "ephemeralStorage": {"size": 512},
        "snapStart": {"applyOn": "None", "optimizationStatus": "Off"},
        "loggingConfig": {"logFormat": "Text", "logGroup": f"/aws/lambda/{fn.name}"},
    }
    config.update(changes)
    return config


def _create_function(c: Ctx) -> Call:
    fn = c.pick(c.pool.functions)
    request = {
        "functionName": fn.name,
        "runtime": fn.runtime,
        "role": fn.role.arn,
        "handler": fn.handler,
        "code": {},
        "description": "",
        "timeout": 30,
        "memorySize": 256,
        "publish": True,
        "packageType": "Zip",
        "architectures": ["arm64"],
    }
    return Call(
        request, (_fn_arn(c, fn), fn.role.arn), _fn_config(c, fn, state="Pending"), _fn_resources(c, fn)
    )


def _update_code(c: Ctx) -> Call:
    fn = c.pick(c.pool.functions)
    request = {"functionName": fn.name, "publish": True, "dryRun": False}
    return Call(
        request, (_fn_arn(c, fn),), _fn_config(c, fn, version=str(c.rng.randint(2, 90))), _fn_resources(c, fn)
    )


def _update_configuration(c: Ctx) -> Call:
    fn = c.pick(c.pool.functions)
    request = {
        "functionName": fn.name,
        "timeout": 60,
        "memorySize": 512,
        "environment": {"variables": "HIDDEN_DUE_TO_SECURITY_REASONS"},
    }
    return Call(
        request, (_fn_arn(c, fn),), _fn_config(c, fn, timeout=60, memorySize=512), _fn_resources(c, fn)
    )


def _get_function(c: Ctx) -> Call:
    fn = c.pick(c.pool.functions)
    return Call({"functionName": fn.name}, (_fn_arn(c, fn),), None, _fn_resources(c, fn))


def _list_functions(c: Ctx) -> Call:
    return Call(None, ("*",))


def _add_permission(c: Ctx) -> Call:
    fn = c.pool.functions[1]
    sid = f"s3-invoke-{hex_string(c.rng, 8)}"
    request = {
        "functionName": fn.name,
        "statementId": sid,
        "action": "lambda:InvokeFunction",
        "principal": "s3.amazonaws.com",
        "sourceArn": f"arn:aws:s3:::{c.pool.data.name}",
        "sourceAccount": c.acct,
    }
    statement = (
        f'{{"Sid":"{sid}","Effect":"Allow","Principal":{{"Service":"s3.amazonaws.com"}},'
        f'"Action":"lambda:InvokeFunction","Resource":"{_fn_arn(c, fn)}"}}'
    )
    return Call(request, (_fn_arn(c, fn),), {"statement": statement}, _fn_resources(c, fn))


def _invoke(c: Ctx) -> Call:
    fn = c.pick(c.pool.functions)
    arn = _fn_arn(c, fn)
    request = {
        "functionName": arn,
        "invocationType": c.rng.choice(("RequestResponse", "Event")),
        "logType": "None",
    }
    return Call(request, (arn,), None, _fn_resources(c, fn), {"functionVersion": f"{arn}:$LATEST"})


# EC2 ------------------------------------------------------------------------------------------------------


def _ec2_arn(c: Ctx, kind: str, ident: str) -> str:
    return f"{c.pool.prefix('ec2')}{kind}/{ident}"


def _items(key: str, values: list[str] | tuple[str, ...]) -> JSON:
    return {"items": [{key: value} for value in values]}


def _filter(name: str, value: str) -> JSON:
    return {"items": [{"name": name, "valueSet": {"items": [{"value": value}]}}]}


def _describe(shape: JSON) -> Callable[[Ctx], Call]:
    def build(c: Ctx) -> Call:
        return Call(shape, ("*",))

    return build


def _describe_instance_types(c: Ctx) -> Call:
    kinds = c.rng.sample(("t3.micro", "t3.medium", "m7g.large", "c7i.xlarge", "r7g.2xlarge"), 2)
    return Call({"DescribeInstanceTypesRequest": {"MaxResults": 100, "InstanceType": kinds}}, ("*",))


def _run_instances(c: Ctx) -> Call:
    role = c.account.roles["ec2-worker"]
    image, subnet, group = c.pick(c.pool.images), c.pick(c.pool.subnets), c.pick(c.pool.security_groups)
    instance = f"i-0{hex_string(c.rng, 16)}"
    private_ip = f"10.0.{c.rng.randrange(1, 4)}.{c.rng.randrange(4, 250)}"
    request = {
        "instancesSet": {"items": [{"imageId": image, "minCount": 1, "maxCount": 1}]},
        "groupSet": _items("groupId", [group]),
        "instanceType": "t3.medium",
        "blockDeviceMapping": {},
        "monitoring": {"enabled": False},
        "subnetId": subnet,
        "disableApiTermination": False,
        "disableApiStop": False,
        "clientToken": uuid4(c.rng),
        "iamInstanceProfile": {"name": role.name},
        "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2},
    }
    response = {
        "requestId": uuid4(c.rng),
        "reservationId": f"r-0{hex_string(c.rng, 16)}",
        "ownerId": c.acct,
        "groupSet": {},
        "instancesSet": {
            "items": [
                {
                    "instanceId": instance,
                    "imageId": image,
                    "instanceState": {"code": 0, "name": "pending"},
                    "privateDnsName": f"ip-{private_ip.replace('.', '-')}.{c.region}.compute.internal",
                    "amiLaunchIndex": 0,
                    "productCodes": {},
                    "instanceType": "t3.medium",
                    "launchTime": 1722500000000 + c.rng.randrange(10**9),
                    "placement": {"availabilityZone": f"{c.region}a", "tenancy": "default"},
                    "monitoring": {"state": "disabled"},
                    "subnetId": subnet,
                    "vpcId": c.pool.vpc,
                    "privateIpAddress": private_ip,
                    "sourceDestCheck": True,
                    "groupSet": {"items": [{"groupId": group, "groupName": "workers"}]},
                    "architecture": "x86_64",
                    "rootDeviceType": "ebs",
                    "rootDeviceName": "/dev/xvda",
                    "blockDeviceMapping": {},
                    "iamInstanceProfile": {
                        "arn": role.profile_arn,
                        "id": "AIPA" + chars(c.rng, UPPER_ALNUM, 17),
                    },
                    "ebsOptimized": False,
                    "enaSupport": True,
                    "hypervisor": "xen",
                }
            ]
        },
    }
    needs = (
        # the root EBS volume is created by the call too ("rootDeviceType": "ebs"):
        # RunInstances needs volume/*
        (
            _ec2_arn(c, "instance", "*"),
            f"arn:aws:ec2:{c.region}::image/{image}",
            _ec2_arn(c, "subnet", subnet),
            _ec2_arn(c, "security-group", group),
            _ec2_arn(c, "network-interface", "*"),
            _ec2_arn(c, "volume", "*"),
        ),
        role.arn,
    )
    return Call(request, needs, response, via=role.profile_arn)


def _instance_state(verb_state: tuple[str, int, str, int]) -> Callable[[Ctx], Call]:
    current, current_code, previous, previous_code = verb_state

    def build(c: Ctx) -> Call:
        instance = c.pick(c.pool.instances)
        request = {"instancesSet": _items("instanceId", [instance]), "force": False}
        response = {
            "requestId": uuid4(c.rng),
            "instancesSet": {
                "items": [
                    {
                        "instanceId": instance,
                        "currentState": {"code": current_code, "name": current},
                        "previousState": {"code": previous_code, "name": previous},
                    }
                ]
            },
        }
        return Call(request, (_ec2_arn(c, "instance", instance),), response)

    return build


def _create_tags(c: Ctx) -> Call:
    instance = c.pick(c.pool.instances)
    request = {
        "resourcesSet": _items("resourceId", [instance]),
        "tagSet": {"items": [{"key": "Owner", "value": "ops"}, {"key": "PatchGroup", "value": "weekly"}]},
    }
    return Call(request, (_ec2_arn(c, "instance", instance),), {"requestId": uuid4(c.rng), "_return": True})


def _authorize_ingress(c: Ctx) -> Call:
    group = c.pick(c.pool.security_groups)
    port = c.rng.choice((443, 5432, 8080))
    request = {
        "groupId": group,
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": port,
                    "toPort": port,
                    "groups": {},
                    "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16", "description": "internal"}]},
                    "ipv6Ranges": {},
                    "prefixListIds": {},
                }
            ]
        },
    }
    response = {
        "requestId": uuid4(c.rng),
        "_return": True,
        "securityGroupRuleSet": {
            "items": [
                {
                    "groupOwnerId": c.acct,
                    "groupId": group,
                    "securityGroupRuleId": f"sgr-0{hex_string(c.rng, 16)}",
                    "isEgress": False,
                    "ipProtocol": "tcp",
                    "fromPort": port,
                    "toPort": port,
                    "cidrIpv4": "10.0.0.0/16",
                    "description": "internal",
                }
            ]
        },
    }
    return Call(request, (_ec2_arn(c, "security-group", group),), response)


def _create_snapshot(c: Ctx) -> Call:
    volume = c.pick(c.pool.volumes)
    snapshot = f"snap-0{hex_string(c.rng, 16)}"
    request = {"volumeId": volume, "description": "nightly backup"}
    response = {
        "requestId": uuid4(c.rng),
        "snapshotId": snapshot,
        "volumeId": volume,
        "status": "pending",
        "startTime": 1722500000000 + c.rng.randrange(10**9),
        "progress": "",
        "ownerId": c.acct,
        "volumeSize": 100,
        "encrypted": True,
        "description": "nightly backup",
    }
    return Call(request, ((f"arn:aws:ec2:{c.region}::snapshot/*", _ec2_arn(c, "volume", volume)),), response)


# ECS ------------------------------------------------------------------------------------------------------


def _register_task_definition(c: Ctx) -> Call:
    family = c.pick(c.pool.task_families)
    task_role, exec_role = c.account.roles["orders-worker-task"], c.account.roles["ecs-task-execution"]
    revision = c.rng.randint(1, 60)
    image = f"{c.acct}.dkr.ecr.{c.region}.amazonaws.com/{family}:{hex_string(c.rng, 7)}"
    container = {
        "name": family,
        "image": image,
        "cpu": 256,
        "memory": 512,
        "essential": True,
        "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": "/ecs/orders-worker",
                "awslogs-region": c.region,
                "awslogs-stream-prefix": "ecs",
            },
        },
    }
    request = {
        "family": family,
        "taskRoleArn": task_role.arn,
        "executionRoleArn": exec_role.arn,
        "networkMode": "awsvpc",
        "containerDefinitions": [container],
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
    }
    arn = f"{c.pool.prefix('ecs')}task-definition/{family}:{revision}"
    response = {
        "taskDefinition": {
            "taskDefinitionArn": arn,
            "family": family,
            "revision": revision,
            "status": "ACTIVE",
            "taskRoleArn": task_role.arn,
            "executionRoleArn": exec_role.arn,
            "networkMode": "awsvpc",
            "compatibilities": ["EC2", "FARGATE"],
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "registeredAt": iso_ms(c.day, c.rng),
        }
    }
    # the revision is created by the call, so the permission is on the family: a policy naming revision N
    # could not register revision N+1
    family_arn = f"{c.pool.prefix('ecs')}task-definition/{family}:*"
    return Call(request, (family_arn, (task_role.arn, exec_role.arn)), response)


def _cluster_arn(c: Ctx) -> str:
    return f"{c.pool.prefix('ecs')}cluster/{c.pool.cluster}"


def _service_arn(c: Ctx, service: str) -> str:
    return f"{c.pool.prefix('ecs')}service/{c.pool.cluster}/{service}"


def _describe_clusters(c: Ctx) -> Call:
    return Call({"clusters": [c.pool.cluster], "include": ["SETTINGS"]}, (_cluster_arn(c),))


def _list_services(c: Ctx) -> Call:
    return Call({"cluster": c.pool.cluster, "maxResults": 100}, ("*",))


def _describe_services(c: Ctx) -> Call:
    service = c.pick(c.pool.services)
    return Call({"cluster": c.pool.cluster, "services": [service]}, (_service_arn(c, service),))


def _update_service(c: Ctx) -> Call:
    service = c.pick(c.pool.services)
    family = c.pick(c.pool.task_families)
    request = {
        "cluster": c.pool.cluster,
        "service": service,
        "taskDefinition": f"{family}:{c.rng.randint(1, 60)}",
        "forceNewDeployment": True,
    }
    response = {
        "service": {
            "serviceArn": _service_arn(c, service),
            "serviceName": service,
            "clusterArn": _cluster_arn(c),
            "status": "ACTIVE",
            "desiredCount": 2,
            "runningCount": 2,
            "pendingCount": 0,
            "launchType": "FARGATE",
        }
    }
    return Call(request, (_service_arn(c, service),), response)


def _describe_task_definition(c: Ctx) -> Call:
    return Call({"taskDefinition": c.pick(c.pool.task_families)}, ("*",))


TEMPLATES = (
    # Lambda: event names carry API versions; CreateFunction passes the execution role to Lambda
    Template(
        "lambda.CreateFunction",
        LAMBDA,
        "CreateFunction20150331",
        ("lambda:CreateFunction", "iam:PassRole"),
        _create_function,
        passed_to="lambda.amazonaws.com",
    ),
    Template(
        "lambda.UpdateFunctionCode",
        LAMBDA,
        "UpdateFunctionCode20150331v2",
        ("lambda:UpdateFunctionCode",),
        _update_code,
    ),
    Template(
        "lambda.UpdateFunctionConfiguration",
        LAMBDA,
        "UpdateFunctionConfiguration20150331v2",
        ("lambda:UpdateFunctionConfiguration",),
        _update_configuration,
    ),
    Template(
        "lambda.GetFunction",
        LAMBDA,
        "GetFunction20150331v2",
        ("lambda:GetFunction",),
        _get_function,
        read_only=True,
        not_found=_NO_FUNCTION,
    ),
    Template(
        "lambda.ListFunctions",
        LAMBDA,
        "ListFunctions20150331",
        ("lambda:ListFunctions",),
        _list_functions,
        read_only=True,
    ),
    Template(
        "lambda.AddPermission", LAMBDA, "AddPermission20150331v2", ("lambda:AddPermission",), _add_permission
    ),
    Template(
        "lambda.Invoke",
        LAMBDA,
        "Invoke",
        ("lambda:InvokeFunction",),
        _invoke,
        data=True,
        not_found=_NO_FUNCTION,
    ),
    # EC2: describe calls have no resource-level permissions
    Template(
        "ec2.DescribeInstances",
        EC2,
        "DescribeInstances",
        ("ec2:DescribeInstances",),
        _describe({"instancesSet": {}, "filterSet": _filter("instance-state-name", "running")}),
        read_only=True,
    ),
    Template(
        "ec2.DescribeSecurityGroups",
        EC2,
        "DescribeSecurityGroups",
        ("ec2:DescribeSecurityGroups",),
        _describe({"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}}),
        read_only=True,
    ),
    Template(
        "ec2.DescribeInstanceTypes",
        EC2,
        "DescribeInstanceTypes",
        ("ec2:DescribeInstanceTypes",),
        _describe_instance_types,
        read_only=True,
    ),
    Template(
        "ec2.DescribeVpcs",
        EC2,
        "DescribeVpcs",
        ("ec2:DescribeVpcs",),
        _describe({"vpcSet": {}, "filterSet": {}}),
        read_only=True,
    ),
    Template(
        "ec2.DescribeSubnets",
        EC2,
        "DescribeSubnets",
        ("ec2:DescribeSubnets",),
        _describe({"subnetSet": {}, "filterSet": _filter("availability-zone-id", "use1-az1")}),
        read_only=True,
    ),
    Template(
        "ec2.DescribeSnapshots",
        EC2,
        "DescribeSnapshots",
        ("ec2:DescribeSnapshots",),
        _describe(
            {
                "snapshotSet": {},
                "ownersSet": {"items": [{"owner": "self"}]},
                "sharedUsersSet": {},
                "filterSet": {},
                "maxResults": 1000,
            }
        ),
        read_only=True,
    ),
    Template(
        "ec2.DescribeVolumes",
        EC2,
        "DescribeVolumes",
        ("ec2:DescribeVolumes",),
        _describe({"volumeSet": {}, "filterSet": _filter("status", "in-use")}),
        read_only=True,
    ),
    # RunInstances: the required resource types, plus the instance profile's role passed to EC2
    Template(
        "ec2.RunInstances",
        EC2,
        "RunInstances",
        ("ec2:RunInstances", "iam:PassRole"),
        _run_instances,
        passed_to="ec2.amazonaws.com",
    ),
    Template(
        "ec2.StopInstances",
        EC2,
        "StopInstances",
        ("ec2:StopInstances",),
        _instance_state(("stopping", 64, "running", 16)),
    ),
    Template(
        "ec2.StartInstances",
        EC2,
        "StartInstances",
        ("ec2:StartInstances",),
        _instance_state(("pending", 0, "stopped", 80)),
    ),
    Template(
        "ec2.TerminateInstances",
        EC2,
        "TerminateInstances",
        ("ec2:TerminateInstances",),
        _instance_state(("shutting-down", 32, "running", 16)),
    ),
    Template("ec2.CreateTags", EC2, "CreateTags", ("ec2:CreateTags",), _create_tags),
    Template(
        "ec2.AuthorizeSecurityGroupIngress",
        EC2,
        "AuthorizeSecurityGroupIngress",
        ("ec2:AuthorizeSecurityGroupIngress",),
        _authorize_ingress,
    ),
    Template("ec2.CreateSnapshot", EC2, "CreateSnapshot", ("ec2:CreateSnapshot",), _create_snapshot),
    # ECS: both roles of a task definition are passed to ecs-tasks
    Template(
        "ecs.RegisterTaskDefinition",
        ECS,
        "RegisterTaskDefinition",
        ("ecs:RegisterTaskDefinition", "iam:PassRole"),
        _register_task_definition,
        passed_to="ecs-tasks.amazonaws.com",
    ),
    Template(
        "ecs.ListClusters",
        ECS,
        "ListClusters",
        ("ecs:ListClusters",),
        _describe({"maxResults": 100}),
        read_only=True,
    ),
    Template(
        "ecs.DescribeClusters",
        ECS,
        "DescribeClusters",
        ("ecs:DescribeClusters",),
        _describe_clusters,
        read_only=True,
    ),
    Template("ecs.ListServices", ECS, "ListServices", ("ecs:ListServices",), _list_services, read_only=True),
    Template(
        "ecs.DescribeServices",
        ECS,
        "DescribeServices",
        ("ecs:DescribeServices",),
        _describe_services,
        read_only=True,
    ),
    Template("ecs.UpdateService", ECS, "UpdateService", ("ecs:UpdateService",), _update_service),
    Template(
        "ecs.DescribeTaskDefinition",
        ECS,
        "DescribeTaskDefinition",
        ("ecs:DescribeTaskDefinition",),
        _describe_task_definition,
        read_only=True,
    ),
)
