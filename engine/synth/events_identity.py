"""IAM, STS and console sign-in events.

IAM is a global service: CloudTrail records its calls in us-east-1 only. ``GetRole`` is asked for by name,
yet the resource is the role's ARN *with its path*. ``sts:GetCallerIdentity`` and ``ConsoleLogin`` need no
permission, and ``AssumeRole`` calls made by AWS services (``userIdentity.type`` AWSService) belong to no
policy holder of the account.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from trailsmith.synth.catalog import CONSOLE_SIGN_IN, JSON, Call, Ctx, Template, iso_ms, resource
from trailsmith.synth.ids import UPPER_ALNUM, access_key, chars

IAM, STS, SIGNIN = "iam.amazonaws.com", "sts.amazonaws.com", "signin.amazonaws.com"
_GLOBAL = "us-east-1"
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
_INLINE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::example-bucket/*"}
    ],
}


def _role_arn(c: Ctx, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{c.acct}:role{path}{name}"


def _some_role(c: Ctx) -> tuple[str, str]:
    role = c.pick(tuple(c.account.roles.values()))
    return role.name, role.arn


def _by_role_name(extra: JSON) -> Callable[[Ctx], Call]:
    def build(c: Ctx) -> Call:
        name, arn = _some_role(c)
        return Call({"roleName": name, **extra}, (arn,))

    return build


def _global(request: JSON | None) -> Callable[[Ctx], Call]:
    def build(c: Ctx) -> Call:
        return Call(request, ("*",))

    return build


def _create_role(c: Ctx) -> Call:
    name = f"experiment-{c.rng.randrange(5)}"
    arn = _role_arn(c, name, "/sandbox/")
    request = {
        "roleName": name,
        "path": "/sandbox/",
        "assumeRolePolicyDocument": json.dumps(_TRUST),
        "description": "scratch role for experiments",
        "maxSessionDuration": 3600,
    }
    response = {
        "role": {
            "path": "/sandbox/",
            "roleName": name,
            "roleId": "AROA" + chars(c.rng, UPPER_ALNUM, 17),
            "arn": arn,
            "createDate": iso_ms(c.day, c.rng),
            "assumeRolePolicyDocument": json.dumps(_TRUST),
        }
    }
    return Call(request, (arn,), response)


def _attach_role_policy(c: Ctx) -> Call:
    name, arn = _some_role(c)
    return Call({"roleName": name, "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, (arn,))


def _put_role_policy(c: Ctx) -> Call:
    name, arn = _some_role(c)
    return Call(
        {"roleName": name, "policyName": "inline-s3-read", "policyDocument": json.dumps(_INLINE)}, (arn,)
    )


def _user_arn(c: Ctx, key: str) -> tuple[str, str]:
    user = c.account.users[key]
    return user.name, user.arn


def _self(c: Ctx) -> tuple[str, str]:
    """The calling IAM user (its session is its name), for self-service calls."""
    return _user_arn(c, c.session if c.session in c.account.users else "alice")


def _get_user_self(c: Ctx) -> Call:
    # Without a userName, GetUser describes the caller: the resource is the caller's own user.
    return Call(None, (_self(c)[1],))


def _get_user(c: Ctx) -> Call:
    name, arn = _user_arn(c, c.pick(tuple(c.account.users)))
    return Call({"userName": name}, (arn,))


def _list_access_keys(c: Ctx) -> Call:
    name, arn = _self(c)
    return Call({"userName": name}, (arn,))


def _create_access_key(c: Ctx) -> Call:
    name, arn = _self(c)
    response = {
        "accessKey": {
            "userName": name,
            "accessKeyId": access_key(c.rng, "AKIA"),
            "status": "Active",
            "createDate": iso_ms(c.day, c.rng).replace(".000+0000", "Z"),
        }
    }
    return Call({"userName": name}, (arn,), response)


def _get_policy(c: Ctx) -> Call:
    arn = f"arn:aws:iam::{c.acct}:policy/{c.pick(('orders-data-access', 'ops-break-glass'))}"
    return Call({"policyArn": arn}, (arn,))


def _credentials(c: Ctx) -> JSON:
    """Temporary credentials as CloudTrail records them (the secret parts are never logged)."""
    y, m, d = (int(part) for part in c.day.split("/"))
    hour = c.rng.randrange(1, 13)
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[m - 1]
    expiration = (
        f"{month} {d}, {y}, {hour}:{c.rng.randrange(60):02d}:{c.rng.randrange(60):02d} {c.pick(('AM', 'PM'))}"
    )
    return {
        "accessKeyId": access_key(c.rng),
        "sessionToken": "HIDDEN_DUE_TO_SECURITY_REASONS",
        "expiration": expiration,
    }


def _assume_role(c: Ctx) -> Call:
    role = c.account.roles["app-deployer"]
    session = f"gha-{c.rng.randrange(10**9, 10**10)}"
    request = {"roleArn": role.arn, "roleSessionName": session, "durationSeconds": 3600}
    response = {
        "credentials": _credentials(c),
        "assumedRoleUser": {
            "assumedRoleId": f"{role.role_id}:{session}",
            "arn": f"arn:aws:sts::{c.acct}:assumed-role/{role.name}/{session}",
        },
    }
    return Call(
        request,
        (role.arn,),
        response,
        [resource("AWS::IAM::Role", role.arn, c.acct)],
        host=f"sts.{c.region}.amazonaws.com",
    )


def _service_assume_role(role_key: str, session_of: Callable[[Ctx], str]) -> Callable[[Ctx], Call]:
    """An AWS service assuming a role it was given (a function's, a task's, an instance's)."""

    def build(c: Ctx) -> Call:
        role = c.account.roles[role_key]
        session = session_of(c)
        request = {"roleArn": role.arn, "roleSessionName": session}
        response = {
            "credentials": _credentials(c),
            "assumedRoleUser": {
                "assumedRoleId": f"{role.role_id}:{session}",
                "arn": f"arn:aws:sts::{c.acct}:assumed-role/{role.name}/{session}",
            },
        }
        return Call(request, (), response, [resource("AWS::IAM::Role", role.arn, c.acct)])

    return build


def _get_caller_identity(c: Ctx) -> Call:
    return Call(None, (), None, host=f"sts.{c.region}.amazonaws.com")


def _console_login(c: Ctx) -> Call:
    additional: JSON = {
        "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
        "MobileVersion": "No",
    }
    if c.session == "root":
        additional |= {
            "MFAIdentifier": f"arn:aws:iam::{c.acct}:mfa/root-account-mfa-device",
            "MFAUsed": "Yes",
        }
    else:
        additional |= {"MFAUsed": "No"}
    return Call(None, (), {"ConsoleLogin": "Success"}, None, additional)


TEMPLATES = (
    Template(
        "iam.ListRoles",
        IAM,
        "ListRoles",
        ("iam:ListRoles",),
        _global({"maxItems": 100}),
        read_only=True,
        only_region=_GLOBAL,
    ),
    Template(
        "iam.GetRole",
        IAM,
        "GetRole",
        ("iam:GetRole",),
        _by_role_name({}),
        read_only=True,
        only_region=_GLOBAL,
        not_found=("NoSuchEntityException", "The role with name experiment-9 cannot be found."),
    ),
    Template(
        "iam.ListAttachedRolePolicies",
        IAM,
        "ListAttachedRolePolicies",
        ("iam:ListAttachedRolePolicies",),
        _by_role_name({}),
        read_only=True,
        only_region=_GLOBAL,
    ),
    Template(
        "iam.ListRolePolicies",
        IAM,
        "ListRolePolicies",
        ("iam:ListRolePolicies",),
        _by_role_name({}),
        read_only=True,
        only_region=_GLOBAL,
    ),
    Template("iam.CreateRole", IAM, "CreateRole", ("iam:CreateRole",), _create_role, only_region=_GLOBAL),
    Template(
        "iam.AttachRolePolicy",
        IAM,
        "AttachRolePolicy",
        ("iam:AttachRolePolicy",),
        _attach_role_policy,
        only_region=_GLOBAL,
    ),
    Template(
        "iam.PutRolePolicy",
        IAM,
        "PutRolePolicy",
        ("iam:PutRolePolicy",),
        _put_role_policy,
        only_region=_GLOBAL,
    ),
    Template(
        "iam.ListUsers",
        IAM,
        "ListUsers",
        ("iam:ListUsers",),
        _global(None),
        read_only=True,
        only_region=_GLOBAL,
    ),
    Template("iam.GetUser", IAM, "GetUser", ("iam:GetUser",), _get_user, read_only=True, only_region=_GLOBAL),
    Template(
        "iam.GetUser.self",
        IAM,
        "GetUser",
        ("iam:GetUser",),
        _get_user_self,
        read_only=True,
        only_region=_GLOBAL,
    ),
    Template(
        "iam.ListAccessKeys",
        IAM,
        "ListAccessKeys",
        ("iam:ListAccessKeys",),
        _list_access_keys,
        read_only=True,
        only_region=_GLOBAL,
    ),
    Template(
        "iam.CreateAccessKey",
        IAM,
        "CreateAccessKey",
        ("iam:CreateAccessKey",),
        _create_access_key,
        only_region=_GLOBAL,
    ),
    Template(
        "iam.GetAccountSummary",
        IAM,
        "GetAccountSummary",
        ("iam:GetAccountSummary",),
        _global(None),
        read_only=True,
        only_region=_GLOBAL,
    ),
    Template(
        "iam.GetAccountPasswordPolicy",
        IAM,
        "GetAccountPasswordPolicy",
        ("iam:GetAccountPasswordPolicy",),
        _global(None),
        read_only=True,
        only_region=_GLOBAL,
    ),
    Template(
        "iam.GenerateCredentialReport",
        IAM,
        "GenerateCredentialReport",
        ("iam:GenerateCredentialReport",),
        _global(None),
        only_region=_GLOBAL,
    ),
    Template(
        "iam.ListPolicies",
        IAM,
        "ListPolicies",
        ("iam:ListPolicies",),
        _global({"scope": "Local", "onlyAttached": False}),
        read_only=True,
        only_region=_GLOBAL,
    ),
    Template(
        "iam.GetPolicy",
        IAM,
        "GetPolicy",
        ("iam:GetPolicy",),
        _get_policy,
        read_only=True,
        only_region=_GLOBAL,
    ),
    # STS: AssumeRole needs sts:AssumeRole on the role; GetCallerIdentity needs nothing
    Template("sts.AssumeRole", STS, "AssumeRole", ("sts:AssumeRole",), _assume_role),
    Template("sts.GetCallerIdentity", STS, "GetCallerIdentity", (), _get_caller_identity, read_only=True),
    Template(
        "sts.AssumeRole.by-lambda",
        STS,
        "AssumeRole",
        (),
        _service_assume_role("orders-api-exec", lambda c: c.pool.functions[0].name),
    ),
    Template(
        "sts.AssumeRole.by-ecs-tasks",
        STS,
        "AssumeRole",
        (),
        _service_assume_role("orders-worker-task", lambda c: c.pick(c.pool.container_ids)),
    ),
    Template(
        "sts.AssumeRole.by-ec2",
        STS,
        "AssumeRole",
        (),
        _service_assume_role("ec2-worker", lambda c: c.pick(c.pool.instances)),
    ),
    # console sign-in is not an IAM action at all
    Template("signin.ConsoleLogin", SIGNIN, "ConsoleLogin", (), _console_login, event_type=CONSOLE_SIGN_IN),
)
