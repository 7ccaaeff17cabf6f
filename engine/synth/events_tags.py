"""Tagging calls and session tags, for archives made with ``SynthConfig(tags=True)`` (attribute-based access).

Resources are tagged over time (``TagResource`` and ``UntagResource`` on Lambda functions, DynamoDB's
``TagResource`` with a list of tags, S3's ``PutBucketTagging`` that replaces a bucket's set, SQS's
``TagQueue`` by queue URL). An analyst role works in sessions with tags: each of its sessions starts with
the user alice's ``sts:AssumeRole`` with ``tags`` and ``transitiveTagKeys`` (which also needs
``sts:TagSession``), whose response gives the access key the session's calls then carry; the analyst
reads the DynamoDB tables and SQS queues whose ``team`` is its session's.

Each resource's ``team`` tag is a function of its name (:func:`team`), so whichever unit sets it, it is
always the same value: the ground truth can list it per resource (``Call.tags``) and stay a finite set.
The ``stage`` tag of functions changes between calls and is removed again; it is in no truth.

These templates live in their own registry entry (:data:`trailsmith.synth.registry.TAG_MODULES`) and are
called by personas of their own (:data:`trailsmith.synth.personas.TAG_PERSONAS`), so archives made
without ``tags`` are byte for byte what they were.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta, timezone

from trailsmith.synth.catalog import Call, Ctx, Template, resource
from trailsmith.synth.ids import b64

TEAMS = ("red", "blue", "green")
#: the session tag keys passed as transitive
TRANSITIVE = ("team",)
#: the team of the analyst's sessions: the pool's tables and queues of that team are the ones it reads
ANALYST_TEAM = "green"


def team(name: str) -> str:
    """The ``team`` tag a resource called ``name`` carries, the same in every unit and process.

    >>> team("orders-api") in TEAMS
    True
    """
    return TEAMS[zlib.crc32(name.encode()) % len(TEAMS)]


def _function(c: Ctx) -> tuple[str, str]:
    fn = c.pick(c.pool.functions)
    return fn.name, f"{c.pool.prefix('lambda')}function:{fn.name}"


def _tag_function(c: Ctx) -> Call:
    name, arn = _function(c)
    request = {"resource": arn, "tags": {"team": team(name), "stage": c.pick(("blue", "green"))}}
    return Call(request, (arn,), tags=((arn, "team", team(name)),))


def _untag_function(c: Ctx) -> Call:
    _, arn = _function(c)
    return Call({"resource": arn, "tagKeys": ["stage"]}, (arn,))


def _tag_table(c: Ctx) -> Call:
    table = c.pick(c.pool.tables)
    arn = f"{c.pool.prefix('dynamodb')}table/{table.name}"
    request = {"resourceArn": arn, "tags": [{"key": "team", "value": team(table.name)}]}
    return Call(request, (arn,), tags=((arn, "team", team(table.name)),))


def _tag_bucket(c: Ctx) -> Call:
    bucket = c.pool.data.name
    arn = f"arn:aws:s3:::{bucket}"
    tag_set = [{"Key": "team", "Value": team(bucket)}, {"Key": "data-class", "Value": "internal"}]
    request = {
        "bucketName": bucket,
        "Host": f"{bucket}.s3.{c.region}.amazonaws.com",
        "tagging": "",
        "Tagging": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "TagSet": {"Tag": tag_set}},
    }
    stable = tuple((arn, tag["Key"], tag["Value"]) for tag in tag_set)
    return Call(request, (arn,), tags=stable)


def _tag_queue(c: Ctx) -> Call:
    name = c.pick(c.pool.queues)
    arn = f"{c.pool.prefix('sqs')}{name}"
    url = f"https://sqs.{c.region}.amazonaws.com/{c.acct}/{name}"
    return Call({"queueUrl": url, "tags": {"team": team(name)}}, (arn,), tags=((arn, "team", team(name)),))


def _assume_role_tagged(c: Ctx) -> Call:
    """The ``AssumeRole`` that starts the session ``c.issued`` with its tags: the response carries the
    session's own ARN and access key, which its later calls carry as ``userIdentity.accessKeyId``."""
    if c.issued is None:
        raise ValueError("sts.AssumeRole.tagged is written for a new tagged session only")
    session, tags = c.issued
    who = session.user_identity
    name = session.caller.rsplit("/", 1)[-1]
    y, m, d = (int(part) for part in c.day.split("/"))
    expires = datetime(y, m, d, tzinfo=timezone.utc) + timedelta(seconds=c.rng.randrange(3600, 86400))
    transitive = [key for key, _ in tags if key in TRANSITIVE]
    request = {
        "roleArn": session.holder,
        "roleSessionName": name,
        "durationSeconds": 3600,
        "tags": [{"key": key, "value": value} for key, value in tags],
        "transitiveTagKeys": transitive,
    }
    response = {
        "credentials": {
            "accessKeyId": who["accessKeyId"],
            "sessionToken": b64(c.rng, 96),
            "expiration": _cloudtrail_time(expires),
        },
        "assumedRoleUser": {"assumedRoleId": who["principalId"], "arn": session.caller},
        "packedPolicySize": 6,
    }
    stable = tuple((session.holder, key, value) for key, value in tags)
    return Call(request, (session.holder, session.holder), response, session_tags=stable)


def _team_item(c: Ctx) -> Call:
    """``GetItem`` on a table of the analyst's team (its ``team`` tag is the session's)."""
    table = c.pick([t for t in c.pool.tables if team(t.name) == ANALYST_TEAM])
    arn = f"{c.pool.prefix('dynamodb')}table/{table.name}"
    key = {table.partition_key: f"{table.partition_key[:3]}-{c.rng.randrange(10**8):08d}"}
    request = {"tableName": table.name, "key": key, "consistentRead": False}
    return Call(request, (arn,), None, [resource("AWS::DynamoDB::Table", arn, c.acct)])


def _team_queue(c: Ctx) -> Call:
    name = c.pick([q for q in c.pool.queues if team(q) == ANALYST_TEAM])
    url = f"https://sqs.{c.region}.amazonaws.com/{c.acct}/{name}"
    return Call({"queueUrl": url, "attributeNames": ["All"]}, (f"{c.pool.prefix('sqs')}{name}",))


def _cloudtrail_time(when: datetime) -> str:
    """``Aug 1, 2024, 3:04:05 PM``: how CloudTrail writes ``credentials.expiration``."""
    hour = when.hour % 12 or 12
    return f"{when:%b} {when.day}, {when.year}, {hour}:{when:%M:%S} {'AM' if when.hour < 12 else 'PM'}"


LAMBDA, DYNAMODB, S3 = "lambda.amazonaws.com", "dynamodb.amazonaws.com", "s3.amazonaws.com"
SQS, STS = "sqs.amazonaws.com", "sts.amazonaws.com"

TEMPLATES: tuple[Template, ...] = (
    # Lambda records its API version in the event name
    Template("lambda.TagResource", LAMBDA, "TagResource20170331v2", ("lambda:TagResource",), _tag_function),
    Template(
        "lambda.UntagResource", LAMBDA, "UntagResource20170331v2", ("lambda:UntagResource",), _untag_function
    ),
    Template("dynamodb.TagResource", DYNAMODB, "TagResource", ("dynamodb:TagResource",), _tag_table),
    Template("s3.PutBucketTagging", S3, "PutBucketTagging", ("s3:PutBucketTagging",), _tag_bucket),
    Template("sqs.TagQueue", SQS, "TagQueue", ("sqs:TagQueue",), _tag_queue),
    # passing session tags needs sts:TagSession on the role as well
    Template(
        "sts.AssumeRole.tagged", STS, "AssumeRole", ("sts:AssumeRole", "sts:TagSession"), _assume_role_tagged
    ),
    # the analyst's calls in its tagged sessions
    Template(
        "dynamodb.GetItem.team",
        DYNAMODB,
        "GetItem",
        ("dynamodb:GetItem",),
        _team_item,
        read_only=True,
        data=True,
    ),
    Template(
        "sqs.GetQueueAttributes.team",
        SQS,
        "GetQueueAttributes",
        ("sqs:GetQueueAttributes",),
        _team_queue,
        read_only=True,
    ),
)
