"""Derived views that make the common questions short: ``actions``, ``calls``, ``principals``,
``resources_touched``, and the tags reconstructed from the trail, ``resource_tags`` and ``session_tags``
(:mod:`trailsmith.sql.tags`).

They are plain SQL over ``events`` (so filters on ``eventDate`` still prune partitions through them) plus
one small Arrow table, ``actions``: for every (eventSource, eventName) pair present in the warehouse, the IAM
action(s) it needed according to :func:`trailsmith.actions.mapping.mapping_table`. That table is built when
the connection opens, from the distinct pairs, because the mapping is Python (checked against the IAM
reference data) and a warehouse holds a few thousand pairs at most.

The SQL keeps to what sqlglot can turn into Spark SQL (no lambdas, no ordered lists), because the saved
queries built on these views must run there too.
"""

from __future__ import annotations

import duckdb

from trailsmith.actions.mapping import mapping_table
from trailsmith.sql import tags
from trailsmith.sql.authz import outcome_sql

#: What one row of each derived view holds, for documentation and listings
#: (``trailsmith schema`` could show it).
DOCS: dict[str, str] = {
    "actions": "one row per (eventSource, eventName, action) present in the warehouse: the IAM action a call "
    "needed, with status mapped / no_permission / unmapped (action null) and the rule that decided it",
    "calls": "one row per API call (service events left out): eventTime, eventDate, principalArn, "
    "identityType, identityArn, identityAccountId, accessKeyId, accountId (recipient), awsRegion, "
    "eventSource, eventName, actions (list), mapping, outcome (allowed / denied / unauthenticated), "
    "errorCode, sourceIPAddress, userAgent, eventType, eventCategory, readOnly, requestParameters, "
    "responseElements, additionalEventData, eventID",
    "principals": "one row per IAM policy holder: principalArn, principalType (role / user / root ...), "
    "accountId, calls, denied, apiOperations, regions, firstSeen, lastSeen",
    "resources_touched": "one row per (event, resource it named): from resources[], or from request "
    "parameters (bucketName/key, roleArn, functionName, tableName, queueUrl, keyId ...) when resources[] "
    "is empty; with origin saying which",
    "resource_tags": "one row per tag a resource carried while it held, reconstructed from successful create "
    "and tagging calls (TagResource, CreateTags, AddTagsToResource, PutBucketTagging, tagSpecificationSet, "
    "untagging ...): resourceArn, tagKey, tagValue, validFrom (the call that set it), validUntil (the call "
    "that removed or changed it; null: still carried), eventID and eventName of the setting call, accountId "
    "and region of the resource; tags set outside the trail are unknown",
    "session_tags": "one row per tag of a session from AssumeRole, AssumeRoleWithSAML, "
    "AssumeRoleWithWebIdentity and GetFederationToken requests (tags, transitiveTagKeys): roleArn, "
    "sessionArn, accessKeyId (the session's calls carry it as userIdentity.accessKeyId), tagKey, tagValue, "
    "transitive, eventTime, expiration, eventID, eventName, accountId; tags from SAML assertions or web "
    "identity tokens are not in the trail",
}

_PARTITION = (
    "CASE WHEN e.awsRegion LIKE 'cn-%' THEN 'aws-cn' WHEN e.awsRegion LIKE 'us-gov-%' THEN 'aws-us-gov' "
    "ELSE 'aws' END"
)


def _calls_sql() -> str:
    return f"""
CREATE OR REPLACE VIEW calls AS
SELECT
    e.eventTime, e.eventDate, e.principalArn,
    e.userIdentity.type AS identityType,
    e.userIdentity.arn AS identityArn,
    e.userIdentity.accountId AS identityAccountId,
    e.userIdentity.accessKeyId AS accessKeyId,
    e.recipientAccountId AS accountId,
    e.awsRegion, e.eventSource, e.eventName,
    coalesce(m.actions, CAST([] AS VARCHAR[])) AS actions,
    coalesce(m.mapping, 'unmapped') AS mapping,
    {outcome_sql("e.errorCode")} AS outcome,
    e.errorCode, e.sourceIPAddress, e.userAgent, e.eventType, e.eventCategory, e.readOnly,
    e.requestParameters, e.responseElements, e.additionalEventData,
    e.eventID
FROM events AS e
LEFT JOIN (
    SELECT eventSource, eventName,
           list_sort(list(action) FILTER (WHERE action IS NOT NULL)) AS actions,
           min(status) AS mapping
    FROM actions
    GROUP BY eventSource, eventName
) AS m ON m.eventSource = e.eventSource AND m.eventName = e.eventName
WHERE e.eventType IS DISTINCT FROM 'AwsServiceEvent'
"""


_PRINCIPALS = """
CREATE OR REPLACE VIEW principals AS
SELECT
    principalArn,
    split_part(split_part(principalArn, ':', 6), '/', 1) AS principalType,
    split_part(principalArn, ':', 5) AS accountId,
    count(*) AS calls,
    count(*) FILTER (WHERE outcome = 'denied') AS denied,
    count(DISTINCT eventSource || ' ' || eventName) AS apiOperations,
    count(DISTINCT awsRegion) AS regions,
    min(eventTime) AS firstSeen,
    max(eventTime) AS lastSeen
FROM calls
WHERE principalArn IS NOT NULL
GROUP BY principalArn
"""


def _param(path: str) -> str:
    return f"json_extract_string(e.requestParameters, '{path}')"


def _candidates() -> dict[str, list[tuple[str, str, str]]]:
    """Per eventSource: (ARN expression, resource type, request parameter) an event of it names exactly.

    Keyed by service so that each row parses its request parameters only for its own service's keys: a
    CASE on eventSource evaluates a branch for the rows that take it, and JSON parsing is what costs.
    """
    account, region = "e.recipientAccountId", "e.awsRegion"
    arn = f"'arn:' || {_PARTITION} || ':'"
    bucket, key = _param("$.bucketName"), _param("$.key")
    function, table = _param("$.functionName"), _param("$.tableName")
    queue, key_id = _param("$.queueUrl"), _param("$.keyId")
    secret, log_group, name = _param("$.secretId"), _param("$.logGroupName"), _param("$.name")
    here = f"{region} || ':' || {account}"
    return {
        "s3": [
            (f"{arn} || 's3:::' || {bucket}", "AWS::S3::Bucket", "bucketName"),
            (f"{arn} || 's3:::' || {bucket} || '/' || {key}", "AWS::S3::Object", "key"),
        ],
        "sts": [(_param("$.roleArn"), "AWS::IAM::Role", "roleArn")],
        "iam": [(_param("$.policyArn"), "AWS::IAM::ManagedPolicy", "policyArn")],
        "sns": [(_param("$.topicArn"), "AWS::SNS::Topic", "topicArn")],
        "lambda": [
            (
                f"CASE WHEN {function} LIKE 'arn:%' THEN {function} "
                f"ELSE {arn} || 'lambda:' || {here} || ':function:' || {function} END",
                "AWS::Lambda::Function",
                "functionName",
            )
        ],
        "dynamodb": [
            (
                f"CASE WHEN {table} LIKE 'arn:%' THEN {table} ELSE {arn} || 'dynamodb:' || {here} || "
                f"':table/' || {table} END",
                "AWS::DynamoDB::Table",
                "tableName",
            )
        ],
        "sqs": [
            (
                f"CASE WHEN {queue} LIKE 'https://%' THEN {arn} || 'sqs:' || {region} || ':' || "
                f"split_part({queue}, '/', 4) || ':' || split_part({queue}, '/', 5) END",
                "AWS::SQS::Queue",
                "queueUrl",
            )
        ],
        "kms": [
            (
                f"CASE WHEN {key_id} LIKE 'arn:%' THEN {key_id} WHEN {key_id} LIKE 'alias/%' THEN {arn} || "
                f"'kms:' || {here} || ':' || {key_id} ELSE {arn} || 'kms:' || {here} || "
                f"':key/' || {key_id} END",
                "AWS::KMS::Key",
                "keyId",
            )
        ],
        "secretsmanager": [
            (f"CASE WHEN {secret} LIKE 'arn:%' THEN {secret} END", "AWS::SecretsManager::Secret", "secretId")
        ],
        "logs": [
            (
                f"{arn} || 'logs:' || {here} || ':log-group:' || {log_group}",
                "AWS::Logs::LogGroup",
                "logGroupName",
            )
        ],
        "ssm": [
            (
                f"CASE WHEN e.eventName LIKE '%Parameter' THEN {arn} || 'ssm:' || {here} || ':parameter' || "
                f"CASE WHEN {name} LIKE '/%' THEN '' ELSE '/' END || {name} END",
                "AWS::SSM::Parameter",
                "name",
            )
        ],
    }


def _resources_sql() -> str:
    """Resources named by the event, else the cheap, exact ARNs its request parameters give."""
    by_service = _candidates()
    slots = []
    for slot in range(max(len(found) for found in by_service.values())):
        branches = " ".join(
            f"WHEN '{service}.amazonaws.com' THEN struct_pack(arn := {found[slot][0]}, type := "
            f"'{found[slot][1]}', origin := 'requestParameters.{found[slot][2]}')"
            for service, found in by_service.items()
            if len(found) > slot
        )
        slots.append(f"CASE e.eventSource {branches} END")
    columns = (
        "eventID, eventTime, eventDate, principalArn, recipientAccountId, awsRegion, eventSource, eventName, "
        "errorCode"
    )
    common = (
        "u.eventID, u.eventTime, u.eventDate, u.principalArn, u.recipientAccountId AS accountId, "
        f"u.awsRegion, u.eventSource, u.eventName, {outcome_sql('u.errorCode')} AS outcome"
    )
    prefixed = ", ".join("e." + c.strip() for c in columns.split(","))
    # UNNEST in the select list, filtered outside: DuckDB 2.0 plans a filtered CROSS JOIN UNNEST as a
    # lateral join that materialises every column of events (25x slower at a million events)
    return f"""
CREATE OR REPLACE VIEW resources_touched AS
SELECT {common},
       coalesce(u.resource.ARN, u.resource.ARNPrefix) AS resourceArn,
       u.resource.type AS resourceType,
       'resources' AS origin
FROM (SELECT {columns}, UNNEST(resources) AS resource FROM events) AS u
WHERE coalesce(u.resource.ARN, u.resource.ARNPrefix) IS NOT NULL
UNION ALL
SELECT {common},
       u.candidate.arn AS resourceArn,
       u.candidate.type AS resourceType,
       u.candidate.origin AS origin
FROM (
    SELECT {prefixed}, UNNEST([{", ".join(slots)}]) AS candidate
    FROM events AS e
    WHERE coalesce(array_length(e.resources), 0) = 0
      AND e.requestParameters IS NOT NULL
      AND e.eventSource IN ({", ".join(f"'{service}.amazonaws.com'" for service in by_service)})
) AS u
WHERE u.candidate.arn IS NOT NULL
"""


def attach_derived(connection: duckdb.DuckDBPyConnection) -> None:
    """Create ``actions``, ``calls``, ``principals``, ``resources_touched``, ``resource_tags`` and
    ``session_tags`` over the ``events`` view (the last two read nothing until queried)."""
    pairs = connection.execute(
        "SELECT DISTINCT eventSource, eventName FROM events "
        "WHERE eventSource IS NOT NULL AND eventName IS NOT NULL"
    ).fetchall()
    connection.register("actions", mapping_table(pairs))
    for statement in (_calls_sql(), _PRINCIPALS, _resources_sql()):
        connection.execute(statement)
    tags.attach(connection)
