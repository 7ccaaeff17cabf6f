"""A trail for ``policy --abac``: roles tagged by their IAM tags and by session tags, resources tagged,
untagged and tagged late, and a create that asks for tags (shared by the DuckDB and Spark tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trailsmith
from helpers.events import management, write_records

A = "111122223333"
RED = f"arn:aws:iam::{A}:role/teams/red-app"
ANALYST = f"arn:aws:iam::{A}:role/analyst"
FUNCTION = f"arn:aws:lambda:eu-west-1:{A}:function:"
TABLE = f"arn:aws:dynamodb:eu-west-1:{A}:table/"


def session(role: str, key: str) -> dict[str, Any]:
    name = role.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROA{name.upper()}:s",
        "arn": f"arn:aws:sts::{A}:assumed-role/{name}/s",
        "accountId": A,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": role, "accountId": A, "userName": name},
            "attributes": {"creationDate": "2024-03-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def call(
    n: int, day: int, who: dict[str, Any], source: str, name: str, request: Any, response: Any = None
) -> dict:
    when = f"2024-03-{day:02d}T{n % 24:02d}:00:00Z"
    return management(
        n, when, source, name, request, response, region="eu-west-1", account=A, userIdentity=who
    )


ADMIN = session(f"arn:aws:iam::{A}:role/admin", "ASIAADMIN")


def tag_function(n: int, day: int, name: str, **tags: str) -> dict:
    request = {"resource": FUNCTION + name, "tags": tags}
    return call(n, day, ADMIN, "lambda.amazonaws.com", "TagResource20170331v2", request)


def invoke(n: int, day: int, who: dict[str, Any], name: str) -> dict:
    return call(n, day, who, "lambda.amazonaws.com", "Invoke", {"functionName": FUNCTION + name})


def records() -> list[dict]:
    red = session(RED, "ASIAREDAPP")
    out = [
        # the red role carries team=red as an IAM tag
        call(
            1,
            1,
            ADMIN,
            "iam.amazonaws.com",
            "CreateRole",
            {"roleName": "red-app", "path": "/teams/", "tags": [{"key": "team", "value": "red"}]},
            {"role": {"arn": RED, "roleName": "red-app", "path": "/teams/"}},
        ),
        tag_function(2, 1, "f1", team="red"),
        tag_function(3, 1, "f2", team="red", stage="prod"),
        tag_function(4, 1, "f3", team="blue"),
        # f1 and f2 are invoked while tagged red; f4's tags are never shown
        invoke(10, 2, red, "f1"),
        invoke(11, 3, red, "f2"),
        invoke(12, 3, red, "f4"),
        # f5 is tagged red only after the role's first call on it: its ARN stays
        invoke(13, 2, red, "f5"),
        tag_function(14, 3, "f5", team="red"),
        invoke(15, 4, red, "f5"),
        # a create with tags it asked for: RunInstances tags its instance team=red
        call(
            20,
            4,
            red,
            "ec2.amazonaws.com",
            "RunInstances",
            {
                "instancesSet": {"items": [{"imageId": "ami-1", "minCount": 1, "maxCount": 1}]},
                "tagSpecificationSet": {
                    "items": [{"resourceType": "instance", "tags": [{"key": "team", "value": "red"}]}]
                },
            },
            {"instancesSet": {"items": [{"instanceId": "i-0red"}]}},
        ),
    ]
    # the analyst works in sessions whose tags say team=green; the tables it reads are tagged green
    for i, key in enumerate(("ASIAGREENSESSION0001", "ASIAGREENSESSION0002")):
        out.append(
            call(
                30 + i,
                2,
                ADMIN,
                "sts.amazonaws.com",
                "AssumeRole",
                {"roleArn": ANALYST, "roleSessionName": f"a{i}", "tags": [{"key": "team", "value": "green"}]},
                {"credentials": {"accessKeyId": key}, "assumedRoleUser": {"arn": f"{ANALYST}/a{i}"}},
            )
        )
    for i, table in enumerate(("sales", "stock")):
        out.append(
            call(
                40 + i,
                1,
                ADMIN,
                "dynamodb.amazonaws.com",
                "TagResource",
                {"resourceArn": TABLE + table, "tags": [{"key": "team", "value": "green"}]},
            )
        )
    for i, (key, table) in enumerate((("ASIAGREENSESSION0001", "sales"), ("ASIAGREENSESSION0002", "stock"))):
        out.append(
            call(50 + i, 3, session(ANALYST, key), "dynamodb.amazonaws.com", "GetItem", {"tableName": table})
        )
    return out


def warehouse(root: Path) -> Path:
    """The trail ingested into ``root/wh``."""
    write_records(root / "in" / "calls.json.gz", records())
    report = trailsmith.ingest([str(root / "in")], root / "wh", workers=1)
    assert report.events_new == len(records())
    return root / "wh"
