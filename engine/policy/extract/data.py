"""Resource extractors for the data services: S3, DynamoDB, KMS, Secrets Manager, SSM, SQS, SNS, Logs.

Field names are the request members of botocore's service models with a lower-case first letter, as
CloudTrail records them (``tableName``, ``secretId``, ``queueUrl``), except S3, whose records carry
``bucketName``, ``key`` and the copy source header ``x-amz-copy-source``. The ARN shapes come from the
IAM reference data; the facts that need a comment are commented where they are used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

from trailsmith.policy.arns import literal
from trailsmith.policy.extract.base import (
    Call,
    Ref,
    ServiceSpec,
    arn_ref,
    from_resources,
    is_arn,
    loads,
    pattern_ref,
    ref,
)

# S3 ------------------------------------------------------------------------------------------------------

_COPIES = frozenset({"CopyObject", "UploadPartCopy"})


def _s3(call: Call) -> Iterator[Ref]:
    bucket, key = call.get("bucketName"), call.get("key")
    if bucket is None:
        return
    if call.name in _COPIES:
        yield from _s3_copy(call, bucket, key)
        return
    yield from _s3_target(call, bucket, key)


def _s3_target(
    call: Call, bucket: str, key: str | None, actions: frozenset[str] = frozenset()
) -> Iterator[Ref]:
    # Requests through an access point name the access point's ARN where a bucket name would be.
    if is_arn(bucket):
        yield arn_ref(bucket, actions=actions)
        obj = literal(key) if key is not None else "*"
        yield Ref(literal(bucket) + "/object/" + obj, "", actions)
        return
    yield ref(call, "s3", "bucket", BucketName=bucket, actions=actions)
    if key is not None:
        yield ref(call, "s3", "object", BucketName=bucket, ObjectName=key, actions=actions)
    else:
        # A call on objects that names none (DeleteObjects keeps its keys in the body, which CloudTrail
        # does not record): any object of the bucket.
        yield pattern_ref(
            call,
            "s3",
            "object",
            BucketName=literal(bucket),
            ObjectName="*",
            actions=actions,
            note=f"the request names no object key: any object in {bucket}",
        )


def _s3_copy(call: Call, bucket: str, key: str | None) -> Iterator[Ref]:
    """``CopyObject``/``UploadPartCopy`` write the target (``s3:PutObject``) and read the source
    (``s3:GetObject``), which the ``x-amz-copy-source`` header names as ``bucket/key[?versionId=...]``."""
    yield from _s3_target(call, bucket, key, frozenset({"s3:PutObject"}))
    source = call.get("x-amz-copy-source")
    if source is None:
        yield pattern_ref(
            call,
            "s3",
            "object",
            BucketName="*",
            ObjectName="*",
            actions={"s3:GetObject"},
            note="copy source not recorded: any object",
        )
        return
    text = unquote(source.split("?versionId=", 1)[0]).lstrip("/")
    source_bucket, _, source_key = text.partition("/")
    yield from _s3_target(call, source_bucket, source_key or None, frozenset({"s3:GetObject"}))


# DynamoDB ------------------------------------------------------------------------------------------------


def _dynamodb(call: Call) -> Iterator[Ref]:
    table = call.get("tableName")
    index = call.get("indexName")
    if table is not None:
        name = table.rsplit("/", 1)[-1] if is_arn(table) else table
        if index is not None:
            # A Query or Scan of an index is authorised on the index ARN alone.
            yield ref(call, "dynamodb", "index", TableName=name, IndexName=index)
        elif is_arn(table):
            yield arn_ref(table)
        else:
            yield ref(call, "dynamodb", "table", TableName=name)
    for name in _request_item_tables(call.get("requestItems")):
        yield arn_ref(name) if is_arn(name) else ref(call, "dynamodb", "table", TableName=name)
    if table is None and call.name in _DYNAMODB_BODY_CALLS:
        yield from from_resources(call)


#: Calls whose tables are inside the request body; their ``resources[]`` lists them.
_DYNAMODB_BODY_CALLS = frozenset(
    {
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)


def _request_item_tables(text: str | None) -> list[str]:
    """Table names of ``requestItems``: a map keyed by table (the API) or a list of ``{tableName}``."""
    if text is None:
        return []
    parsed = loads(text)
    if isinstance(parsed, dict):
        return sorted(str(k) for k in parsed)
    if isinstance(parsed, list):
        return sorted({str(i["tableName"]) for i in parsed if isinstance(i, dict) and i.get("tableName")})
    return []


# KMS -----------------------------------------------------------------------------------------------------

_KEY_ID = re.compile(r"^(?:mrk-)?[0-9a-fA-F-]{32,40}$")


def _kms_key(call: Call, value: str, actions: frozenset[str] = frozenset()) -> Ref:
    """A ``keyId``: key id, key ARN, alias name or alias ARN."""
    if is_arn(value):
        return arn_ref(value, actions=actions)
    if value.startswith("alias/"):
        return ref(call, "kms", "alias", Alias=value[len("alias/") :], actions=actions)
    return ref(call, "kms", "key", KeyId=value, actions=actions)


def _kms(call: Call) -> Iterator[Ref]:
    if call.name == "ReEncrypt":
        yield from _re_encrypt(call)
        return
    key = call.get("keyId")
    if key is not None:
        yield _kms_key(call, key)
    yield from from_resources(call)


def _re_encrypt(call: Call) -> Iterator[Ref]:
    """``ReEncrypt`` needs ``kms:ReEncryptFrom`` on the source key and ``kms:ReEncryptTo`` on the
    destination. The destination is ``destinationKeyId``; the source is ``sourceKeyId`` when given (it may
    be omitted for symmetric keys), else the other key ``resources[]`` names."""
    to, source = frozenset({"kms:ReEncryptTo"}), frozenset({"kms:ReEncryptFrom"})
    destination = call.get("destinationKeyId")
    named = call.get("sourceKeyId")
    keys = [arn for arn, _, _ in call.resources if arn]
    if destination is not None:
        yield _kms_key(call, destination, to)
    if named is not None:
        yield _kms_key(call, named, source)
    others = [k for k in keys if destination is None or k != destination]
    if destination is not None and not destination.startswith("arn:") and not _KEY_ID.match(destination):
        # An alias: which recorded key is the destination is unknown, so both get both actions.
        yield from (arn_ref(k, note="destination named by alias: both keys get both actions") for k in keys)
        return
    if named is None:
        yield from (arn_ref(k, actions=source) for k in others)


# Secrets Manager -----------------------------------------------------------------------------------------


def _secret(call: Call, value: str) -> Ref:
    if is_arn(value):
        return arn_ref(value)
    # A secret's ARN ends in "-" and six random characters that its name does not carry.
    return pattern_ref(
        call,
        "secretsmanager",
        "Secret",
        SecretId=literal(value) + "-??????",
        note=f"secret {value} named without its ARN suffix: matched as {value}-??????",
    )


def _secretsmanager(call: Call) -> Iterator[Ref]:
    for path in ("secretId", "name"):
        value = call.get(path)
        if value is not None:
            yield _secret(call, value)
    for value in call.values("secretIdList"):
        yield _secret(call, value)
    yield from from_resources(call)


# Systems Manager -----------------------------------------------------------------------------------------

#: Document name prefixes reserved for AWS-owned documents, whose ARNs carry no account.
_AWS_DOCUMENT = re.compile(r"^(aws|amazon|amzn)", re.IGNORECASE)


def _parameter(call: Call, name: str) -> Ref:
    if is_arn(name):
        return arn_ref(name)
    plain = name.split(":", 1)[0]  # "name:3" and "name:label" select a version of "name"
    return ref(call, "ssm", "parameter", ParameterNameWithoutLeadingSlash=plain.lstrip("/"))


def _document(call: Call, name: str) -> Ref:
    if is_arn(name):
        return arn_ref(name)
    account = "" if _AWS_DOCUMENT.match(name) else None
    return ref(call, "ssm", "document", DocumentName=name, account=account)


def _instance(call: Call, ident: str) -> Ref | None:
    if ident.startswith("i-"):
        return ref(call, "ec2", "instance", InstanceId=ident)
    if ident.startswith("mi-"):
        return ref(call, "ssm", "managed-instance", InstanceId=ident)
    return None


def _ssm(call: Call) -> Iterator[Ref]:
    for name in call.values("name") + call.values("names"):
        yield _parameter(call, name)
    path = call.get("path")
    if path is not None:
        # GetParametersByPath is authorised on the path itself (arn:...:parameter/app/orders).
        yield _parameter(call, path)
    document = call.get("documentName")
    if document is not None:
        yield _document(call, document)
    idents = call.values("instanceId") + call.values("instanceIds") + call.values("target")
    for ident in idents:
        found = _instance(call, ident)
        if found is not None:
            yield found
    if not idents and call.get("targets") is not None:
        # Instances chosen by tag or resource group: any instance of the account and region may be one.
        note = "instances chosen by targets (tags): any instance in the account and region"
        yield pattern_ref(call, "ec2", "instance", InstanceId="*", note=note)
        yield pattern_ref(call, "ssm", "managed-instance", InstanceId="*", note=note)
    session = call.get("sessionId")
    if session is not None:
        yield ref(call, "ssm", "session", SessionId=session)
    yield from from_resources(call)


# SQS and SNS ---------------------------------------------------------------------------------------------

_QUEUE_URL = re.compile(r"^https?://[^/]+/(\d{12})/([^/?#]+)")


def _sqs(call: Call) -> Iterator[Ref]:
    url = call.get("queueUrl")
    if url is not None:
        match = _QUEUE_URL.match(url)
        if match:
            # The region of a queue URL is the call's: the endpoint is regional.
            yield ref(call, "sqs", "queue", account=match.group(1), QueueName=unquote(match.group(2)))
    name = call.get("queueName")
    if name is not None:
        owner = call.get("queueOwnerAWSAccountId")
        yield ref(call, "sqs", "queue", account=owner, QueueName=name)
    yield from from_resources(call)


def _sns(call: Call) -> Iterator[Ref]:
    for path in ("topicArn", "targetArn"):
        value = call.get(path)
        if value is not None and is_arn(value):
            yield arn_ref(value)
    name = call.get("name")
    if name is not None and call.name == "CreateTopic":
        yield ref(call, "sns", "topic", TopicName=name)
    yield from from_resources(call)


# CloudWatch Logs -----------------------------------------------------------------------------------------


def _log_group(call: Call, value: str) -> Ref:
    if is_arn(value):
        return arn_ref(value.removesuffix(":*"))
    return ref(call, "logs", "log-group", LogGroupName=value)


def _logs(call: Call) -> Iterator[Ref]:
    group = call.get("logGroupName")
    stream = call.get("logStreamName")
    if group is not None:
        yield _log_group(call, group)
        if stream is not None:
            yield ref(call, "logs", "log-stream", LogGroupName=group, LogStreamName=stream)
        else:
            yield pattern_ref(
                call,
                "logs",
                "log-stream",
                LogGroupName=literal(group),
                LogStreamName="*",
                note=f"no stream named: any stream of {group}",
            )
    for value in (
        call.values("logGroupNames") + call.values("logGroupIdentifiers") + call.values("logGroupIdentifier")
    ):
        yield _log_group(call, value)
    yield from from_resources(call)


SPECS: dict[str, ServiceSpec] = {
    "s3": ServiceSpec(
        ("bucketName", "key", "x-amz-copy-source"),
        _s3,
        frozenset({"s3:bucket", "s3:object"}),
        resources=False,
        only={"x-amz-copy-source": tuple(sorted(_COPIES))},
        models_match=False,
    ),
    "dynamodb": ServiceSpec(
        ("tableName", "indexName", "requestItems"),
        _dynamodb,
        frozenset({"dynamodb:table", "dynamodb:index"}),
        resources=_DYNAMODB_BODY_CALLS,
    ),
    "kms": ServiceSpec(
        ("keyId", "destinationKeyId", "sourceKeyId"), _kms, frozenset({"kms:key", "kms:alias"})
    ),
    "secretsmanager": ServiceSpec(
        ("secretId", "secretIdList", "name"), _secretsmanager, frozenset({"secretsmanager:Secret"})
    ),
    "ssm": ServiceSpec(
        (
            "name",
            "names",
            "path",
            "documentName",
            "instanceId",
            "instanceIds",
            "target",
            "targets",
            "sessionId",
        ),
        _ssm,
        frozenset({"ssm:parameter", "ssm:document", "ssm:session"}),
    ),
    "sqs": ServiceSpec(("queueUrl", "queueName", "queueOwnerAWSAccountId"), _sqs, frozenset({"sqs:queue"})),
    "sns": ServiceSpec(("topicArn", "targetArn", "name"), _sns, frozenset({"sns:topic"})),
    "logs": ServiceSpec(
        ("logGroupName", "logStreamName", "logGroupNames", "logGroupIdentifier", "logGroupIdentifiers"),
        _logs,
        frozenset({"logs:log-group", "logs:log-stream"}),
    ),
}
