"""``iam:PassRole``: the permission CloudTrail never records, inferred from the roles calls hand to services.

Passing a role is authorised when a service is configured with it (a function's execution role, a task's
roles, a stack's service role, an instance profile ...); the only trace is the role named inside the
request. Each rule below is keyed by the IAM action of the call, names the request field that carries the
role (botocore member names, first letter lower-cased as CloudTrail writes them) and the service principal
that receives the role, which becomes the statement's ``iam:PassedToService`` condition.

Instance profiles are the one indirect case: ``RunInstances`` names a profile, and a profile *contains* a
role. When the warehouse holds the ``iam:AddRoleToInstanceProfile`` call that put a role in the profile,
that role is used; otherwise the role is assumed to have the profile's name (what the console creates),
and the explanation says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from trailsmith.policy.arns import split_arn
from trailsmith.policy.extract.base import Call, Ref, arn_ref, is_arn, loads, role_refs


@dataclass(frozen=True)
class PassRule:
    """One request field that passes a role to a service."""

    path: str
    service: str
    #: ``role`` (ARN or name), ``profile`` (an instance profile {name|arn}), ``targets`` (EventBridge targets)
    kind: str = "role"
    #: event name prefix of the calls that carry the field, when it is not the action's name
    #: (``CreateFunction`` also matches ``CreateFunction20150331``)
    event: str = ""


#: eventSource host -> IAM action -> where the role is and who receives it.
RULES: dict[str, dict[str, tuple[PassRule, ...]]] = {
    "lambda": {
        "lambda:CreateFunction": (PassRule("role", "lambda.amazonaws.com"),),
        "lambda:UpdateFunctionConfiguration": (PassRule("role", "lambda.amazonaws.com"),),
    },
    "ecs": {
        "ecs:RegisterTaskDefinition": (
            PassRule("taskRoleArn", "ecs-tasks.amazonaws.com"),
            PassRule("executionRoleArn", "ecs-tasks.amazonaws.com"),
        ),
        "ecs:RunTask": (
            PassRule("overrides.taskRoleArn", "ecs-tasks.amazonaws.com"),
            PassRule("overrides.executionRoleArn", "ecs-tasks.amazonaws.com"),
        ),
        "ecs:StartTask": (
            PassRule("overrides.taskRoleArn", "ecs-tasks.amazonaws.com"),
            PassRule("overrides.executionRoleArn", "ecs-tasks.amazonaws.com"),
        ),
    },
    "cloudformation": {
        action: (PassRule("roleARN", "cloudformation.amazonaws.com"),)
        for action in (
            "cloudformation:CreateStack",
            "cloudformation:UpdateStack",
            "cloudformation:CreateChangeSet",
        )
    },
    "ec2": {"ec2:RunInstances": (PassRule("iamInstanceProfile", "ec2.amazonaws.com", "profile"),)},
    "glue": {
        "glue:CreateJob": (PassRule("role", "glue.amazonaws.com"),),
        "glue:UpdateJob": (PassRule("jobUpdate.role", "glue.amazonaws.com"),),
        "glue:CreateCrawler": (PassRule("role", "glue.amazonaws.com"),),
        "glue:UpdateCrawler": (PassRule("role", "glue.amazonaws.com"),),
    },
    "states": {
        "states:CreateStateMachine": (PassRule("roleArn", "states.amazonaws.com"),),
        "states:UpdateStateMachine": (PassRule("roleArn", "states.amazonaws.com"),),
    },
    "s3": {
        "s3:PutReplicationConfiguration": (
            PassRule("ReplicationConfiguration.Role", "s3.amazonaws.com", event="PutBucketReplication"),
        )
    },
    "events": {"events:PutTargets": (PassRule("targets", "events.amazonaws.com", "targets"),)},
    "sagemaker": {
        "sagemaker:CreateTrainingJob": (PassRule("roleArn", "sagemaker.amazonaws.com"),),
        "sagemaker:CreateProcessingJob": (PassRule("roleArn", "sagemaker.amazonaws.com"),),
        "sagemaker:CreateModel": (PassRule("executionRoleArn", "sagemaker.amazonaws.com"),),
    },
    "codebuild": {
        "codebuild:CreateProject": (PassRule("serviceRole", "codebuild.amazonaws.com"),),
        "codebuild:UpdateProject": (PassRule("serviceRole", "codebuild.amazonaws.com"),),
    },
}


@dataclass(frozen=True)
class PassedRole:
    """A role pattern passed to a service, with a note when it rests on an assumption."""

    role: str
    service: str
    note: str = ""


def passrole_paths(host: str) -> dict[str, tuple[str, ...]]:
    """Request fields the PassRole rules of ``host`` read, each with the event name prefixes that carry it
    (so the SQL parses them out of those calls only)."""
    out: dict[str, list[str]] = {}
    for action, rules in RULES.get(host, {}).items():
        for rule in rules:
            out.setdefault(rule.path, []).append(rule.event or action.split(":", 1)[1])
    return {path: tuple(sorted(set(prefixes))) for path, prefixes in out.items()}


def passed_roles(call: Call, actions: tuple[str, ...]) -> Iterator[PassedRole]:
    """Roles an authorised call with these ``actions`` passed, each with its receiving service."""
    rules = RULES.get(call.source, {})
    for action in actions:
        for rule in rules.get(action, ()):
            value = call.get(rule.path)
            if value is None:
                continue
            if rule.kind == "profile":
                refs = list(_profile_roles(call, value))
            elif rule.kind == "targets":
                refs = list(_target_roles(call, value))
            else:
                refs = [arn_ref(value)] if is_arn(value) else role_refs(call, value)
            for found in refs:
                yield PassedRole(found.arn, rule.service, found.note)


def _target_roles(call: Call, text: str) -> Iterator[Ref]:
    parsed = loads(text)
    for target in parsed if isinstance(parsed, list) else []:
        role = target.get("roleArn") if isinstance(target, dict) else None
        if isinstance(role, str) and role:
            yield arn_ref(role)


def _profile_roles(call: Call, text: str) -> Iterator[Ref]:
    """The role(s) inside an instance profile given as ``{"name": ...}`` or ``{"arn": ...}``."""
    parsed = loads(text) if text.startswith("{") else {"name": text}
    if not isinstance(parsed, dict):
        return
    account, name = call.account, parsed.get("name")
    arn = parsed.get("arn")
    if isinstance(arn, str) and is_arn(arn):
        parts = split_arn(arn)
        if parts is not None:
            account, name = parts[3], parts[4].rsplit("/", 1)[-1]
    if not isinstance(name, str) or not name:
        return
    recorded = call.known.profile_roles.get((account, name), ())
    if recorded:
        for role in recorded:
            for found in role_refs(call, role, account):
                note = f"instance profile {name} holds role {role} (iam:AddRoleToInstanceProfile seen)"
                yield Ref(found.arn, found.fmt, found.actions, "; ".join(filter(None, (note, found.note))))
        return
    assumed = (
        f"instance profile {name}: its role is assumed to be named {name} (the console's convention); "
        "no iam:AddRoleToInstanceProfile for it in the warehouse"
    )
    for found in role_refs(call, name, account):
        yield Ref(found.arn, found.fmt, found.actions, "; ".join(filter(None, (assumed, found.note))))
