"""Amazon Security Lake's copy of CloudTrail (OCSF "API Activity" rows in Parquet) -> CloudTrail records.

Security Lake stores CloudTrail as OCSF events in Parquet (``.../CLOUD_TRAIL_MGMT/2.0/region=.../
accountId=.../eventDay=YYYYMMDD/<file>.gz.parquet``; the ``.gz`` names the compression *inside* the
Parquet file, which starts with ``PAR1`` like any other). Each row of class 6003 ("API Activity") is turned
back into the CloudTrail event it was made from, as JSON, and the rows of a piece go through the ordinary
JSON decoder (:func:`trailsmith.ingestion.decode.decode_file`) as one array: deduplication, quarantine and
the Arrow conversion are then exactly those of every other input form.

The mapping follows AWS's documented CloudTrail -> OCSF mapping, read backwards: ``api.operation`` is
``eventName``, ``api.service.name`` ``eventSource``, ``metadata.uid`` ``eventID``, ``actor.user.uid`` the
identity's ARN, ``actor.session.issuer`` the session issuer's ARN, and so on (see :func:`_event`). CloudTrail
fields OCSF has no attribute for travel, when they travel at all, in the ``unmapped`` map under their
CloudTrail names (dotted paths for nested ones, ``tlsDetails.tlsVersion``); the ones no row of a file
carried are listed in :attr:`DecodedFile.not_carried`, so the ingest can say what its OCSF copy lacks.

Rows that are not CloudTrail API calls (another OCSF class, another product) or that lack an event id or
time are bad records, with a reason naming the form and the row. A file Parquet cannot read, or without a
single API Activity row (another Security Lake source), is rejected whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trailsmith.ingestion.decode import BadRecord, DecodedFile, FileRejected
from trailsmith.ingestion.decode import decode_file as decode_json

#: OCSF class "API Activity".
API_ACTIVITY = 6003
#: The OCSF columns the mapping reads (a Security Lake file holds others, left unread).
_COLUMNS = (
    "class_uid",
    "class_name",
    "metadata",
    "time",
    "api",
    "actor",
    "src_endpoint",
    "http_request",
    "cloud",
    "resources",
    "unmapped",
)
#: CloudTrail fields most calls have that OCSF has no attribute for (``recipientAccountId`` has one, but
#: ``cloud.account`` is optional): a file none of whose rows carries one of them in ``unmapped`` lacks it.
#: Rarer ones (``sharedEventID``, ``sessionCredentialFromConsole`` ...) are carried the same way, when they
#: are, but their absence from a file says nothing.
UNMAPPED_ONLY = ("additionalEventData", "eventType", "readOnly", "recipientAccountId", "tlsDetails")
#: CloudTrail fields that are JSON booleans, carried as text in ``unmapped``.
_BOOLEANS = frozenset({"readOnly", "managementEvent"})
#: OCSF times, converted to text column-wise
_TIMES = frozenset({"time", "actor.session.created_time"})
_PREFIX = "Security Lake OCSF"
_IAM_ARN = re.compile(r"^arn:[^:]+:iam::(\d+):(role|user)/(?:.*/)?([^/]+)$|^arn:[^:]+:iam::(\d+):root$")
_raw_decoder = msgspec.json.Decoder(msgspec.Raw)
_encoder = msgspec.json.Encoder(enc_hook=str)


@dataclass
class OcsfFile(DecodedFile):
    """A piece of a Security Lake file; its records' JSON is kept per row, for quarantine."""

    #: row number in the file -> the CloudTrail JSON built from it
    rows: dict[int, bytes] = field(default_factory=dict)

    def raw_record(self, index: int) -> bytes:
        return self.rows[index]


def decode_pieces(data: bytes, max_records: int) -> Iterator[tuple[int, DecodedFile]]:
    """The file's rows as CloudTrail records, ``max_records`` rows a piece: ``(first row, piece)``."""
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise FileRejected(f"{_PREFIX}: not a readable Parquet file ({_one_line(exc)})") from None
    names = set(parquet.schema_arrow.names)
    if "class_uid" not in names or "metadata" not in names:
        found = ", ".join(sorted(names)[:6]) or "none"
        raise FileRejected(f"Parquet file without OCSF events (no class_uid or metadata; columns: {found})")
    columns = [name for name in _COLUMNS if name in names]
    start = 0
    try:
        _check_classes(parquet)
        for batch in parquet.iter_batches(batch_size=max_records, columns=columns, use_threads=False):
            yield start, _piece(_rows(batch), start)
            start += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise FileRejected(f"{_PREFIX}: Parquet file cannot be read ({_one_line(exc)})") from None


def decode_whole(data: bytes) -> DecodedFile:
    """The whole file as one piece (see :func:`decode_pieces`)."""
    pieces = [piece for _, piece in decode_pieces(data, 1 << 62)]
    return pieces[0] if pieces else OcsfFile("events", "ocsf")


def _check_classes(parquet: pq.ParquetFile) -> None:
    """Reject a file without a single API Activity row whole: another Security Lake source (VPC flow logs,
    Route 53 ...) is no CloudTrail, and one reason says so better than a bad record per row."""
    classes = pc.unique(parquet.read(columns=["class_uid"], use_threads=False).column("class_uid"))
    if parquet.metadata.num_rows and API_ACTIVITY not in classes.to_pylist():
        found = ", ".join(str(uid) for uid in sorted(classes.drop_null().to_pylist())[:6]) or "none"
        raise FileRejected(
            f"{_PREFIX}: no API Activity ({API_ACTIVITY}) rows, not CloudTrail (class_uid: {found})"
        )


def _rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """The rows as flat dicts keyed by dotted OCSF paths (``api.service.name``), times as CloudTrail text.

    Flat rows make the mapping one lookup per attribute whatever the nesting (a null struct gives null
    leaves), and let the times be formatted column-wise, in C.
    """
    table = pa.Table.from_batches([batch])
    while any(pa.types.is_struct(column.type) for column in table.columns):
        table = table.flatten()
    names = table.column_names
    columns = [
        (_times(column) if name in _TIMES else column).to_pylist()
        for name, column in zip(names, table.columns, strict=True)
    ]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _times(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """OCSF times (milliseconds since the epoch, or Parquet timestamps) -> CloudTrail's ISO 8601 UTC text."""
    if pa.types.is_integer(column.type):
        column = pc.cast(column, pa.timestamp("ms", tz="UTC"))
    if not pa.types.is_timestamp(column.type):
        return column  # text already, or a type the record decoder will name
    column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))  # formatted in UTC, whatever its zone
    text = pc.replace_substring_regex(pc.strftime(column, format="%Y-%m-%dT%H:%M:%S"), r"\.0+$", "")
    return pc.binary_join_element_wise(text, "Z", "")


def _piece(rows: list[dict[str, Any]], start: int) -> OcsfFile:
    out = OcsfFile("events", "ocsf")
    numbers: list[int] = []
    carried: set[str] = set()
    for offset, row in enumerate(rows):
        number = start + offset
        event, problem = _event(row)
        if problem is not None:
            out.bad.append(BadRecord(offset, f"{_PREFIX}: row {number}: {problem}", _encoder.encode(row)))
            continue
        carried.update(name for name in UNMAPPED_ONLY if name in event)
        out.rows[offset] = _encoder.encode(event)
        numbers.append(offset)
    if numbers:
        out.not_carried = frozenset(UNMAPPED_ONLY) - carried
        decoded = decode_json(b"[" + b",".join(out.rows[n] for n in numbers) + b"]")
        out.records, out.extras = decoded.records, decoded.extras
        kept = decoded.positions if decoded.positions is not None else range(len(decoded.records))
        out.positions = [numbers[i] for i in kept]
        out.bad += [BadRecord(numbers[b.index], f"{_PREFIX}: {b.reason}", b.raw) for b in decoded.bad]
    if out.positions == list(range(len(rows))):
        out.positions = None
    out.bad.sort(key=lambda bad: bad.index)
    return out


def _event(row: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The CloudTrail event of one OCSF row, or the reason it is none."""
    get = row.get
    if get("class_uid") != API_ACTIVITY:
        name = f" ({row['class_name']})" if get("class_name") else ""
        return {}, f"class_uid {get('class_uid')}{name}, not API Activity ({API_ACTIVITY})"
    if get("metadata.product.name") not in (None, "CloudTrail"):
        return {}, f"product {row['metadata.product.name']!r}, not CloudTrail"
    event: dict[str, Any] = {
        "eventVersion": get("metadata.product.version"),
        "userIdentity": _identity(row),
        "eventTime": get("time"),
        "eventSource": get("api.service.name"),
        "eventName": get("api.operation"),
        "awsRegion": get("cloud.region"),
        "sourceIPAddress": _first(get("src_endpoint.ip"), get("src_endpoint.domain")),
        "userAgent": get("http_request.user_agent"),
        "errorCode": get("api.response.error"),
        "errorMessage": get("api.response.message"),
        "requestParameters": _json(get("api.request.data")),
        "responseElements": _json(get("api.response.data")),
        "requestID": get("api.request.uid"),
        "eventID": get("metadata.uid"),
        "resources": [_resource(_obj(item)) for item in get("resources") or []] or None,
        "apiVersion": get("api.version"),
        "recipientAccountId": _first(get("cloud.account.uid"), get("cloud.account_uid")),
        "vpcEndpointId": get("src_endpoint.uid"),
        "eventCategory": get("metadata.product.feature.name"),
    }
    if event["eventCategory"] in ("Management", "Data"):
        event["managementEvent"] = event["eventCategory"] == "Management"
    for path, value in _unmapped(row).items():
        _place(event, path.split("."), value)
    for name, problem in (("eventID", "no metadata.uid"), ("eventTime", "no time")):
        if not event.get(name):
            return {}, problem
    return _pruned(event), None


def _identity(row: dict[str, Any]) -> dict[str, Any]:
    """``userIdentity`` from OCSF's actor: the user, their session and the service that acted for them."""
    get = row.get
    mfa = _first(get("actor.session.mfa"), get("actor.session.is_mfa"))
    return {
        "type": get("actor.user.type"),
        "principalId": get("actor.user.uid_alt"),
        "arn": get("actor.user.uid"),
        "accountId": _first(get("actor.user.account.uid"), get("actor.user.account_uid")),
        "accessKeyId": _first(get("actor.user.credential_uid"), get("actor.session.credential_uid")),
        "userName": get("actor.user.name"),
        "invokedBy": _first(get("actor.invoked_by"), get("actor.app_name")),
        "sessionContext": {
            "attributes": {
                "creationDate": get("actor.session.created_time"),
                "mfaAuthenticated": None if mfa is None else str(bool(mfa)).lower(),
            },
            "sessionIssuer": _issuer(
                get("actor.session.issuer"), get("actor.user.type"), get("actor.user.uid_alt")
            ),
        },
    }


def _issuer(arn: Any, identity_type: Any, principal: Any) -> dict[str, Any]:
    """The session issuer, of which OCSF keeps only the ARN: its type, account and name are read from the
    ARN, and an assumed role's id is the part of the session's principal id before the colon."""
    if not isinstance(arn, str) or not arn:
        return {}
    match = _IAM_ARN.match(arn)
    issuer: dict[str, Any] = {"arn": arn}
    if match:
        account, kind, name, root_account = match.groups()
        issuer["type"] = {"role": "Role", "user": "IAMUser", None: "Root"}[kind]
        issuer["accountId"] = account or root_account
        if name:
            issuer["userName"] = name
    if identity_type == "AssumedRole" and isinstance(principal, str) and ":" in principal:
        issuer["principalId"] = principal.split(":", 1)[0]
    return issuer


def _resource(item: dict[str, Any]) -> dict[str, Any]:
    owner = _obj(item.get("owner"))
    account = _first(_obj(owner.get("account")).get("uid"), owner.get("account_uid"), item.get("account_uid"))
    return {"ARN": item.get("uid"), "accountId": account, "type": item.get("type")}


def _unmapped(row: dict[str, Any]) -> dict[str, Any]:
    """``unmapped`` as a dict: Parquet gives a map (key-value pairs), JSON text, or a struct (whose fields
    :func:`_rows` flattened to ``unmapped.<name>``)."""
    if "unmapped" not in row:
        return {
            key[9:]: item for key, item in row.items() if key.startswith("unmapped.") and item is not None
        }
    value = row["unmapped"]
    if isinstance(value, str):
        try:
            value = msgspec.json.decode(value)
        except msgspec.DecodeError:
            return {}
    if isinstance(value, list):
        value = dict(pair for pair in value if isinstance(pair, tuple) and len(pair) == 2)
    if not isinstance(value, dict):
        return {}
    return {str(key): item for key, item in value.items() if item is not None}


def _place(event: dict[str, Any], path: list[str], value: Any) -> None:
    """Put an ``unmapped`` value at its CloudTrail path, where OCSF gave that place no value."""
    target = event
    for key in path[:-1]:
        nested = target.get(key)
        if not isinstance(nested, dict):
            if nested is not None:
                return  # the mapped attribute wins over a conflicting unmapped one
            nested = target[key] = {}
        target = nested
    if target.get(path[-1]) is not None:
        return
    if path[-1] in _BOOLEANS and len(path) == 1 and isinstance(value, str):
        value = {"true": True, "false": False}.get(value.lower(), value)
    elif isinstance(value, str) and value[:1] in ("{", "["):
        value = _json(value)
    target[path[-1]] = value


def _json(value: Any) -> Any:
    """A JSON attribute (``api.request.data`` ...): its text as is when it is valid JSON."""
    if isinstance(value, str):
        try:
            return _raw_decoder.decode(value)
        except msgspec.DecodeError:
            return value
    return value


def _pruned(value: dict[str, Any]) -> dict[str, Any]:
    """Without null values and empty objects: a field OCSF did not carry is absent, as in CloudTrail."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if type(item) is dict:
            item = _pruned(item)
            if not item:
                continue
        elif type(item) is list:
            item = [_pruned(element) if type(element) is dict else element for element in item]
        out[key] = item
    return out


def _first(*values: Any) -> Any:
    """The first value that is there (an empty string is a value: CloudTrail records some)."""
    return next((value for value in values if value is not None), None)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__
