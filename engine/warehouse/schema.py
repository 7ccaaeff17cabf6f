"""The warehouse schema: CloudTrail's own field names and nesting, plus a few derived columns.

The Arrow schema is derived from the record structs in ``records.py`` (one description of the record,
not two), so the decoder and the warehouse cannot drift apart. ``DOCS`` documents every column; ``trailsmith
schema`` prints it, and a test fails if a column has no documentation.

Types: strings stay strings (account ids keep their leading zeros), ``eventTime`` is a UTC timestamp with
microseconds, ``readOnly``/``managementEvent`` are booleans, ``resources`` is a list of structs, and every
JSON blob whose shape varies per API is JSON text, byte for byte as CloudTrail wrote it.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pyarrow as pa

from trailsmith.warehouse.records import LAZY, Record, Resource, struct_fields

TIMESTAMP = pa.timestamp("us", tz="UTC")

#: Hive partition column, in directory names only (``eventDate=2024-08-01``), as Athena and Spark expect.
PARTITION_COLUMN = "eventDate"

#: Columns trailsmith adds to CloudTrail's fields.
DERIVED: list[tuple[str, pa.DataType]] = [
    ("principalArn", pa.string()),
    ("sourceFile", pa.string()),
    ("extraFields", pa.string()),
]

DOCS: dict[str, str] = {
    "eventVersion": "Record format version, e.g. 1.09.",
    "userIdentity": "Who made the call: type, principalId, arn, accountId, accessKeyId, userName, invokedBy, "
    "credentialId, identityProvider, sessionContext{attributes{creationDate, mfaAuthenticated}, "
    "sessionIssuer{type, principalId, arn, accountId, userName}, webIdFederationData (JSON text), "
    "sourceIdentity, ec2RoleDelivery, assumedRoot}, onBehalfOf{userId, identityStoreArn}, "
    "inScopeOf (JSON text).",
    "eventTime": "When the request was made, UTC (TIMESTAMP WITH TIME ZONE, microseconds).",
    "eventSource": "Service endpoint that received the request, e.g. s3.amazonaws.com.",
    "eventName": "API operation, e.g. GetObject. Not always the IAM action name: see the actions view.",
    "awsRegion": "Region the request went to, kept exactly as recorded.",
    "sourceIPAddress": "Caller IP address, or the AWS service's name for calls made by a service.",
    "userAgent": "Client that made the request.",
    "errorCode": "AWS error code when the call failed (AccessDenied, ThrottlingException ...), else null.",
    "errorMessage": "Error description when the call failed, else null.",
    "requestParameters": "Request parameters, JSON text exactly as recorded (shape differs per API).",
    "responseElements": "Response elements of write calls, JSON text exactly as recorded.",
    "additionalEventData": "Extra data about the event, JSON text exactly as recorded.",
    "requestID": "Request id the service generated.",
    "eventID": "Unique id of the event; the deduplication key (within its eventDate).",
    "readOnly": "Whether the operation is read-only.",
    "resources": "Resources the event names: list of {ARN, accountId, type, ARNPrefix} (S3 object listings "
    "give an ARNPrefix instead of an ARN).",
    "eventType": "AwsApiCall, AwsServiceEvent, AwsConsoleAction, AwsConsoleSignIn ...",
    "apiVersion": "API version, for some services.",
    "managementEvent": "True for management events, false for data events.",
    "recipientAccountId": "Account that received the event.",
    "serviceEventDetails": "Details of service events, JSON text exactly as recorded.",
    "sharedEventID": "Shared id of one action delivered to several accounts.",
    "vpcEndpointId": "VPC endpoint the request came through.",
    "vpcEndpointAccountId": "Account owning that VPC endpoint.",
    "eventCategory": "Management, Data or Insight.",
    "tlsDetails": "TLS of the request: {tlsVersion, cipherSuite, clientProvidedHostHeader}.",
    "sessionCredentialFromConsole": "'true' when session credentials came from the console.",
    "addendum": "Why an event was delivered late or updated, JSON text exactly as recorded.",
    "edgeDeviceDetails": "Edge device the request came from, JSON text exactly as recorded.",
    "insightDetails": "Insights event details, JSON text exactly as recorded.",
    "principalArn": "The IAM policy holder: the role ARN (with path) for assumed-role sessions, the user ARN "
    "for IAM users and federated users' issuers, the root ARN for root; null when no IAM identity's "
    "policy applies (AWS services, other accounts, Identity Center portal users, unknown).",
    "sourceFile": "URI of the file the event was read from (the first one, for duplicate deliveries).",
    "extraFields": "JSON object of keys the schema does not know, at dotted paths (e.g. a forwarder's "
    "@timestamp, a field newer than this version); null when there were none.",
    "eventDate": "UTC date of eventTime; the Hive partition column (directory eventDate=YYYY-MM-DD).",
}


def arrow_type(struct: type, name: str, default: Any) -> pa.DataType:
    """Arrow type of field ``name`` of record struct ``struct``, from its declaration."""
    if struct is Record and name in LAZY:
        return struct_type(LAZY[name])
    if isinstance(default, msgspec.Struct):
        return struct_type(type(default))
    if isinstance(default, msgspec.Raw):
        return pa.string()
    annotation = struct.__annotations__[name]
    if name == "eventTime" and struct is Record:
        return TIMESTAMP
    if "bool" in str(annotation):
        return pa.bool_()
    if "list[Resource]" in str(annotation):
        return pa.list_(pa.field("item", struct_type(Resource)))
    return pa.string()


def struct_type(struct: type) -> pa.StructType:
    return pa.struct(
        [pa.field(name, arrow_type(struct, name, default)) for name, default in struct_fields(struct)]
    )


#: Schema of every Parquet file in the warehouse (the partition column lives in directory names).
EVENTS_SCHEMA: pa.Schema = pa.schema(
    [pa.field(name, arrow_type(Record, name, default)) for name, default in struct_fields(Record)]
    + [pa.field(name, dtype) for name, dtype in DERIVED]
)


def describe() -> list[tuple[str, str, str]]:
    """``(column, type, description)`` for every column of the ``events`` view, partition column last."""
    rows = [(f.name, str(f.type), DOCS[f.name]) for f in EVENTS_SCHEMA]
    rows.append((PARTITION_COLUMN, "date", DOCS[PARTITION_COLUMN]))
    return rows


#: The list of files already read, one part per commit.
SOURCES_SCHEMA = pa.schema(
    [
        pa.field("uri", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("fingerprint", pa.string()),
        pa.field("status", pa.string()),  # ingested | digest | quarantined | unreadable (retried next run)
        pa.field("events", pa.int64()),  # events read from it (before deduplication)
        pa.field("badRecords", pa.int64()),
        pa.field("reason", pa.string()),
    ]
)
