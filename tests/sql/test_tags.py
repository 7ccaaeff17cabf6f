"""``resource_tags`` and ``session_tags`` on DuckDB: exact timelines of hand-written records, the sample's
tags, the lookups the policy generator uses, and hostile records that must neither crash nor mislead."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trailsmith
from helpers import tag_records as tr
from helpers.paths import REALDATA
from trailsmith.sql import tagging, tags
from trailsmith.sql.views import DOCS

RESOURCE_COLUMNS = (
    "resourceArn, tagKey, tagValue, validFrom, validUntil, eventID, eventName, accountId, region"
)
SESSION_COLUMNS = (
    "roleArn, sessionArn, accessKeyId, tagKey, tagValue, transitive, eventTime, expiration, eventID, "
    "eventName"
)


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("tags")
    tr.write(base / "trail")
    report = trailsmith.ingest([str(base / "trail")], base / "wh", workers=1)
    assert report.events_new == len(tr.records()) and report.quarantined == 0
    return base / "wh"


def rows(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    table = trailsmith.query(sql, warehouse)
    return [tuple(row.values()) for row in table.to_pylist()]


def test_resource_tag_timelines(tagged: Path) -> None:
    """Added, overwritten, removed, replaced bucket sets, EC2 ids, cross-account ARNs, IAM names with a path;
    failed calls and unreadable resources leave no trace, unreadable tags end what was known."""
    got = rows(tagged, f"SELECT {RESOURCE_COLUMNS} FROM resource_tags")
    assert sorted(got) == tr.RESOURCE_TAGS


def test_session_tags(tagged: Path) -> None:
    """Only successful calls; entries that are not string pairs are skipped; transitive keys marked; the
    expiration parsed from CloudTrail's own format; a session without a response keeps its tags."""
    got = rows(tagged, f"SELECT {SESSION_COLUMNS} FROM session_tags ORDER BY eventTime, tagKey")
    assert got == tr.SESSION_TAGS
    assert rows(tagged, "SELECT DISTINCT accountId FROM session_tags") == [(tr.A,)]


def test_views_filter_and_join_like_tables(tagged: Path) -> None:
    sql = (
        "SELECT s.tagKey, s.tagValue FROM session_tags AS s JOIN resource_tags AS r "
        "ON r.tagKey = s.tagKey AND r.tagValue = s.tagValue "
        "WHERE r.resourceArn = $arn AND r.validUntil IS NULL"
    )
    table = trailsmith.query(sql, tagged, {"arn": tr.ROLE})
    assert table.to_pylist() == [{"tagKey": "env", "tagValue": "prod"}]


def test_timeline_lookup(tagged: Path) -> None:
    timeline = tags.TagTimeline.from_table(trailsmith.query("SELECT * FROM resource_tags", tagged))
    values = {key: tag.value for key, tag in timeline.at(tr.FUNCTION, tr.at(1, 1)).items()}
    assert values == {"env": "prod", "team": "red"}
    assert {k: t.since for k, t in timeline.at(tr.FUNCTION, tr.at(1, 2)).items()} == {"env": tr.at(1, 1)}
    assert timeline.at(tr.FUNCTION, datetime(2024, 2, 1, tzinfo=timezone.utc)) == {}
    assert timeline.at(tr.FUNCTION, tr.at(2, 5)) == {}
    assert timeline.known(tr.FUNCTION) and not timeline.known("arn:aws:lambda:us-east-1:1:function:unseen")
    assert timeline.at(tr.TABLE_B, tr.at(1, 12))["team"].event_id == tr.eid(12)
    sessions = tags.SessionTags.from_table(trailsmith.query("SELECT * FROM session_tags", tagged))
    assert sessions.tags(tr.SESSION_KEY) == {"team": "red", "env": "prod"}
    assert sessions.transitive[tr.SESSION_KEY] == frozenset({"team"}) and sessions.tags("ASIAUNKNOWN") == {}


def test_sample_tags(sample_warehouse: Path) -> None:
    """The sample's EC2 CreateTags and CloudFormation stacks created with tags."""
    got = rows(sample_warehouse, "SELECT DISTINCT eventName, tagKey, tagValue FROM resource_tags")
    assert {("CreateTags", "Owner", "ops"), ("CreateTags", "PatchGroup", "weekly")} <= set(got)
    assert ("CreateStack", "team", "platform") in got
    arns = rows(
        sample_warehouse, "SELECT DISTINCT resourceArn FROM resource_tags WHERE eventName = 'CreateTags'"
    )
    assert arns and all(arn.startswith("arn:aws:ec2:") and ":instance/i-" in arn for (arn,) in arns)


def test_real_captures(tmp_path: Path) -> None:
    """A real CreateUser with tags; IAM Roles Anywhere's hidden tags are no tags; real AssumeRole calls
    carry no session tags."""
    if not REALDATA.is_dir():
        pytest.skip(f"no real captures at {REALDATA}")
    trailsmith.ingest([str(REALDATA)], tmp_path / "wh", workers=1)
    got = rows(
        tmp_path / "wh", "SELECT resourceArn, tagKey, tagValue, eventName, validUntil FROM resource_tags"
    )
    user = "arn:aws:iam::229654561268:user/malicious-iam-user"
    assert got == [(user, "StratusRedTeam", "true", "CreateUser", None)]
    assert rows(tmp_path / "wh", "SELECT count(*) FROM session_tags") == [(0,)]


def test_documented() -> None:
    assert {"resource_tags", "session_tags"} <= set(DOCS)
    for column in tags.RESOURCE_TAGS_SCHEMA.names:
        assert column in DOCS["resource_tags"]
    for column in tags.SESSION_TAGS_SCHEMA.names:
        assert column in DOCS["session_tags"]


# hostile input, straight to the readers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_text",
    [
        "not json",
        "[" * 5000 + "]" * 5000,
        '{"resource": "arn:aws:lambda:us-east-1:1:function:f", "tags": {"k": "\\ud800"}}',
        '{"resource": "arn:aws:lambda:us-east-1:1:function:f", "tags": {"\\ud800": "v"}}',
        "null",
        "42",
        '"text"',
        '{"resource": ["arn:aws:lambda:us-east-1:1:function:f"], "tags": {"k": "v"}}',
        '{"resource": "arn:", "tags": {"k": "v"}}',
        '{"resource": "arn:aws:lambda:us-east-1:1:function:f\\u0000", "tags": {"k": "v"}}',
    ],
)
def test_unreadable_requests_say_nothing(request_text: str) -> None:
    found = tagging.operations(
        "lambda.amazonaws.com", "TagResource20170331v2", "us-east-1", "1", request_text, None
    )
    assert all(op == tagging.Unset("k") or isinstance(op, tagging.Clear) for _, ops in found for op in ops)
    assert all(not isinstance(op, tagging.Set) for _, ops in found for op in ops)


def test_wrong_types_in_record_columns() -> None:
    assert tagging.operations(None, "TagResource", "us-east-1", "1", "{}", None) == []
    assert tagging.operations("lambda.amazonaws.com", 5, "us-east-1", "1", "{}", None) == []
    assert tags.resource_tags([{"eventTime": "yesterday"}, "junk", {}]).num_rows == 0  # type: ignore[list-item]
    assert tags.session_tags([{"eventName": "AssumeRole", "requestParameters": "{"}]).num_rows == 0


def test_hidden_tags_are_not_tags() -> None:
    """IAM Roles Anywhere writes a placeholder for the tags it keeps out of the trail (a real capture)."""
    hidden = {"key": tagging.HIDDEN, "value": tagging.HIDDEN}
    request = json.dumps({"resourceArn": "arn:aws:rolesanywhere:us-east-1:1:profile/p", "tags": [hidden]})
    [(_, ops)] = tagging.operations(
        "rolesanywhere.amazonaws.com", "TagResource", "us-east-1", "1", request, None
    )
    assert ops == [tagging.Clear()]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_NAMES = st.sampled_from(
    [
        "TagResource",
        "UntagResource",
        "CreateTags",
        "DeleteTags",
        "PutBucketTagging",
        "TagRole",
        "RunInstances",
        "AddTagsToResource",
        "RemoveTagsFromResource",
        "CreateKey",
        "CreateQueue",
        "AddTags",
        "TagLogGroup",
    ]
)
_SOURCES = st.sampled_from(
    [
        "lambda.amazonaws.com",
        "ec2.amazonaws.com",
        "s3.amazonaws.com",
        "iam.amazonaws.com",
        "kms.amazonaws.com",
        "sqs.amazonaws.com",
        "ssm.amazonaws.com",
        "elasticloadbalancing.amazonaws.com",
        "logs.amazonaws.com",
    ]
)
_MEMBERS = st.dictionaries(
    st.sampled_from(
        [
            "resourceArn",
            "resource",
            "tags",
            "tagKeys",
            "resourcesSet",
            "tagSet",
            "bucketName",
            "Tagging",
            "roleName",
            "keyId",
            "queueUrl",
            "resourceType",
            "resourceId",
            "resourceArns",
            "tagSpecificationSet",
        ]
    ),
    _JSON,
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_SOURCES, _NAMES, _MEMBERS, _JSON), max_size=6))
def test_any_record_shape_gives_well_formed_rows(calls: list[tuple[str, str, dict[str, Any], Any]]) -> None:
    """Whatever the members hold, reconstruction never raises, and every row is a string key and value
    within AWS's limits on an ARN."""
    events = [
        {
            "eventTime": datetime(2024, 3, 1, n, tzinfo=timezone.utc),
            "eventID": f"e{n}",
            "eventSource": source,
            "eventName": name,
            "awsRegion": "us-east-1",
            "recipientAccountId": tr.A,
            "requestParameters": json.dumps(members),
            "responseElements": json.dumps(response),
        }
        for n, (source, name, members, response) in enumerate(calls)
    ]
    table = tags.resource_tags(events)
    for row in table.to_pylist():
        assert row["resourceArn"].startswith("arn:") and row["tagKey"]
        assert len(row["tagKey"]) <= tagging.MAX_KEY and len(row["tagValue"]) <= tagging.MAX_VALUE
        assert row["validUntil"] is None or row["validUntil"] >= row["validFrom"]
    assert pa.Table.from_pylist(table.to_pylist(), schema=tags.RESOURCE_TAGS_SCHEMA).equals(table)
