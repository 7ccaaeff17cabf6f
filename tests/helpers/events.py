"""Small builders of CloudTrail records and files for tests (the synth generator makes whole archives)."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import Any

ACCOUNT = "012345678901"


def event(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """A realistic assumed-role S3 call; ``n`` varies ids and time."""
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEID:build",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/build",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEID",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/ci/Builder",
                    "accountId": ACCOUNT,
                    "userName": "Builder",
                },
                "attributes": {"creationDate": "2024-03-01T00:00:00Z", "mfaAuthenticated": "false"},
            },
        },
        "eventTime": f"2024-03-0{1 + n % 3}T{n % 24:02d}:{n % 60:02d}:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "192.0.2.10",
        "userAgent": "aws-cli/2.15",
        "requestParameters": {
            "bucketName": "builds",
            "key": f"out/{n}.zip",
            "Host": "builds.s3.amazonaws.com",
        },
        "responseElements": None,
        "requestID": f"REQ{n:08d}",
        "eventID": str(uuid.UUID(int=n + 1)),
        "readOnly": True,
        "resources": [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::builds/out/{n}.zip"},
            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::builds"},
        ],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Data",
    }
    record.update(overrides)
    return record


def management(
    n: int,
    when: str,
    source: str,
    name: str,
    request: Any,
    response: Any = None,
    *,
    region: str,
    account: str,
    **overrides: Any,
) -> dict[str, Any]:
    """A write management call of ``source`` at ``when`` (CloudTrail's text) that names no ``resources``."""
    return event(
        n,
        eventTime=when,
        eventSource=source,
        eventName=name,
        awsRegion=region,
        requestParameters=request,
        responseElements=response,
        resources=[],
        readOnly=False,
        managementEvent=True,
        eventCategory="Management",
        recipientAccountId=account,
        **overrides,
    )


def assume_role(
    n: int, caller: dict[str, Any], role: str, key: str, issued: str, account: str
) -> dict[str, Any]:
    """An sts:AssumeRole call by ``caller`` (signing with ``key``) that issued the session key ``issued``."""
    return event(
        n,
        userIdentity=caller | {"accessKeyId": key},
        eventSource="sts.amazonaws.com",
        eventName="AssumeRole",
        requestParameters={"roleArn": role, "roleSessionName": f"s{n}"},
        responseElements={"credentials": {"accessKeyId": issued}},
        resources=[{"ARN": role, "type": "AWS::IAM::Role"}],
        managementEvent=True,
        eventCategory="Management",
        recipientAccountId=account,
    )


def write_records(path: Path, records: list[Any], *, form: str = "records", gz: bool = True) -> Path:
    """Write ``records`` as an S3 export body (``records``), a JSON ``array`` or JSON ``lines``."""
    if form == "records":
        text = json.dumps({"Records": records})
    elif form == "array":
        text = json.dumps(records, indent=3)
    elif form == "lines":
        text = "\n".join(json.dumps(r) for r in records) + "\n"
    else:
        raise ValueError(form)
    data = text.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def s3_key(day: int = 1, n: int = 0, region: str = "eu-west-1") -> str:
    return (
        f"AWSLogs/o-test/{ACCOUNT}/CloudTrail/{region}/2024/03/{day:02d}/"
        f"{ACCOUNT}_CloudTrail_{region}_202403{day:02d}T0{n % 10}05Z_{n:016d}.json.gz"
    )
