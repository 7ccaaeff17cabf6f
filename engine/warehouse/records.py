"""Typed shape of one CloudTrail record, as the decoder sees it.

These ``msgspec`` structs are the single description of the record: the decoder (``decode.py``) uses them to
parse JSON without building dicts, the Arrow conversion (``arrowize.py``) walks them to build columns, and
``schema.py`` derives the warehouse schema from them. Field names are CloudTrail's own.

Design choices, each for speed or faithfulness:

- JSON blobs whose shape differs for every API (``requestParameters``, ``responseElements`` ...) are
  ``msgspec.Raw``: the original bytes, never parsed, stored as JSON text byte for byte.
- Nested objects default to one shared empty instance per type (``MISSING``), so the column builder can walk
  dotted paths without ``None`` checks and still tell "absent" (``is MISSING``) from ``{}``.
- ``forbid_unknown_fields``: a record with a key we do not know fails the fast path and goes through the
  slow path, which keeps that key in ``extraFields`` instead of dropping it silently.
- ``gc=False``: parsed records hold no reference cycles, so the cyclic GC need not track them.
- ``userIdentity`` and ``tlsDetails`` are decoded lazily (``LAZY``): kept as raw bytes per record, each
  *distinct* value of a batch is parsed once. Thousands of calls share a handful of identities and TLS
  set-ups, so this skips most of the work of the widest nested fields.
"""

from __future__ import annotations

from typing import Any

import msgspec

Raw = msgspec.Raw
ABSENT_RAW = msgspec.Raw(b"")

_OPTS = {"forbid_unknown_fields": True, "gc": False, "frozen": True}


class SessionIssuer(msgspec.Struct, **_OPTS):
    type: str | None = None
    principalId: str | None = None
    arn: str | None = None
    accountId: str | None = None
    userName: str | None = None


class SessionAttributes(msgspec.Struct, **_OPTS):
    creationDate: str | None = None
    mfaAuthenticated: str | None = None


class SessionContext(msgspec.Struct, **_OPTS):
    attributes: SessionAttributes = SessionAttributes()
    sessionIssuer: SessionIssuer = SessionIssuer()
    webIdFederationData: Raw = ABSENT_RAW
    sourceIdentity: str | None = None
    ec2RoleDelivery: str | None = None
    assumedRoot: str | None = None


class OnBehalfOf(msgspec.Struct, **_OPTS):
    userId: str | None = None
    identityStoreArn: str | None = None


class UserIdentity(msgspec.Struct, **_OPTS):
    type: str | None = None
    principalId: str | None = None
    arn: str | None = None
    accountId: str | None = None
    accessKeyId: str | None = None
    userName: str | None = None
    invokedBy: str | None = None
    credentialId: str | None = None
    identityProvider: str | None = None
    sessionContext: SessionContext = SessionContext()
    onBehalfOf: OnBehalfOf = OnBehalfOf()
    inScopeOf: Raw = ABSENT_RAW


class Resource(msgspec.Struct, **_OPTS):
    ARN: str | None = None
    accountId: str | None = None
    type: str | None = None
    ARNPrefix: str | None = None  # S3 ListObjects names its objects by prefix instead of ARN


class TlsDetails(msgspec.Struct, **_OPTS):
    tlsVersion: str | None = None
    cipherSuite: str | None = None
    clientProvidedHostHeader: str | None = None


class Record(msgspec.Struct, **_OPTS):
    """One CloudTrail event. Field order is the warehouse column order."""

    eventVersion: str | None = None
    userIdentity: Raw = ABSENT_RAW  # parsed per distinct value as UserIdentity: see LAZY
    eventTime: str | None = None
    eventSource: str | None = None
    eventName: str | None = None
    awsRegion: str | None = None
    sourceIPAddress: str | None = None
    userAgent: str | None = None
    errorCode: str | None = None
    errorMessage: str | None = None
    requestParameters: Raw = ABSENT_RAW
    responseElements: Raw = ABSENT_RAW
    additionalEventData: Raw = ABSENT_RAW
    requestID: str | None = None
    eventID: str | None = None
    readOnly: bool | None = None
    resources: list[Resource] | None = None
    eventType: str | None = None
    apiVersion: str | None = None
    managementEvent: bool | None = None
    recipientAccountId: str | None = None
    serviceEventDetails: Raw = ABSENT_RAW
    sharedEventID: str | None = None
    vpcEndpointId: str | None = None
    vpcEndpointAccountId: str | None = None
    eventCategory: str | None = None
    tlsDetails: Raw = ABSENT_RAW  # parsed per distinct value as TlsDetails: see LAZY
    sessionCredentialFromConsole: str | None = None
    addendum: Raw = ABSENT_RAW
    edgeDeviceDetails: Raw = ABSENT_RAW
    insightDetails: Raw = ABSENT_RAW


def struct_fields(struct: type[msgspec.Struct]) -> list[tuple[str, Any]]:
    """``(name, default)`` of every field of a record struct, in order (``NODEFAULT`` when required)."""
    names = struct.__struct_fields__
    defaults = struct.__struct_defaults__
    return list(
        zip(names, (msgspec.NODEFAULT,) * (len(names) - len(defaults)) + tuple(defaults), strict=True)
    )


def _absent_instances() -> dict[type, msgspec.Struct]:
    found: dict[type, msgspec.Struct] = {}
    for cls in (Record, UserIdentity, SessionContext):
        for default in cls.__struct_defaults__:
            if isinstance(default, msgspec.Struct):
                assert type(default) not in found, "one absent instance per nested type"
                found[type(default)] = default
    return found


#: Record fields kept raw by the decoder and parsed once per distinct value, with the struct they parse to.
LAZY: dict[str, type] = {"userIdentity": UserIdentity, "tlsDetails": TlsDetails}

#: The one shared "absent" instance of each nested struct type (the field defaults above).
MISSING: dict[type, msgspec.Struct] = _absent_instances()

#: Fields every stored record must have (non-empty strings).
REQUIRED = ("eventID", "eventTime", "eventSource", "eventName")


class Envelope(msgspec.Struct, gc=False):
    """``{"Records": [...]}``, the body of every CloudTrail log file in S3."""

    Records: list[Record]


class RawEnvelope(msgspec.Struct, gc=False):
    """The same envelope with records left unparsed, for the record-by-record slow path."""

    Records: list[Raw]
