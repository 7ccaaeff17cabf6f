"""Typed records -> one Arrow record batch in the warehouse schema.

Conversion works column by column over many records at once (records of many small files together), with
the per-value work done in C: ``operator.attrgetter`` + ``zip`` transpose the structs, ``bytes.join`` packs
raw JSON blobs into one buffer, and pyarrow builds arrays. Nothing here loops over records in Python except
to build the rare rejection list.
"""

from __future__ import annotations

import operator
from array import array
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate, chain, repeat
from typing import Any, Sequence

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from trailsmith.records import MISSING, REQUIRED, Record, Resource, struct_fields
from trailsmith.schema import EVENTS_SCHEMA, TIMESTAMP, arrow_type

_NULL_JSON = b"null"


@dataclass
class Converted:
    """A batch of good rows, and ``(position, reason)`` for each input record that was rejected."""

    batch: pa.RecordBatch
    rejected: list[tuple[int, str]]


def to_batch(records: Sequence[Record], sources: Sequence[str], extras: dict[int, bytes]) -> Converted:
    """Convert ``records`` (with the URI each came from, and the unknown-key JSON of some) to Arrow.

    Records missing a required field or with an unreadable ``eventTime`` are left out and reported.
    """
    n = len(records)
    columns = _struct_columns(records, Record)
    columns[EVENTS_SCHEMA.get_field_index("eventTime")], bad_time = _event_time(columns[2])
    columns.append(principal_arn(columns[EVENTS_SCHEMA.get_field_index("userIdentity")]))
    columns.append(pa.array(sources, pa.string()))
    extra_values: list[bytes | None] = [None] * n
    for position, text in extras.items():
        extra_values[position] = text
    columns.append(pa.array(extra_values, pa.binary()).cast(pa.string()))
    batch = pa.RecordBatch.from_arrays(columns, schema=EVENTS_SCHEMA)
    rejected = _missing_required(batch, bad_time)
    if rejected:
        keep = [True] * n
        for position, _ in rejected:
            keep[position] = False
        batch = batch.filter(pa.array(keep))
    return Converted(batch, rejected)


def _struct_columns(objects: Sequence[Any], struct: type) -> list[pa.Array]:
    fields = struct_fields(struct)
    names = [name for name, _ in fields]
    if objects:
        transposed: list[Sequence[Any]] = list(zip(*map(operator.attrgetter(*names), objects)))
    else:
        transposed = [()] * len(names)
    return [_column(values, struct, name, default) for values, (name, default) in zip(transposed, fields)]


def _column(values: Sequence[Any], struct: type, name: str, default: Any) -> pa.Array:
    if isinstance(default, msgspec.Struct):
        nested = type(default)
        children = _struct_columns(values, nested)
        absent = pa.array(list(map(operator.is_, values, repeat(MISSING[nested]))), pa.bool_())
        return pa.StructArray.from_arrays(
            children, fields=list(arrow_type(struct, name, default)), mask=absent if absent.true_count else None
        )
    if isinstance(default, msgspec.Raw):
        return _json_text(values)
    if name == "resources":
        return _resources(values)
    dtype = arrow_type(struct, name, default)
    if dtype == TIMESTAMP:
        dtype = pa.string()  # parsed afterwards, with a per-record fallback
    return pa.array(values, dtype)


def _json_text(values: Sequence[msgspec.Raw]) -> pa.Array:
    """Raw JSON slices -> string array; absent (empty) and literal ``null`` become SQL NULL."""
    lengths = list(map(len, values))
    offsets = array("q", accumulate(lengths, initial=0))
    data = b"".join(values)
    binary = pa.Array.from_buffers(pa.large_binary(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    null = pc.or_(pc.equal(pa.array(lengths, pa.int64()), 0), pc.equal(binary, pa.scalar(_NULL_JSON, pa.large_binary())))
    if null.true_count:
        binary = pc.if_else(null, pa.scalar(None, pa.large_binary()), binary)
    return binary.cast(pa.large_string()).cast(pa.string())


def _resources(values: Sequence[list[Resource] | None]) -> pa.Array:
    present = [value is not None for value in values]
    lists = [value or () for value in values]
    offsets = pa.array(accumulate(map(len, lists), initial=0), pa.int32())
    items = list(chain.from_iterable(lists))
    item_type = arrow_type(Record, "resources", None).value_type
    struct = pa.StructArray.from_arrays(_struct_columns(items, Resource), fields=list(item_type))
    mask = None if all(present) else pa.array([not p for p in present], pa.bool_())
    return pa.ListArray.from_arrays(offsets, struct, type=pa.list_(pa.field("item", item_type)), mask=mask)


def _event_time(text: pa.Array) -> tuple[pa.Array, dict[int, str]]:
    """ISO 8601 strings -> UTC timestamps. Values that do not parse become null and are reported."""
    try:
        return text.cast(TIMESTAMP), {}
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values: list[datetime | None] = []
    bad: dict[int, str] = {}
    for position, value in enumerate(text.to_pylist()):
        parsed = None
        if value is not None:
            parsed, problem = _parse_time(value)
            if problem:
                bad[position] = problem
        values.append(parsed)
    return pa.array(values, TIMESTAMP), bad


def _parse_time(value: str) -> tuple[datetime | None, str | None]:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None, f"eventTime {value[:40]!r} is not an ISO 8601 time"
    if parsed.tzinfo is None:
        return None, f"eventTime {value[:40]!r} has no time zone (CloudTrail writes UTC, ending in Z)"
    return parsed, None


def _missing_required(batch: pa.RecordBatch, bad_time: dict[int, str]) -> list[tuple[int, str]]:
    reasons = dict(bad_time)
    for name in REQUIRED:
        column = batch.column(name)
        missing = pc.is_null(column) if name == "eventTime" else pc.or_kleene(pc.is_null(column), pc.equal(column, ""))
        if name == "eventTime":
            missing = pc.and_(missing, pa.array([p not in bad_time for p in range(len(batch))]))
        if missing.true_count:
            for position in pc.indices_nonzero(missing).to_pylist():
                reasons.setdefault(position, f"record has no {name}")
    return sorted(reasons.items())


_SESSION_ARN = r"^arn:([^:]+):sts::([0-9]+):assumed-role/([^/]+)/.*$"


def principal_arn(user_identity: pa.StructArray) -> pa.Array:
    """The IAM policy holder of each call (see ``schema.DOCS['principalArn']``).

    Assumed-role sessions map to their role: ``sessionContext.sessionIssuer.arn`` (which keeps the role's
    path), or, when the issuer is missing, the role named in the session ARN (without a path).
    """
    identity_type = user_identity.field("type")
    arn = user_identity.field("arn")
    issuer = user_identity.field("sessionContext").field("sessionIssuer")
    issuer_arn = issuer.field("arn")
    from_session = pc.if_else(
        pc.match_substring_regex(arn, _SESSION_ARN),
        pc.replace_substring_regex(arn, _SESSION_ARN, r"arn:\1:iam::\2:role/\3"),
        pa.scalar(None, pa.string()),
    )
    role = pc.coalesce(pc.if_else(pc.equal(issuer.field("type"), "Role"), issuer_arn, None), from_session)
    own_arn = pc.is_in(identity_type, pa.array(["IAMUser", "Root"]))
    return pc.case_when(
        pc.make_struct(
            pc.fill_null(pc.equal(identity_type, "AssumedRole"), False),
            pc.fill_null(pc.equal(identity_type, "FederatedUser"), False),
            pc.fill_null(own_arn, False),
        ),
        role,
        issuer_arn,
        arn,
    )
