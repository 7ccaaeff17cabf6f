"""Typed records -> one Arrow record batch in the warehouse schema.

Conversion works column by column over many records at once (records of many small files together), with
the per-value work done in C: ``map(operator.attrgetter(name), objects)`` lists one field of every object of
a nesting level (nested structs are listed once, then their own fields from that list), ``bytes.join``
packs raw JSON blobs into one buffer, and pyarrow builds the arrays. Columns that are absent from every
record of a batch (most of CloudTrail's optional fields, most of the time) are detected with ``any()``,
which stops at the first present value, and become all-null arrays without further work. Python loops over
records only to build the (rare) rejection list.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from itertools import accumulate, chain, repeat
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from trailsmith.warehouse.records import LAZY, MISSING, REQUIRED, Record, Resource, struct_fields
from trailsmith.warehouse.schema import EVENTS_SCHEMA, TIMESTAMP, arrow_type, struct_type

#: An all-null instance of each lazily parsed struct, standing in for absent values while building rows.
MISSING_LAZY = {struct: struct() for struct in LAZY.values()}


@dataclass
class Converted:
    """A batch of good rows, and ``(position, reason)`` for each input record that was rejected."""

    batch: pa.RecordBatch
    rejected: list[tuple[int, str]]


# A plan node turns the records into one Arrow array.
_Node = Callable[[Sequence[Any]], pa.Array]


def to_batch(records: Sequence[Record], sources: Sequence[str], extras: dict[int, bytes]) -> Converted:
    """Convert ``records`` (with the URI each came from, and the unknown-key JSON of some) to Arrow.

    Records missing a required field or with an unreadable ``eventTime`` are left out and reported.
    """
    n = len(records)
    rejected_identities: dict[int, str] = {}
    distinct: dict[str, tuple[pa.Array, pa.Array]] = {}
    columns = []
    for name, node in _plan():
        if node is None:
            rows, codes = _lazy_struct(records, name, LAZY[name], extras, rejected_identities)
            distinct[name] = (rows, codes)
            columns.append(rows.take(codes))
        else:
            columns.append(node(records))
    time_index = EVENTS_SCHEMA.get_field_index("eventTime")
    columns[time_index], bad_time = _event_time(columns[time_index])
    identities, codes = distinct["userIdentity"]
    columns.append(principal_arn(identities).take(codes))  # once per distinct identity
    columns.append(pa.array(sources, pa.string()))
    if extras:
        extra_values: list[bytes | None] = [None] * n
        for position, text in extras.items():
            extra_values[position] = text
        columns.append(pa.array(extra_values, pa.binary()).cast(pa.string()))
    else:
        columns.append(pa.nulls(n, pa.string()))
    batch = pa.RecordBatch.from_arrays(columns, schema=EVENTS_SCHEMA)
    rejected = _rejections(batch, bad_time | rejected_identities)
    if rejected:
        keep = [True] * n
        for position, _ in rejected:
            keep[position] = False
        batch = batch.filter(pa.array(keep))
    return Converted(batch, rejected)


@cache
def _plan() -> tuple[tuple[str, _Node | None], ...]:
    """(field, node) per record field; lazily parsed fields have no node (see ``_lazy_struct``)."""
    return tuple(
        (name, None if name in LAZY else _node(Record, name, default))
        for name, default in struct_fields(Record)
    )


@cache
def _lazy_plan(struct: type) -> tuple[msgspec.json.Decoder, tuple[_Node, ...]]:
    return msgspec.json.Decoder(struct), tuple(
        _node(struct, name, default) for name, default in struct_fields(struct)
    )


def _lazy_struct(
    records: Sequence[Record], name: str, struct: type, extras: dict[int, bytes], rejected: dict[int, str]
) -> tuple[pa.Array, pa.Array]:
    """Parse each distinct raw value of field ``name`` once; returns (one row per distinct value, the index
    of each record's value), so that the column is ``rows.take(codes)``.

    A value with keys ``struct`` does not know keeps them in the record's ``extraFields``; a value of the
    wrong shape rejects its records.
    """
    raws = list(map(operator.attrgetter(name), records))
    keys = list(map(bytes, raws))
    distinct = list(dict.fromkeys(keys))
    code = {key: i for i, key in enumerate(distinct)}
    decoder, children = _lazy_plan(struct)
    codes = pa.array(list(map(code.__getitem__, keys)), pa.int32())
    parsed: list[Any] = []
    problems: dict[int, tuple[str | None, bytes | None]] = {}  # distinct index -> (rejection, extras)
    for i, key in enumerate(distinct):
        if key in (b"", b"null"):
            parsed.append(None)
            continue
        try:
            parsed.append(decoder.decode(key))
        except (msgspec.ValidationError, msgspec.DecodeError):
            value, reason, unknown = _lazy_slow(key, name, struct)
            parsed.append(value)
            problems[i] = (reason, unknown)
    if problems:
        for position, distinct_index in enumerate(codes.to_pylist()):
            if distinct_index in problems:
                reason, unknown = problems[distinct_index]
                if reason is not None:
                    rejected[position] = reason
                elif unknown is not None:
                    extras[position] = _merge_extras(extras.get(position), unknown)
    if all(value is None for value in parsed):
        return pa.nulls(len(distinct), struct_type(struct)), codes
    absent = MISSING_LAZY[struct]
    values = [absent if value is None else value for value in parsed]
    mask = pa.array([value is None for value in parsed], pa.bool_())
    rows = pa.StructArray.from_arrays(
        [child(values) for child in children],
        fields=list(struct_type(struct)),
        mask=mask if mask.true_count else None,
    )
    return rows, codes


def _lazy_slow(key: bytes, name: str, struct: type) -> tuple[Any, str | None, bytes | None]:
    """(parsed value or None, rejection reason or None, JSON of unknown keys or None) for an odd value."""
    from trailsmith.ingestion.decode import clean_struct

    try:
        value = msgspec.json.decode(key)
    except msgspec.DecodeError as exc:  # pragma: no cover - the record decoder already validated the JSON
        return None, f"{name} is not valid JSON ({exc})", None
    unknown: dict[str, Any] = {}
    if not isinstance(value, dict):
        return None, f"wrong type: {name} is not a JSON object", None
    cleaned = clean_struct(value, struct, name, unknown)
    try:
        parsed: Any = msgspec.json.decode(msgspec.json.encode(cleaned), type=struct)
    except msgspec.ValidationError as exc:
        return None, f"wrong type: {exc} in {name}".replace("at `$", f"at `$.{name}"), None
    return parsed, None, (msgspec.json.encode(unknown) if unknown else None)


def _merge_extras(existing: bytes | None, more: bytes) -> bytes:
    if existing is None:
        return more
    return msgspec.json.encode({**msgspec.json.decode(existing), **msgspec.json.decode(more)})


def _node(struct: type, name: str, default: Any) -> _Node:
    """A function from the objects of one nesting level to the Arrow array of their field ``name``."""
    dtype = arrow_type(struct, name, default)
    get = operator.attrgetter(name)
    if isinstance(default, msgspec.Struct):
        return _struct_node(type(default), dtype, get)
    if isinstance(default, msgspec.Raw):
        return lambda objects: _json_text(list(map(get, objects)))
    if name == "resources":
        return lambda objects: _resources(list(map(get, objects)), dtype)
    if dtype == TIMESTAMP:
        dtype = pa.string()  # parsed afterwards, with a per-record fallback
    if dtype == pa.bool_():
        return lambda objects: pa.array(list(map(get, objects)), dtype)

    def strings(objects: Sequence[Any]) -> pa.Array:
        values = list(map(get, objects))
        if not any(values) and values.count(None) == len(values):
            return pa.nulls(len(values), dtype)
        return pa.array(values, dtype)

    return strings


def _struct_node(nested: type, dtype: pa.StructType, get: Callable[[Any], Any]) -> _Node:
    absent = MISSING[nested]
    children = [_node(nested, name, default) for name, default in struct_fields(nested)]

    def struct(objects: Sequence[Any]) -> pa.Array:
        values = list(map(get, objects))
        is_absent = list(map(operator.is_, values, repeat(absent)))
        if all(is_absent):
            return pa.nulls(len(values), dtype)
        mask = pa.array(is_absent, pa.bool_()) if any(is_absent) else None
        return pa.StructArray.from_arrays(
            [child(values) for child in children], fields=list(dtype), mask=mask
        )

    return struct


def _json_text(values: list[msgspec.Raw]) -> pa.Array:
    """Raw JSON slices -> string array; absent (empty) and literal ``null`` become SQL NULL."""
    n = len(values)
    if not any(values):
        return pa.nulls(n, pa.string())
    lengths = list(map(len, values))
    offsets = array("q", accumulate(lengths, initial=0))
    data = b"".join(values)
    binary = pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    null = pc.or_(
        pc.equal(pa.array(lengths, pa.int64()), 0), pc.equal(binary, pa.scalar(b"null", pa.large_binary()))
    )
    if null.true_count:
        binary = pc.if_else(null, pa.scalar(None, pa.large_binary()), binary)
    return binary.cast(pa.large_string()).cast(pa.string())


def _resources(values: list[list[Resource] | None], dtype: pa.ListType) -> pa.Array:
    if not any(values) and values.count(None) == len(values):
        return pa.nulls(len(values), dtype)
    lists = [value or () for value in values]
    offsets = pa.array(accumulate(map(len, lists), initial=0), pa.int32())
    items = list(chain.from_iterable(lists))
    item_type = dtype.value_type
    fields = [name for name, _ in struct_fields(Resource)]
    children = [pa.array(list(map(operator.attrgetter(name), items)), pa.string()) for name in fields]
    struct = pa.StructArray.from_arrays(children, fields=list(item_type))
    mask = pa.array([value is None for value in values], pa.bool_()) if None in values else None
    return pa.ListArray.from_arrays(offsets, struct, type=dtype, mask=mask)


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


def _rejections(batch: pa.RecordBatch, bad_time: dict[int, str]) -> list[tuple[int, str]]:
    reasons = dict(bad_time)
    for name in REQUIRED:
        column = batch.column(name)
        missing = pc.is_null(column)
        if column.type == pa.string():
            missing = pc.or_kleene(missing, pc.equal(column, ""))
        if missing.true_count:
            for position in pc.indices_nonzero(missing).to_pylist():
                reasons.setdefault(position, f"record has no {name}")
    return sorted(reasons.items())


_SESSION_ARN = r"^arn:([^:]+):sts::([0-9]+):assumed-role/([^/]+)/.*$"


def principal_arn(user_identity: pa.Array) -> pa.Array:
    """The IAM policy holder of each call (see ``schema.DOCS['principalArn']``).

    Assumed-role sessions map to their role: ``sessionContext.sessionIssuer.arn`` (which keeps the role's
    path), or, when the issuer is missing, the role named in the session ARN (without a path).
    """
    if user_identity.null_count == len(user_identity):
        return pa.nulls(len(user_identity), pa.string())
    identity_type = user_identity.field("type")
    arn = user_identity.field("arn")
    issuer = user_identity.field("sessionContext").field("sessionIssuer")
    issuer_arn = issuer.field("arn")
    role = pc.if_else(pc.equal(issuer.field("type"), "Role"), issuer_arn, None)
    assumed_role = pc.fill_null(pc.equal(identity_type, "AssumedRole"), False)
    if role.null_count:
        role = _role_from_session(role, arn, assumed_role)
    own_arn = pc.is_in(identity_type, pa.array(["IAMUser", "Root"]))
    return pc.case_when(
        pc.make_struct(
            assumed_role,
            pc.fill_null(pc.equal(identity_type, "FederatedUser"), False),
            pc.fill_null(own_arn, False),
        ),
        role,
        issuer_arn,
        arn,
    )


def _role_from_session(role: pa.Array, arn: pa.Array, assumed_role: pa.Array) -> pa.Array:
    """``role``, with the role named by the session ARN where an assumed-role session lacks its issuer.

    Rare, and a regular expression is slow: it runs only on those rows (the role of any other row is never
    used), not on every row of the batch as soon as one needs it.
    """
    needed = pc.and_(pc.is_null(role), assumed_role)
    if not needed.true_count:
        return role
    arns = arn.filter(needed)
    from_session = pc.if_else(
        pc.match_substring_regex(arns, _SESSION_ARN),
        pc.replace_substring_regex(arns, _SESSION_ARN, r"arn:\1:iam::\2:role/\3"),
        pa.scalar(None, pa.string()),
    )
    return pc.replace_with_mask(role, needed, from_session)
