"""CloudTrail events -> OCSF "API Activity" Parquet files in Amazon Security Lake's layout.

A writer of the tests' own, from AWS's documented CloudTrail -> OCSF mapping, so the ingest of Security
Lake copies can be checked against the CloudTrail JSON they were made from. What it does with each field is
what Security Lake's copy holds: mapped attributes where OCSF has one, ``unmapped`` (text values, nested
fields at dotted paths) for the CloudTrail fields listed in :data:`KEPT_UNMAPPED`, and nothing for the rest
(:data:`DROPPED`), which is what the ingest must then report as not carried.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: CloudTrail fields OCSF has no attribute for that this copy keeps in ``unmapped``.
KEPT_UNMAPPED = ("eventType", "readOnly", "sharedEventID", "vpcEndpointAccountId", "tlsDetails")
#: CloudTrail fields this copy does not keep at all (nor ``managementEvent``, which follows eventCategory).
DROPPED = (
    "additionalEventData",
    "serviceEventDetails",
    "sessionCredentialFromConsole",
    "userIdentity.sessionContext.ec2RoleDelivery",
    "userIdentity.sessionContext.webIdFederationData",
)

_S = pa.string()
SCHEMA = pa.schema(
    [
        ("class_uid", pa.int32()),
        ("class_name", _S),
        ("category_uid", pa.int32()),
        ("activity_id", pa.int32()),
        ("type_uid", pa.int64()),
        ("severity_id", pa.int32()),
        ("status", _S),
        ("time", pa.int64()),
        (
            "metadata",
            pa.struct(
                [
                    ("uid", _S),
                    ("version", _S),
                    (
                        "product",
                        pa.struct(
                            [
                                ("name", _S),
                                ("vendor_name", _S),
                                ("version", _S),
                                ("feature", pa.struct([("name", _S)])),
                            ]
                        ),
                    ),
                ]
            ),
        ),
        (
            "api",
            pa.struct(
                [
                    ("operation", _S),
                    ("version", _S),
                    ("service", pa.struct([("name", _S)])),
                    ("request", pa.struct([("uid", _S), ("data", _S)])),
                    ("response", pa.struct([("error", _S), ("message", _S), ("data", _S)])),
                ]
            ),
        ),
        (
            "actor",
            pa.struct(
                [
                    (
                        "user",
                        pa.struct(
                            [
                                ("type", _S),
                                ("uid", _S),
                                ("uid_alt", _S),
                                ("name", _S),
                                ("credential_uid", _S),
                                ("account", pa.struct([("uid", _S)])),
                            ]
                        ),
                    ),
                    (
                        "session",
                        pa.struct([("issuer", _S), ("mfa", pa.bool_()), ("created_time", pa.int64())]),
                    ),
                    ("invoked_by", _S),
                ]
            ),
        ),
        ("src_endpoint", pa.struct([("ip", _S), ("domain", _S), ("uid", _S)])),
        ("http_request", pa.struct([("user_agent", _S)])),
        ("cloud", pa.struct([("region", _S), ("provider", _S), ("account", pa.struct([("uid", _S)]))])),
        (
            "resources",
            pa.list_(
                pa.struct(
                    [("uid", _S), ("type", _S), ("owner", pa.struct([("account", pa.struct([("uid", _S)]))]))]
                )
            ),
        ),
        ("unmapped", pa.map_(_S, _S)),
    ]
)

_ACTIVITIES = {"Create": 1, "Get": 2, "Describe": 2, "List": 2, "Update": 3, "Put": 3, "Delete": 4}


def row(event: dict[str, Any]) -> dict[str, Any]:
    """The OCSF API Activity row Security Lake makes of one CloudTrail event."""
    identity = event.get("userIdentity") or {}
    session = identity.get("sessionContext") or {}
    attributes = session.get("attributes") or {}
    name = event.get("eventName") or ""
    activity = next((uid for prefix, uid in _ACTIVITIES.items() if name.startswith(prefix)), 99)
    source = event.get("sourceIPAddress")
    is_ip = _is_ip(source)
    mfa = attributes.get("mfaAuthenticated")
    return {
        "class_uid": 6003,
        "class_name": "API Activity",
        "category_uid": 6,
        "activity_id": activity,
        "type_uid": 600300 + activity,
        "severity_id": 1,
        "status": "Failure" if event.get("errorCode") else "Success",
        "time": _millis(event["eventTime"]),
        "metadata": {
            "uid": event.get("eventID"),
            "version": "1.1.0",
            "product": {
                "name": "CloudTrail",
                "vendor_name": "AWS",
                "version": event.get("eventVersion"),
                "feature": {"name": event.get("eventCategory")},
            },
        },
        "api": {
            "operation": name,
            "version": event.get("apiVersion"),
            "service": {"name": event.get("eventSource")},
            "request": {"uid": event.get("requestID"), "data": _text(event.get("requestParameters"))},
            "response": {
                "error": event.get("errorCode"),
                "message": event.get("errorMessage"),
                "data": _text(event.get("responseElements")),
            },
        },
        "actor": {
            "user": {
                "type": identity.get("type"),
                "uid": identity.get("arn"),
                "uid_alt": identity.get("principalId"),
                "name": identity.get("userName"),
                "credential_uid": identity.get("accessKeyId"),
                "account": {"uid": identity.get("accountId")},
            },
            "session": {
                "issuer": (session.get("sessionIssuer") or {}).get("arn"),
                "mfa": None if mfa is None else mfa == "true",
                "created_time": _millis(attributes["creationDate"])
                if attributes.get("creationDate")
                else None,
            },
            "invoked_by": identity.get("invokedBy"),
        },
        "src_endpoint": {
            "ip": source if is_ip else None,
            "domain": None if is_ip else source,
            "uid": event.get("vpcEndpointId"),
        },
        "http_request": {"user_agent": event.get("userAgent")},
        "cloud": {
            "region": event.get("awsRegion"),
            "provider": "AWS",
            "account": {"uid": event.get("recipientAccountId")},
        },
        "resources": [
            {"uid": r.get("ARN"), "type": r.get("type"), "owner": {"account": {"uid": r.get("accountId")}}}
            for r in event.get("resources") or []
        ]
        or None,
        "unmapped": sorted(_unmapped(event).items()) or None,
    }


def write(events: Iterable[dict[str, Any]], root: Path, *, rows_per_file: int = 400) -> list[Path]:
    """``events`` as Security Lake files under ``root``, one folder per region, account and day."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        day = event["eventTime"][:10].replace("-", "")
        groups[(event.get("awsRegion") or "", event.get("recipientAccountId") or "", day)].append(row(event))
    written: list[Path] = []
    for (region, account, day), rows in sorted(groups.items()):
        folder = root / "ext/aws/CLOUD_TRAIL_MGMT/2.0" / f"region={region}/accountId={account}/eventDay={day}"
        folder.mkdir(parents=True, exist_ok=True)
        for start in range(0, len(rows), rows_per_file):
            path = folder / f"{uuid.uuid4().hex}.gz.parquet"
            table = pa.Table.from_pylist(rows[start : start + rows_per_file], schema=SCHEMA)
            pq.write_table(table, path, compression="gzip")
            written.append(path)
    return written


def _unmapped(event: dict[str, Any]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name in KEPT_UNMAPPED:
        value = event.get(name)
        if isinstance(value, dict):
            kept.update({f"{name}.{key}": str(item) for key, item in value.items() if item is not None})
        elif isinstance(value, bool):
            kept[name] = str(value).lower()
        elif value is not None:
            kept[name] = str(value)
    return kept


def _text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _millis(text: str) -> int:
    return round(
        datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp() * 1000
    )


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
