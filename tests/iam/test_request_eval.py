"""The request-level evaluator against real policy documents, one IAM rule per test.

Every expectation comes from the IAM User Guide (policy evaluation logic, condition operators, policy
variables, multivalued context keys), never from running the evaluator first.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailsmith.iam.export import Policy, parse_document
from trailsmith.iam.request import Request, decide, matches

A = "111122223333"


def policy(label: str, *statements: dict[str, Any]) -> Policy:
    return parse_document({"Version": "2012-10-17", "Statement": list(statements)}, label)


def allow(
    action: Any = "*", resource: Any = "*", condition: dict[str, Any] | None = None, **more: Any
) -> dict:
    return statement("Allow", action, resource, condition, **more)


def deny(
    action: Any = "*", resource: Any = "*", condition: dict[str, Any] | None = None, **more: Any
) -> dict:
    return statement("Deny", action, resource, condition, **more)


def statement(effect: str, action: Any, resource: Any, condition: dict[str, Any] | None, **more: Any) -> dict:
    body: dict[str, Any] = {"Effect": effect, **more}
    if "NotAction" not in more:
        body["Action"] = action
    if "NotResource" not in more:
        body["Resource"] = resource
    if condition is not None:
        body["Condition"] = condition
    return body


def request(action: str, resource: str = "*", unknown: tuple[str, ...] = (), **context: Any) -> Request:
    """Context keys as keyword arguments: ``aws_SourceIp`` is ``aws:SourceIp``, ``aws_PrincipalTag__team``
    is ``aws:PrincipalTag/team``."""
    values = {
        k.replace("_", ":", 1).replace("__", "/"): (v,) if isinstance(v, str) else tuple(v)
        for k, v in context.items()
    }
    return Request(action, resource, values, frozenset(unknown))


def when(condition: dict[str, Any], req: Request) -> bool | None:
    """Whether an Allow on everything with ``condition`` matches ``req``."""
    [only] = policy("p", allow(condition=condition)).statements
    return matches(only, req)


# --- precedence -------------------------------------------------------------------------------------------

S3_READ = policy(
    "arn:aws:iam::111122223333:policy/S3Read",
    allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::reports", "arn:aws:s3:::reports/*"]),
)
NO_SECRETS = policy("inline:no-secrets", deny("s3:*", "arn:aws:s3:::reports/secret/*"))


def test_allow_needs_a_matching_allow() -> None:
    got = decide([S3_READ], request("s3:GetObject", "arn:aws:s3:::reports/2024/q1.csv"))
    assert got.decision == "allow"
    assert got.allowed_by == (("arn:aws:iam::111122223333:policy/S3Read", 0),)
    assert decide([S3_READ], request("s3:PutObject", "arn:aws:s3:::reports/x")).decision == "implicit-deny"
    assert decide([S3_READ], request("s3:GetObject", "arn:aws:s3:::other/x")).decision == "implicit-deny"
    assert decide([], request("s3:GetObject", "arn:aws:s3:::reports/x")).decision == "implicit-deny"


def test_explicit_deny_wins_over_any_allow() -> None:
    admin = policy("admin", allow())
    got = decide([admin, S3_READ, NO_SECRETS], request("s3:GetObject", "arn:aws:s3:::reports/secret/k"))
    assert got.decision == "explicit-deny"
    assert got.denied_by == (("inline:no-secrets", 0),)
    assert got.allowed_by == (("admin", 0), ("arn:aws:iam::111122223333:policy/S3Read", 0))
    assert decide([admin, NO_SECRETS], request("s3:GetObject", "arn:aws:s3:::reports/public/k")).decision == (
        "allow"
    )


def test_action_match_is_case_insensitive_with_wildcards() -> None:
    p = policy("p", allow(["EC2:Describe*", "iam:Get?ser"]))
    assert decide([p], request("ec2:DescribeInstances")).decision == "allow"
    assert decide([p], request("iam:GetUser")).decision == "allow"
    assert decide([p], request("iam:GetUsers")).decision == "implicit-deny"
    assert decide([p], request("ec2:RunInstances")).decision == "implicit-deny"


def test_not_action_with_allow_grants_everything_else() -> None:
    p = policy("p", allow(NotAction=["iam:*", "organizations:*"]))
    assert decide([p], request("s3:GetObject", "arn:aws:s3:::b/k")).decision == "allow"
    assert decide([p], request("iam:CreateUser", f"arn:aws:iam::{A}:user/x")).decision == "implicit-deny"


def test_not_action_with_deny_denies_everything_else() -> None:
    # the classic "deny everything but IAM self-service without MFA" shape
    p = policy(
        "p",
        allow(),
        deny(
            NotAction=["iam:ChangePassword", "sts:GetSessionToken"],
            condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        ),
    )
    no_mfa = {"aws_MultiFactorAuthPresent": "false"}
    assert decide([p], request("s3:ListAllMyBuckets", **no_mfa)).decision == "explicit-deny"
    assert (
        decide([p], request("iam:ChangePassword", f"arn:aws:iam::{A}:user/me", **no_mfa)).decision == "allow"
    )
    assert decide([p], request("s3:ListAllMyBuckets", aws_MultiFactorAuthPresent="true")).decision == "allow"
    # absent key: BoolIfExists is true, so the deny applies (long-term keys carry no MFA flag)
    assert decide([p], request("s3:ListAllMyBuckets")).decision == "explicit-deny"


# --- resources --------------------------------------------------------------------------------------------


def test_not_resource() -> None:
    p = policy("p", allow("s3:*", NotResource=["arn:aws:s3:::payroll", "arn:aws:s3:::payroll/*"]))
    assert decide([p], request("s3:GetObject", "arn:aws:s3:::reports/k")).decision == "allow"
    assert decide([p], request("s3:GetObject", "arn:aws:s3:::payroll/k")).decision == "implicit-deny"
    # an action without a resource is requested on "*", which an ARN-only NotResource does not exclude
    assert decide([p], request("s3:ListAllMyBuckets", "*")).decision == "allow"
    star = policy("q", allow("s3:*", NotResource="*"))
    assert decide([star], request("s3:ListAllMyBuckets", "*")).decision == "implicit-deny"
    assert decide([star], request("s3:GetObject", "arn:aws:s3:::b/k")).decision == "implicit-deny"


def test_object_keys_with_colons_match_the_last_part() -> None:
    p = policy("p", allow("s3:GetObject", "arn:aws:s3:::logs/*"))
    assert decide([p], request("s3:GetObject", "arn:aws:s3:::logs/2024:01:02/a:b.gz")).decision == "allow"
    assert decide([p], request("s3:GetObject", "arn:aws:s3:::logsx/a")).decision == "implicit-deny"


def test_wildcards_stay_inside_their_part() -> None:
    p = policy("p", allow("dynamodb:GetItem", f"arn:aws:dynamodb:us-*-1:{A}:table/orders*"))
    assert decide(
        [p], request("dynamodb:GetItem", f"arn:aws:dynamodb:us-east-1:{A}:table/orders")
    ).decision == ("allow")
    # "us-*-1" may not run across the colons into the account part
    across = "arn:aws:dynamodb:us-east:1:table/orders"
    assert decide([p], request("dynamodb:GetItem", across)).decision == "implicit-deny"
    q = policy("q", allow("ec2:*", f"arn:aws:ec2:??-west-2:{A}:instance/*"))
    assert decide([q], request("ec2:StopInstances", f"arn:aws:ec2:us-west-2:{A}:instance/i-1")).decision == (
        "allow"
    )
    assert decide([q], request("ec2:StopInstances", f"arn:aws:ec2:usa-west-2:{A}:instance/i-1")).decision == (
        "implicit-deny"
    )


def test_resource_match_is_case_sensitive() -> None:
    p = policy("p", allow("s3:GetObject", "arn:aws:s3:::Reports/*"))
    assert decide([p], request("s3:GetObject", "arn:aws:s3:::reports/k")).decision == "implicit-deny"


def test_actions_without_a_resource_need_resource_star() -> None:
    scoped = policy("scoped", allow("s3:*", "arn:aws:s3:::*"))
    anything = policy("anything", allow("s3:*", "*"))
    assert decide([scoped], request("s3:ListAllMyBuckets", "*")).decision == "implicit-deny"
    assert decide([anything], request("s3:ListAllMyBuckets", "*")).decision == "allow"
    assert decide([scoped], request("s3:GetObject", "arn:aws:s3:::b/k")).decision == "allow"


# --- policy variables -------------------------------------------------------------------------------------


def test_variables_in_resources() -> None:
    p = policy("p", allow("s3:*", "arn:aws:s3:::home/${aws:username}/*"))
    me = "arn:aws:s3:::home/alice/notes.txt"
    assert decide([p], request("s3:GetObject", me, aws_username="alice")).decision == "allow"
    assert decide([p], request("s3:GetObject", me, aws_username="bob")).decision == "implicit-deny"
    # no aws:username (a role session): the entry matches nothing
    assert decide([p], request("s3:GetObject", me)).decision == "implicit-deny"
    # the value is literal, never a pattern
    assert decide([p], request("s3:GetObject", me, aws_username="*")).decision == "implicit-deny"
    got = decide([p], request("s3:GetObject", me, unknown=("aws:username",)))
    assert (got.decision, got.undetermined) == ("unknown", ("aws:username",))


def test_variable_default_and_literal_escapes() -> None:
    p = policy("p", allow("s3:GetObject", "arn:aws:s3:::teams/${aws:PrincipalTag/team, 'shared'}/*"))
    tagged = request("s3:GetObject", "arn:aws:s3:::teams/red/k", aws_PrincipalTag__team="red")
    assert decide([p], tagged).decision == "allow"
    assert decide([p], request("s3:GetObject", "arn:aws:s3:::teams/shared/k")).decision == "allow"
    assert decide([p], request("s3:GetObject", "arn:aws:s3:::teams/red/k")).decision == "implicit-deny"
    literal = policy("q", allow("s3:GetObject", "arn:aws:s3:::b/${*}${?}${$}"))
    assert decide([literal], request("s3:GetObject", "arn:aws:s3:::b/*?$")).decision == "allow"
    assert decide([literal], request("s3:GetObject", "arn:aws:s3:::b/ab$")).decision == "implicit-deny"


def test_variables_in_condition_values() -> None:
    cond = {"StringEquals": {"aws:ResourceTag/owner": "${aws:userid}"}}
    assert when(cond, request("ec2:StopInstances", aws_ResourceTag__owner="AIDA1", aws_userid="AIDA1"))
    assert (
        when(cond, request("ec2:StopInstances", aws_ResourceTag__owner="AIDA1", aws_userid="AIDA2")) is False
    )
    assert when(cond, request("ec2:StopInstances", aws_ResourceTag__owner="AIDA1")) is False
    like = {"StringLike": {"s3:prefix": ["home/${aws:username}/*", "public/*"]}}
    assert when(like, request("s3:ListBucket", s3_prefix="home/alice/x", aws_username="alice"))
    assert when(like, request("s3:ListBucket", s3_prefix="public/x"))
    assert when(like, request("s3:ListBucket", s3_prefix="home/bob/x", aws_username="alice")) is False


# --- condition operators ----------------------------------------------------------------------------------


def test_string_operators() -> None:
    r = request("s3:GetObject", aws_PrincipalTag__dept="Finance")
    assert when({"StringEquals": {"aws:PrincipalTag/dept": ["HR", "Finance"]}}, r)
    assert when({"StringEquals": {"aws:PrincipalTag/dept": "finance"}}, r) is False
    assert when({"StringEqualsIgnoreCase": {"aws:principaltag/DEPT": "finance"}}, r)
    assert when({"StringNotEquals": {"aws:PrincipalTag/dept": ["HR", "Legal"]}}, r)
    assert when({"StringNotEquals": {"aws:PrincipalTag/dept": ["HR", "Finance"]}}, r) is False
    assert when({"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/dept": "FINANCE"}}, r) is False
    assert when({"StringLike": {"aws:PrincipalTag/dept": "Fin*"}}, r)
    assert when({"StringLike": {"aws:PrincipalTag/dept": "Financ?"}}, r)
    assert when({"StringLike": {"aws:PrincipalTag/dept": "fin*"}}, r) is False
    assert when({"StringNotLike": {"aws:PrincipalTag/dept": "HR*"}}, r)
    # StringEquals has no wildcards: "*" is a character
    assert when({"StringEquals": {"aws:PrincipalTag/dept": "*"}}, r) is False


def test_absent_keys_false_for_positive_true_for_negated_operators() -> None:
    bare = request("s3:GetObject")
    for op in ("StringEquals", "StringLike", "StringEqualsIgnoreCase", "ArnLike", "ArnEquals"):
        assert when({op: {"aws:PrincipalArn": "x"}}, bare) is False, op
    for op in ("StringNotEquals", "StringNotLike", "StringNotEqualsIgnoreCase", "ArnNotLike", "ArnNotEquals"):
        assert when({op: {"aws:PrincipalArn": "x"}}, bare) is True, op
    assert when({"NumericNotEquals": {"s3:max-keys": "10"}}, bare) is True
    assert when({"NumericLessThan": {"s3:max-keys": "10"}}, bare) is False
    assert when({"DateNotEquals": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}}, bare) is True
    assert when({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, bare) is True
    assert when({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, bare) is False
    assert when({"Bool": {"aws:SecureTransport": "true"}}, bare) is False


def test_if_exists() -> None:
    cond = {"StringEqualsIfExists": {"ec2:InstanceType": ["t3.micro", "t3.small"]}}
    assert when(cond, request("ec2:RunInstances")) is True
    assert when(cond, request("ec2:RunInstances", ec2_InstanceType="t3.micro")) is True
    assert when(cond, request("ec2:RunInstances", ec2_InstanceType="m5.24xlarge")) is False
    negated = {"StringNotEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}
    assert when(negated, request("ec2:RunInstances")) is True
    assert when(negated, request("ec2:RunInstances", ec2_InstanceType="t3.micro")) is False
    assert when(
        {"NumericLessThanIfExists": {"s3:max-keys": 5}}, request("s3:ListBucket", **{"s3_max-keys": "9"})
    ) is (False)


def test_numeric_operators() -> None:
    r = request("s3:ListBucket", **{"s3_max-keys": "10"})
    assert when({"NumericEquals": {"s3:max-keys": 10}}, r)
    assert when({"NumericEquals": {"s3:max-keys": "10.0"}}, r)
    assert when({"NumericNotEquals": {"s3:max-keys": ["10", "20"]}}, r) is False
    assert when({"NumericLessThan": {"s3:max-keys": 10}}, r) is False
    assert when({"NumericLessThanEquals": {"s3:max-keys": 10}}, r)
    assert when({"NumericGreaterThan": {"s3:max-keys": "9"}}, r)
    assert when({"NumericGreaterThanEquals": {"s3:max-keys": 11}}, r) is False
    # a request value that is not a number matches nothing
    assert when(
        {"NumericLessThan": {"s3:max-keys": 10}}, request("s3:ListBucket", **{"s3_max-keys": "x"})
    ) is (False)


def test_date_operators_iso_and_epoch() -> None:
    r = request("s3:GetObject", aws_CurrentTime="2024-06-15T12:00:00Z", aws_EpochTime="1718452800")
    assert when({"DateLessThan": {"aws:CurrentTime": "2024-12-31T23:59:59Z"}}, r)
    assert when({"DateGreaterThan": {"aws:CurrentTime": "2024-12-31T23:59:59Z"}}, r) is False
    assert when({"DateEquals": {"aws:CurrentTime": "2024-06-15T14:00:00+02:00"}}, r)
    assert when({"DateEquals": {"aws:CurrentTime": 1718452800}}, r)
    assert when({"DateGreaterThanEquals": {"aws:EpochTime": "2024-06-15T12:00:00Z"}}, r)
    assert when({"DateLessThanEquals": {"aws:CurrentTime": "2024-06-15"}}, r) is False
    assert when({"DateNotEquals": {"aws:CurrentTime": "2024-06-15T12:00:00Z"}}, r) is False
    assert when({"DateLessThan": {"aws:CurrentTime": "20250101T000000Z"}}, r)


def test_bool_and_binary() -> None:
    r = request("s3:PutObject", aws_SecureTransport="true", kms_Blob="aGVsbG8=")
    assert when({"Bool": {"aws:SecureTransport": True}}, r)
    assert when({"Bool": {"aws:SecureTransport": "TRUE"}}, r)
    assert when({"Bool": {"aws:SecureTransport": "false"}}, r) is False
    assert when({"BinaryEquals": {"kms:Blob": "aGVsbG8="}}, r)
    assert when({"BinaryEquals": {"kms:Blob": "d29ybGQ="}}, r) is False


def test_ip_addresses_v4_and_v6() -> None:
    v4 = request("s3:GetObject", aws_SourceIp="203.0.113.77")
    v6 = request("s3:GetObject", aws_SourceIp="2001:db8:1234::1")
    ranges = {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8:1234::/48"]}}
    assert when(ranges, v4)
    assert when(ranges, v6)
    assert when({"IpAddress": {"aws:SourceIp": "203.0.113.77"}}, v4)
    assert when({"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}, v4) is False
    assert when({"IpAddress": {"aws:SourceIp": "2001:db8:ffff::/48"}}, v6) is False
    assert when({"NotIpAddress": {"aws:SourceIp": ["198.51.100.0/24", "2001:db8::/32"]}}, v4)
    assert when({"NotIpAddress": {"aws:SourceIp": ["198.51.100.0/24", "2001:db8::/32"]}}, v6) is False
    # a service calling on the principal's behalf has a host name, not an address, as source
    assert when(ranges, request("s3:GetObject", aws_SourceIp="athena.amazonaws.com")) is False


def test_arn_operators_match_part_by_part() -> None:
    r = request("iam:PassRole", iam_PassedToService="x", aws_PrincipalArn=f"arn:aws:iam::{A}:role/app/web")
    assert when({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/app/*"}}, r)
    assert when({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/app/web"}}, r)
    assert when({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/APP/*"}}, r) is False
    assert when({"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/admin*"}}, r)
    assert when({"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/app/web"}}, r) is False
    # the "*" of the service part may not reach into the region and account parts
    assert when({"ArnLike": {"aws:PrincipalArn": "arn:aws:*:role/app/web"}}, r) is False


def test_null() -> None:
    temporary = request("s3:GetObject", aws_TokenIssueTime="2024-06-15T12:00:00Z")
    long_term = request("s3:GetObject")
    assert when({"Null": {"aws:TokenIssueTime": "true"}}, long_term)
    assert when({"Null": {"aws:TokenIssueTime": "true"}}, temporary) is False
    assert when({"Null": {"aws:TokenIssueTime": False}}, temporary)
    assert when({"Null": {"aws:TokenIssueTime": "false"}}, long_term) is False
    # a multivalued key present with no values counts as null
    assert when({"Null": {"aws:TagKeys": "true"}}, request("ec2:CreateTags", aws_TagKeys=()))


def test_set_qualifiers_on_multivalued_keys() -> None:
    allowed_keys = {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}
    assert when(allowed_keys, request("ec2:CreateTags", aws_TagKeys=["env"]))
    assert when(allowed_keys, request("ec2:CreateTags", aws_TagKeys=["env", "team"]))
    assert when(allowed_keys, request("ec2:CreateTags", aws_TagKeys=["env", "cost"])) is False
    # ForAllValues is true on an absent or empty key: why such allows usually add a Null check
    assert when(allowed_keys, request("ec2:CreateTags")) is True
    assert when(allowed_keys, request("ec2:CreateTags", aws_TagKeys=())) is True
    required = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}}
    assert when(required, request("ec2:CreateTags", aws_TagKeys=["cost", "team"]))
    assert when(required, request("ec2:CreateTags", aws_TagKeys=["cost"])) is False
    assert when(required, request("ec2:CreateTags")) is False
    assert when(required, request("ec2:CreateTags", aws_TagKeys=())) is False


def test_negated_set_operators_follow_the_guides_tables() -> None:
    # IAM User Guide, multivalued context key examples: Deny with ForAllValues:StringNotLike "key1*"
    cond = {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}
    assert when(cond, request("iam:TagUser", aws_TagKeys=["key1:legal"])) is False
    assert when(cond, request("iam:TagUser", aws_TagKeys=["key1:hr", "key1:personnel"])) is False
    assert when(cond, request("iam:TagUser", aws_TagKeys=["key2:audit"])) is True
    assert when(cond, request("iam:TagUser")) is True
    any_not = {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["env", "team"]}}
    assert when(any_not, request("iam:TagUser", aws_TagKeys=["env", "cost"]))
    assert when(any_not, request("iam:TagUser", aws_TagKeys=["env", "team"])) is False
    assert when(any_not, request("iam:TagUser")) is False


def test_keys_anded_values_ored_operators_anded() -> None:
    cond = {
        "StringEquals": {
            "aws:RequestedRegion": ["eu-west-1", "eu-central-1"],
            "aws:PrincipalTag/tier": "gold",
        },
        "Bool": {"aws:SecureTransport": "true"},
    }
    ok = {
        "aws_RequestedRegion": "eu-central-1",
        "aws_PrincipalTag__tier": "gold",
        "aws_SecureTransport": "true",
    }
    assert when(cond, request("ec2:RunInstances", **ok))
    assert when(cond, request("ec2:RunInstances", **{**ok, "aws_RequestedRegion": "us-east-1"})) is False
    assert when(cond, request("ec2:RunInstances", **{**ok, "aws_PrincipalTag__tier": "silver"})) is False
    assert when(cond, request("ec2:RunInstances", **{**ok, "aws_SecureTransport": "false"})) is False


def test_keys_are_case_insensitive_values_are_not() -> None:
    cond = {"StringEquals": {"AWS:REQUESTEDREGION": "eu-west-1"}}
    assert when(cond, Request("ec2:RunInstances", "*", {"aws:requestedRegion": ("eu-west-1",)}))
    assert when(cond, Request("ec2:RunInstances", "*", {"aws:RequestedRegion": ("EU-WEST-1",)})) is False


# --- permissions boundaries -------------------------------------------------------------------------------


def test_boundary_caps_the_identity_policies() -> None:
    admin = policy("admin", allow())
    boundary = policy(
        "arn:aws:iam::111122223333:policy/Boundary",
        allow(["s3:*", "cloudwatch:*"]),
        deny("s3:DeleteBucket"),
    )
    got = decide([admin], request("s3:GetObject", "arn:aws:s3:::b/k"), boundary=[boundary])
    assert (got.decision, got.boundary_allowed_by) == (
        "allow",
        (("arn:aws:iam::111122223333:policy/Boundary", 0),),
    )
    capped = decide([admin], request("iam:CreateUser", f"arn:aws:iam::{A}:user/x"), boundary=[boundary])
    assert (capped.decision, capped.allowed_by) == ("implicit-deny", (("admin", 0),))
    denied = decide([admin], request("s3:DeleteBucket", "arn:aws:s3:::b"), boundary=[boundary])
    assert denied.decision == "explicit-deny"
    assert denied.denied_by == (("arn:aws:iam::111122223333:policy/Boundary", 1),)
    # the boundary alone grants nothing
    assert decide([], request("s3:GetObject", "arn:aws:s3:::b/k"), boundary=[boundary]).decision == (
        "implicit-deny"
    )


# --- what the trail cannot tell ---------------------------------------------------------------------------


def test_unknown_keys_leave_the_decision_open_and_are_listed() -> None:
    tagged = policy(
        "p", allow("ec2:StopInstances", condition={"StringEquals": {"aws:ResourceTag/env": "dev"}})
    )
    stop = "arn:aws:ec2:eu-west-1:111122223333:instance/i-1"
    got = decide([tagged], request("ec2:StopInstances", stop, unknown=("aws:resourcetag/*",)))
    assert (got.decision, got.undetermined, got.allowed_by) == ("unknown", ("aws:resourcetag/env",), ())
    # a known value settles it, even when its family is unknown
    known = request("ec2:StopInstances", stop, unknown=("aws:resourcetag/*",), aws_ResourceTag__env="dev")
    assert decide([tagged], known).decision == "allow"
    # a surely matching allow settles it too, and then nothing is listed as undetermined
    sure = decide(
        [tagged, policy("q", allow("ec2:*"))],
        request("ec2:StopInstances", stop, unknown=("aws:resourcetag/*",)),
    )
    assert (sure.decision, sure.undetermined) == ("allow", ())


def test_unknown_deny_makes_an_allow_unknown_but_not_an_implicit_deny() -> None:
    guard = policy(
        "guard", deny("ec2:TerminateInstances", condition={"StringEquals": {"aws:ResourceTag/env": "prod"}})
    )
    admin = policy("admin", allow("ec2:*"))
    terminate = request(
        "ec2:TerminateInstances",
        "arn:aws:ec2:eu-west-1:111122223333:instance/i-1",
        unknown=("aws:resourcetag/env",),
    )
    got = decide([admin, guard], terminate)
    assert (got.decision, got.undetermined) == ("unknown", ("aws:resourcetag/env",))
    assert decide([guard], terminate).decision == "implicit-deny"
    # a Deny that surely matches wins whatever else is unknown
    assert decide([admin, guard, policy("all", deny())], terminate).decision == "explicit-deny"


def test_unknown_in_one_key_is_settled_by_a_false_one() -> None:
    cond = {"StringEquals": {"aws:ResourceTag/env": "dev", "aws:RequestedRegion": "eu-west-1"}}
    r = request("ec2:StopInstances", unknown=("aws:resourcetag/*",), aws_RequestedRegion="us-east-1")
    assert when(cond, r) is False
    r2 = request("ec2:StopInstances", unknown=("aws:resourcetag/*",), aws_RequestedRegion="eu-west-1")
    assert when(cond, r2) is None


# --- hostile input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "why"),
    [
        ({"StringEqualz": {"aws:username": "a"}}, "unknown Condition operator 'StringEqualz'"),
        ({"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}}, "unknown set qualifier"),
        ({"NullIfExists": {"aws:username": "true"}}, "unknown Condition operator 'NullIfExists'"),
        ({"StringEquals": "aws:username"}, "does not hold an object of keys"),
        ({"StringEquals": {"aws:username": {"nested": "object"}}}, "not a string, number or boolean"),
        ({"StringEquals": {"aws:username": [["a"]]}}, "not a string, number or boolean"),
        ({"StringEquals": {"aws:username": None}}, "not a string, number or boolean"),
        ({"StringEquals": {"aws:username": []}}, "empty list of values"),
        ({"NumericLessThan": {"s3:max-keys": "ten"}}, "not a number"),
        ({"DateLessThan": {"aws:CurrentTime": "next tuesday"}}, "not a date"),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}, "not an IPv4 or IPv6 address"),
        ({"Null": {"aws:username": "maybe"}}, "takes only true or false"),
    ],
)
def test_malformed_conditions_match_nothing_and_say_why(condition: dict[str, Any], why: str) -> None:
    bad = policy("inline:bad", allow("s3:GetObject", condition=condition, Sid="Odd"))
    got = decide([bad], request("s3:GetObject", "arn:aws:s3:::b/k", aws_username="a"))
    assert got.decision == "implicit-deny"
    assert len(got.problems) == 1
    assert got.problems[0].startswith("inline:bad statement 0 (Odd): ")
    assert why in got.problems[0]


def test_malformed_condition_on_a_deny_is_reported_next_to_the_allow() -> None:
    p = policy("p", allow(), deny(condition={"StringLikeIfExist": {"aws:username": "*"}}))
    got = decide([p], request("s3:GetObject", "arn:aws:s3:::b/k"))
    assert got.decision == "allow"
    assert got.problems == ("p statement 1: unknown Condition operator 'StringLikeIfExist'",)
    # a statement whose action does not apply is not evaluated, so its block is no problem for this request
    q = policy("q", allow(), deny("iam:*", condition={"Bogus": {"k": "v"}}))
    assert decide([q], request("s3:GetObject", "arn:aws:s3:::b/k")).problems == ()


def test_condition_text_that_is_not_json_does_not_crash() -> None:
    from trailsmith.iam.export import Statement

    broken = Statement("Allow", ("s3:*",), False, ("*",), False, condition="{not json")
    assert matches(broken, request("s3:GetObject", "arn:aws:s3:::b/k")) is False
    listed = Statement("Allow", ("s3:*",), False, ("*",), False, condition="[1, 2]")
    got = decide([Policy("p", (listed,))], request("s3:GetObject", "arn:aws:s3:::b/k"))
    assert (got.decision, got.problems) == ("implicit-deny", ("p statement 0: Condition is not an object",))


def test_hostile_patterns_are_literal_text() -> None:
    p = policy("p", allow("s3:GetObject", "arn:aws:s3:::b/(a|b)[0-9]+\\d${bad var syntax"))
    assert (
        decide([p], request("s3:GetObject", "arn:aws:s3:::b/(a|b)[0-9]+\\d${bad var syntax")).decision
        == "allow"
    )
    assert decide([p], request("s3:GetObject", "arn:aws:s3:::b/a1")).decision == "implicit-deny"


def test_many_wildcards_on_a_long_resource_do_not_backtrack_forever() -> None:
    # a naive glob-to-regex translation takes years here; IAM answers at once
    stars = "*a" * 40 + "*b"
    p = policy("p", allow("s3:*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*x", f"arn:aws:s3:::{stars}"))
    key = "arn:aws:s3:::" + "a" * 1000
    assert decide([p], request("s3:GetObject", key)).decision == "implicit-deny"
    assert decide([p], request("s3:" + "a" * 200, "*")).decision == "implicit-deny"
    like = {"StringLike": {"s3:prefix": stars}}
    assert when(like, request("s3:ListBucket", s3_prefix="a" * 1000)) is False
    assert when(like, request("s3:ListBucket", s3_prefix="a" * 1000 + "b")) is True


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*", "", True),
        ("a*", "a", True),
        ("*a", "ba", True),
        ("a*b*c", "abc", True),
        ("a*b*c", "aXbYbZc", True),
        ("a*b*c", "aXbYcZ", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("*ab*ab", "abab", True),
        ("*ab*ab", "aabab", True),
        ("*aab*", "ababaab", True),
        ("**a**", "bab", True),
        ("?*?", "x", False),
        ("*?*?*", "xy", True),
        ("a*", "A", False),
    ],
)
def test_string_like_globs(pattern: str, value: str, expected: bool) -> None:
    assert when({"StringLike": {"s3:prefix": pattern}}, request("s3:ListBucket", s3_prefix=value)) is expected


def glob(pattern: str, value: str) -> bool:
    """Reference glob matching by dynamic programming: ``*`` any run, ``?`` one character."""
    reach = {0}
    for char in pattern:
        if char == "*":
            reach = set(range(min(reach), len(value) + 1)) if reach else set()
        else:
            reach = {i + 1 for i in reach if i < len(value) and (char == "?" or value[i] == char)}
    return len(value) in reach


def arn_glob(pattern: str, arn: str) -> bool:
    """Reference ARN matching: part by part, the pattern's last part taking the rest of the ARN."""
    wanted = pattern.split(":", 5)
    parts = arn.split(":", len(wanted) - 1)
    return len(parts) == len(wanted) and all(glob(w, p) for w, p in zip(wanted, parts, strict=True))


@settings(max_examples=400, deadline=None)
@given(st.text("ab*?", max_size=10), st.text("ab", max_size=12))
def test_like_agrees_with_a_reference_glob(pattern: str, value: str) -> None:
    assert when({"StringLike": {"s3:prefix": pattern}}, request("s3:ListBucket", s3_prefix=value)) is glob(
        pattern, value
    )


@settings(max_examples=400, deadline=None)
@given(st.text("a:*?", min_size=1, max_size=12), st.text("a:", min_size=1, max_size=12))
def test_arn_like_agrees_with_a_reference_part_by_part_match(pattern: str, arn: str) -> None:
    got = when({"ArnLike": {"aws:SourceArn": pattern}}, request("s3:GetObject", aws_SourceArn=arn))
    assert got is arn_glob(pattern, arn)


def test_context_values_that_are_not_strings_are_read_as_iam_spells_them() -> None:
    r = Request("s3:ListBucket", "*", {"aws:SecureTransport": (True,), "s3:max-keys": (10,)})  # type: ignore[dict-item]
    assert when({"Bool": {"aws:SecureTransport": "true"}, "NumericEquals": {"s3:max-keys": "10"}}, r)


def test_boundary_conditions_can_leave_the_decision_open() -> None:
    admin = policy("admin", allow())
    boundary = policy("b", allow("s3:*", condition={"StringEquals": {"aws:ResourceTag/env": "dev"}}))
    got = decide(
        [admin],
        request("s3:GetObject", "arn:aws:s3:::b/k", unknown=("AWS:ResourceTag/*",)),
        boundary=[boundary],
    )
    assert (got.decision, got.undetermined, got.allowed_by) == (
        "unknown",
        ("aws:resourcetag/env",),
        (("admin", 0),),
    )
    tagged = request("s3:GetObject", "arn:aws:s3:::b/k", aws_ResourceTag__env="prod")
    assert decide([admin], tagged, boundary=[boundary]).decision == "implicit-deny"
