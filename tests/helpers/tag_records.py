"""Hand-written tagging and session-tag records, with the tag timelines they must give (both engines)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from helpers.events import event, management, s3_key, write_records

A, B = "111111111111", "222222222222"
FUNCTION = f"arn:aws:lambda:us-east-1:{A}:function:orders"
OTHER = f"arn:aws:lambda:us-east-1:{A}:function:hostile"
ROLE = f"arn:aws:iam::{A}:role/svc/app"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY = f"arn:aws:kms:us-east-1:{A}:key/{KEY_ID}"
TABLE_B = f"arn:aws:dynamodb:us-east-1:{B}:table/shared"
INSTANCE = f"arn:aws:ec2:eu-west-1:{A}:instance/i-0aaa"
VOLUME = f"arn:aws:ec2:eu-west-1:{A}:volume/vol-0bbb"
WEB1 = f"arn:aws:ec2:eu-west-1:{A}:instance/i-0web1"
WEB2 = f"arn:aws:ec2:eu-west-1:{A}:instance/i-0web2"
QUEUE = f"arn:aws:sqs:us-east-1:{A}:jobs"
PARAMETER = f"arn:aws:ssm:us-east-1:{A}:parameter/app/db"
DB = f"arn:aws:rds:us-east-1:{A}:db:orders"
BUCKET = "arn:aws:s3:::data"
SESSION_KEY = "ASIAEXAMPLESESSION01"


def at(day: int, hour: int) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=timezone.utc)


def _call(
    n: int,
    when: datetime,
    source: str,
    name: str,
    request: Any,
    response: Any = None,
    *,
    region: str = "us-east-1",
    account: str = A,
    error: str | None = None,
) -> dict[str, Any]:
    record = management(
        n,
        when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        source,
        name,
        request,
        response,
        region=region,
        account=account,
    )
    if error:
        record["errorCode"], record["errorMessage"] = error, "denied"
    return record


def records() -> list[dict[str, Any]]:
    """Tag changes over two days (added, overwritten, removed, replaced, failed, hostile) and session tags."""
    lam, s3, ec2 = "lambda.amazonaws.com", "s3.amazonaws.com", "ec2.amazonaws.com"
    hostile_tags = {
        "q'\"x": "v'; DROP VIEW events; --",
        "ünï 🏷": "✓",
        "num": 5,
        "obj": {"a": 1},
        "nul": None,
        "huge": "x" * 300,
        "k" * 129: "too long a key",
    }
    return [
        _call(
            1,
            at(1, 0),
            lam,
            "CreateFunction20150331",
            {"functionName": "orders", "tags": {"team": "red", "env": "dev"}},
            {"functionArn": FUNCTION},
        ),
        _call(
            2,
            at(1, 1),
            lam,
            "TagResource20170331v2",
            {"resource": FUNCTION, "tags": {"env": "prod", "team": "red"}},
        ),
        _call(3, at(1, 2), lam, "UntagResource20170331v2", {"resource": FUNCTION, "tagKeys": ["team"]}),
        _call(
            4,
            at(1, 3),
            lam,
            "TagResource20170331v2",
            {"resource": FUNCTION, "tags": {"team": "blue"}},
            error="AccessDenied",
        ),
        _call(
            5,
            at(1, 4),
            s3,
            "PutBucketTagging",
            {
                "bucketName": "data",
                "Tagging": {"TagSet": {"Tag": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}},
            },
        ),
        _call(
            6,
            at(1, 5),
            s3,
            "PutBucketTagging",
            {
                "bucketName": "data",
                "Tagging": {"TagSet": {"Tag": [{"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}]}},
            },
        ),
        _call(7, at(1, 6), s3, "DeleteBucketTagging", {"bucketName": "data"}),
        _call(
            8,
            at(1, 7),
            ec2,
            "CreateTags",
            {
                "resourcesSet": {
                    "items": [
                        {"resourceId": "i-0aaa"},
                        {"resourceId": "vol-0bbb"},
                        {"resourceId": "zzz-0ccc"},
                    ]
                },
                "tagSet": {"items": [{"key": "Owner", "value": "ops"}, {"key": "Flag"}]},
            },
            region="eu-west-1",
        ),
        _call(
            9,
            at(1, 8),
            ec2,
            "RunInstances",
            {
                "instancesSet": {"items": [{"imageId": "ami-0123", "minCount": 2, "maxCount": 2}]},
                "tagSpecificationSet": {
                    "items": [{"resourceType": "instance", "tags": [{"key": "Name", "value": "web"}]}]
                },
            },
            {
                "instancesSet": {
                    "items": [
                        {"instanceId": "i-0web1", "imageId": "ami-0123"},
                        {"instanceId": "i-0web2", "imageId": "ami-0123"},
                    ]
                }
            },
            region="eu-west-1",
        ),
        _call(
            10,
            at(1, 9),
            ec2,
            "DeleteTags",
            {
                "resourcesSet": {"items": [{"resourceId": "i-0web1"}]},
                "tagSet": {"items": [{"key": "Name", "value": "other"}]},
            },
            region="eu-west-1",
        ),
        _call(
            11,
            at(1, 9),
            ec2,
            "DeleteTags",
            {"resourcesSet": {"items": [{"resourceId": "i-0web2"}]}, "tagSet": {"items": [{"key": "Name"}]}},
            region="eu-west-1",
        ),
        _call(
            12,
            at(1, 10),
            "dynamodb.amazonaws.com",
            "TagResource",
            {"resourceArn": TABLE_B, "tags": [{"key": "team", "value": "shared"}]},
        ),
        _call(
            13,
            at(1, 11),
            "iam.amazonaws.com",
            "CreateRole",
            {"roleName": "app", "path": "/svc/", "tags": [{"key": "team", "value": "red"}]},
            {"role": {"arn": ROLE, "roleName": "app", "path": "/svc/"}},
        ),
        _call(
            14,
            at(1, 12),
            "iam.amazonaws.com",
            "TagRole",
            {"roleName": "app", "tags": [{"key": "env", "value": "prod"}]},
        ),
        _call(15, at(1, 13), "iam.amazonaws.com", "UntagRole", {"roleName": "app", "tagKeys": ["team"]}),
        _call(
            16,
            at(1, 14),
            "kms.amazonaws.com",
            "CreateKey",
            {"tags": [{"tagKey": "owner", "tagValue": "sec"}]},
            {"keyMetadata": {"arn": KEY, "keyId": KEY_ID}},
        ),
        _call(
            17,
            at(1, 15),
            "kms.amazonaws.com",
            "TagResource",
            {"keyId": KEY_ID, "tags": [{"tagKey": "owner", "tagValue": "platform"}]},
        ),
        _call(
            18,
            at(1, 16),
            "sqs.amazonaws.com",
            "CreateQueue",
            {"queueName": "jobs", "tags": {"team": "red"}},
            {"queueUrl": f"https://sqs.us-east-1.amazonaws.com/{A}/jobs"},
        ),
        _call(
            19,
            at(1, 17),
            "ssm.amazonaws.com",
            "AddTagsToResource",
            {"resourceType": "Parameter", "resourceId": "/app/db", "tags": [{"key": "team", "value": "red"}]},
        ),
        _call(
            20,
            at(1, 18),
            "rds.amazonaws.com",
            "AddTagsToResource",
            {"resourceName": DB, "tags": [{"key": "team", "value": "red"}, {"key": "tier", "value": "gold"}]},
        ),
        _call(
            21,
            at(1, 19),
            "rds.amazonaws.com",
            "RemoveTagsFromResource",
            {"resourceName": DB, "tagKeys": ["tier"]},
        ),
        # hostile: quotes, unicode, wrong types, over-long values and keys
        _call(22, at(2, 0), lam, "TagResource20170331v2", {"resource": OTHER, "tags": hostile_tags}),
        # an unreadable key: nothing known about the function survives but what this call shows
        _call(23, at(2, 1), lam, "TagResource20170331v2", {"resource": OTHER, "tags": {"ok": "y"}}),
        _call(
            24,
            at(2, 2),
            lam,
            "TagResource20170331v2",
            {"resource": OTHER, "tags": [{"key": 7, "value": "x"}]},
        ),
        _call(25, at(2, 3), lam, "TagResource20170331v2", {"resource": f"{OTHER} x", "tags": {"a": "b"}}),
        _call(26, at(2, 3), lam, "TagResource20170331v2", {"resource": 42, "tags": {"a": "b"}}),
        _call(27, at(2, 4), lam, "UntagResource20170331v2", {"resource": FUNCTION, "tagKeys": "env"}),
        _call(
            28,
            at(2, 5),
            "dynamodb.amazonaws.com",
            "TagResource",
            {"resourceArn": TABLE_B, "tags": "not a list"},
        ),
        _call(
            29,
            at(2, 6),
            s3,
            "PutBucketTagging",
            {"bucketName": "data", "Tagging": {"TagSet": {"Tag": {"Key": "solo", "Value": "1"}}}},
        ),
        # session tags
        _call(
            30,
            at(1, 20),
            "sts.amazonaws.com",
            "AssumeRole",
            {
                "roleArn": ROLE,
                "roleSessionName": "alice",
                "tags": [
                    {"key": "team", "value": "red"},
                    {"key": "cost", "value": 42},
                    {"key": "env", "value": "prod"},
                    "junk",
                ],
                "transitiveTagKeys": ["team", 5],
            },
            {
                "assumedRoleUser": {
                    "arn": f"arn:aws:sts::{A}:assumed-role/app/alice",
                    "assumedRoleId": "AROAX:alice",
                },
                "credentials": {"accessKeyId": SESSION_KEY, "expiration": "Mar 1, 2024, 9:00:00 PM"},
            },
        ),
        _call(
            31,
            at(1, 21),
            "sts.amazonaws.com",
            "AssumeRole",
            {"roleArn": ROLE, "roleSessionName": "bob", "tags": [{"key": "team", "value": "blue"}]},
            error="AccessDenied",
        ),
        _call(
            32,
            at(1, 22),
            "sts.amazonaws.com",
            "AssumeRoleWithWebIdentity",
            {"roleArn": ROLE, "roleSessionName": "ci"},
            {"credentials": {"accessKeyId": "ASIAEXAMPLESESSION02"}},
        ),
        _call(
            33,
            at(1, 23),
            "sts.amazonaws.com",
            "AssumeRoleWithSAML",
            {
                "roleArn": ROLE,
                "principalArn": f"arn:aws:iam::{A}:saml-provider/idp",
                "tags": [{"key": "dept", "value": "it"}],
            },
            None,
        ),
    ]


def eid(n: int) -> str:
    """The eventID ``helpers.events.event(n)`` gives."""
    return str(event(n)["eventID"])


def row(
    arn: str,
    key: str,
    value: str,
    start: datetime,
    end: datetime | None,
    n: int,
    name: str,
    account: str = A,
    region: str = "us-east-1",
) -> tuple[Any, ...]:
    """One expected ``resource_tags`` row, set by record ``n``."""
    return (arn, key, value, start, end, eid(n), name, account, region)


#: (resourceArn, tagKey, tagValue, validFrom, validUntil, eventID, eventName, accountId, region), sorted
RESOURCE_TAGS: list[tuple[Any, ...]] = sorted(
    [
        row(FUNCTION, "env", "dev", at(1, 0), at(1, 1), 1, "CreateFunction20150331"),
        row(FUNCTION, "env", "prod", at(1, 1), at(2, 4), 2, "TagResource20170331v2"),
        row(FUNCTION, "team", "red", at(1, 0), at(1, 2), 1, "CreateFunction20150331"),
        row(BUCKET, "a", "1", at(1, 4), at(1, 5), 5, "PutBucketTagging", region="us-east-1"),
        row(BUCKET, "b", "2", at(1, 4), at(1, 6), 5, "PutBucketTagging"),
        row(BUCKET, "c", "3", at(1, 5), at(1, 6), 6, "PutBucketTagging"),
        row(BUCKET, "solo", "1", at(2, 6), None, 29, "PutBucketTagging"),
        row(INSTANCE, "Owner", "ops", at(1, 7), None, 8, "CreateTags", region="eu-west-1"),
        row(INSTANCE, "Flag", "", at(1, 7), None, 8, "CreateTags", region="eu-west-1"),
        row(VOLUME, "Owner", "ops", at(1, 7), None, 8, "CreateTags", region="eu-west-1"),
        row(VOLUME, "Flag", "", at(1, 7), None, 8, "CreateTags", region="eu-west-1"),
        row(WEB1, "Name", "web", at(1, 8), None, 9, "RunInstances", region="eu-west-1"),
        row(WEB2, "Name", "web", at(1, 8), at(1, 9), 9, "RunInstances", region="eu-west-1"),
        row(TABLE_B, "team", "shared", at(1, 10), at(2, 5), 12, "TagResource", account=B),
        row(ROLE, "team", "red", at(1, 11), at(1, 13), 13, "CreateRole"),
        row(ROLE, "env", "prod", at(1, 12), None, 14, "TagRole"),
        row(KEY, "owner", "sec", at(1, 14), at(1, 15), 16, "CreateKey"),
        row(KEY, "owner", "platform", at(1, 15), None, 17, "TagResource"),
        row(QUEUE, "team", "red", at(1, 16), None, 18, "CreateQueue"),
        row(PARAMETER, "team", "red", at(1, 17), None, 19, "AddTagsToResource"),
        row(DB, "team", "red", at(1, 18), None, 20, "AddTagsToResource"),
        row(DB, "tier", "gold", at(1, 18), at(1, 19), 20, "AddTagsToResource"),
        row(OTHER, "q'\"x", "v'; DROP VIEW events; --", at(2, 0), at(2, 2), 22, "TagResource20170331v2"),
        row(OTHER, "ünï 🏷", "✓", at(2, 0), at(2, 2), 22, "TagResource20170331v2"),
        row(OTHER, "ok", "y", at(2, 1), at(2, 2), 23, "TagResource20170331v2"),
    ]
)

#: (roleArn, sessionArn, accessKeyId, tagKey, tagValue, transitive, eventTime, expiration, eventID, eventName)
SESSION_TAGS: list[tuple[Any, ...]] = [
    (
        ROLE,
        f"arn:aws:sts::{A}:assumed-role/app/alice",
        SESSION_KEY,
        key,
        value,
        key == "team",
        at(1, 20),
        datetime(2024, 3, 1, 21, tzinfo=timezone.utc),
        eid(30),
        "AssumeRole",
    )
    for key, value in (("env", "prod"), ("team", "red"))
] + [(ROLE, None, None, "dept", "it", False, at(1, 23), None, eid(33), "AssumeRoleWithSAML")]


def write(root: Path) -> Path:
    """The records as one CloudTrail log file under ``root`` (ingest it)."""
    return write_records(root / s3_key(1, 0), records())
