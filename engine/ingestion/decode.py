"""Bytes of one input file -> typed CloudTrail records.

Accepts every form people feed a CloudTrail tool: the S3 export body ``{"Records": [...]}`` (gzipped or
not), a JSON array of events (console event-history downloads), JSON lines (SIEM and forwarder exports),
a single event object, and the envelopes log forwarders wrap events in (:mod:`.envelopes`: CloudWatch Logs
subscriptions and EventBridge rules delivered through Firehose, CloudWatch Logs export tasks), all
recognised by content; and Parquet (:data:`BINARY_FORMS`: Amazon Security Lake's OCSF copy, turned back into
CloudTrail records by :mod:`.ocsf`). Recognises CloudTrail digest files, which are not events.

The fast path decodes a whole file in one ``msgspec`` call into :class:`~trailsmith.warehouse.records.Record`
structs. Anything unusual (an unknown key, a wrong type, a non-object record) sends *that file* to the slow
path, which decodes record by record: good records survive with their unknown keys kept in
``extraFields``; bad ones become :class:`BadRecord` with the reason. A file that cannot hold events at all
raises :class:`FileRejected`. Nothing is dropped without a count and a reason.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from isal import igzip, isal_zlib

from trailsmith.ingestion import envelopes
from trailsmith.warehouse.records import LAZY, MISSING, Envelope, RawEnvelope, Record, Resource, struct_fields

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"

# Keys that only a CloudTrail digest file has (see "CloudTrail digest file structure" in the AWS docs).
_DIGEST_KEYS = frozenset({"digestStartTime", "digestEndTime", "digestS3Bucket", "logFiles"})

_record_decoder = msgspec.json.Decoder(Record)
_records_decoder = msgspec.json.Decoder(list[Record])
_envelope_decoder = msgspec.json.Decoder(Envelope)
_raw_envelope_decoder = msgspec.json.Decoder(RawEnvelope)
_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_raw_map_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_any_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()
#: Binary input forms by magic number -> the module that reads them, imported by name (it builds on this one).
BINARY_FORMS = {b"PAR1": "trailsmith.ingestion.ocsf"}


class FileRejected(Exception):
    """The file holds no CloudTrail events we can read: it is quarantined whole, with this reason."""


@dataclass
class BadRecord:
    """One record that cannot be stored, with the reason; ``raw`` is its JSON text as found."""

    index: int
    reason: str
    raw: bytes


@dataclass
class DecodedFile:
    """What one file held. ``kind`` is ``"events"`` or ``"digest"`` (a digest file holds no events)."""

    kind: str
    form: str = ""
    records: list[Record] = field(default_factory=list)
    #: record position -> JSON object text of keys the schema does not know (kept, never dropped)
    extras: dict[int, bytes] = field(default_factory=dict)
    #: record position -> original record index in the file, when some records were rejected
    positions: list[int] | None = None
    bad: list[BadRecord] = field(default_factory=list)
    #: records whose eventTime came from a log forwarder's ``@timestamp``
    time_from_timestamp: int = 0
    #: CloudWatch Logs ``CONTROL_MESSAGE`` objects skipped (health checks, no events)
    control_messages: int = 0
    text: bytes = b""
    #: the records' texts when they are not slices of ``text`` (taken out of an envelope)
    raws: list[bytes] | None = None
    #: CloudTrail fields this file's form could not carry (Security Lake OCSF), empty in its records
    not_carried: frozenset[str] = frozenset()

    def raw_record(self, index: int) -> bytes:
        """The JSON text of record ``index`` as it is in the file, out of its envelope (for quarantine)."""
        if self.raws is not None:
            return self.raws[index]
        return bytes(_split_raw(self.text, self.form)[index])


def decompress(data: bytes) -> bytes:
    """Gunzip ``data`` if it is gzip (by magic number, not by name), else return it unchanged.

    Concatenated gzip members are joined; truncation or trailing bytes reject the file. ISA-L's
    ``igzip.decompress`` is the fast call (measured 1080 against 770 MB/s for ``decompressobj`` on 2.7 MB
    files, the same on small ones), but it forgives zero bytes after the data. Zero bytes after the data
    would stand where the gzip trailer's length is read, so a text whose length matches that trailer has
    none; any other text (several members, an empty one, a broken file) takes the strict path, which also
    says what is wrong.
    """
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        text = igzip.decompress(data)
    except (EOFError, OSError, isal_zlib.error):  # type: ignore[misc]  # see _strict_gunzip
        return _strict_gunzip(data)
    if text and int.from_bytes(data[-4:], "little") == len(text) & 0xFFFFFFFF:
        return text
    return _strict_gunzip(data)


def _strict_gunzip(data: bytes) -> bytes:
    """Gunzip member by member with ISA-L's zlib interface, saying what is wrong with a broken file."""
    parts: list[bytes] = []
    rest = data
    try:
        while True:
            inflater = isal_zlib.decompressobj(wbits=31)
            parts.append(inflater.decompress(rest))
            if not inflater.eof:
                raise FileRejected(
                    "corrupt or truncated gzip (the compressed data ends before its end marker)"
                )
            rest = inflater.unused_data
            if not rest:
                break
            if not rest.startswith(_GZIP_MAGIC):
                raise FileRejected(f"corrupt gzip ({len(rest)} bytes of garbage after the compressed data)")
    except isal_zlib.error as exc:  # type: ignore[misc]  # isal's stub declares `error` an instance, not a class
        raise FileRejected(f"corrupt or truncated gzip ({exc})") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def decode_file(data: bytes) -> DecodedFile:
    """Decode a whole file (gzipped or not) into records.

    >>> decode_file(b'[{"eventID": "e1", "eventTime": "2024-01-01T00:00:00Z"}]').records[0].eventID
    'e1'
    """
    if (reader := _binary_reader(data)) is not None:
        return reader.decode_whole(data)
    return _decode_text(_text(data))


def _binary_reader(data: bytes) -> Any:
    name = BINARY_FORMS.get(data[:4])
    return importlib.import_module(name) if name is not None else None


#: Files whose JSON is larger than this are decoded in pieces (see :func:`decode_pieces`).
LARGE_TEXT = 8 * 1024 * 1024


def decode_pieces(data: bytes, max_records: int) -> Iterator[tuple[int, DecodedFile]]:
    """Like :func:`decode_file`, but a large file comes in pieces of at most ``max_records`` records.

    Yields ``(index of the piece's first record in the file, piece)``. Decoding a large file whole would
    hold every record of it as Python objects at once (a 50 MB CloudTrail file holds hundreds of thousands);
    here the records are first split as raw JSON slices (cheap), then decoded a piece at a time, so memory
    is bounded by the file's text and one piece.
    """
    if (reader := _binary_reader(data)) is not None:
        yield from reader.decode_pieces(data, max_records)
        return
    yield from decode_text_pieces(_text(data), max_records)


def json_text(data: bytes) -> bytes | None:
    """The JSON text of a file: gunzipped, without a byte order mark; None for a binary form (Parquet).

    Raises :class:`FileRejected` as :func:`decode_pieces` would (broken gzip, an empty file).
    """
    return None if _binary_reader(data) is not None else _text(data)


def decode_text_pieces(text: bytes, max_records: int) -> Iterator[tuple[int, DecodedFile]]:
    """:func:`decode_pieces` of a :func:`json_text` (the text already gunzipped, not decoded twice)."""
    raws = _split_large(text) if len(text) > LARGE_TEXT else None
    if raws is None:
        yield 0, _decode_text(text)
        return
    if isinstance(raws, envelopes.Unwrapped):
        yield from _unwrapped_pieces(raws, max_records)
        return
    for start in range(0, len(raws), max_records):
        yield start, _decode_array(b"[" + b",".join(raws[start : start + max_records]) + b"]")


def _split_large(text: bytes) -> list[Any] | envelopes.Unwrapped | None:
    """The raw records of a large envelope, array or JSON-lines text, or the events of a forwarder's text.

    None when it is none of those cleanly. (One forwarder's object is small: CloudWatch Logs sends at most
    1 MB per subscription message, EventBridge 256 KB per event; a large text of them is many objects.)
    """
    start = _first_byte(text)
    try:
        if start == b"{":
            try:
                return list(_raw_envelope_decoder.decode(text).Records)
            except msgspec.ValidationError:  # no "Records": perhaps a forwarder's objects, one after another
                form = envelopes.form_of_values(text)
                return None if form is None else _unwrap(text, form)
            except msgspec.DecodeError as exc:
                if "trailing characters" not in str(exc):
                    return None
                form = _forwarder_form(text, exc)
                return _split_lines(text) if form is None else _unwrap(text, form)
        if start == b"[":
            return _raw_list_decoder.decode(text)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return _unwrap(text, envelopes.EXPORT) if envelopes.is_export(text) else None


def _text(data: bytes) -> bytes:
    text = decompress(data)
    if text.startswith(_BOM):
        text = text[len(_BOM) :]
    if _first_byte(text) is None:
        raise FileRejected("empty file" if not text else "file holds only whitespace")
    return text


def _decode_text(text: bytes) -> DecodedFile:
    start = _first_byte(text)
    if start == b"{":
        return _decode_object_or_lines(text)
    if start == b"[":
        return _decode_array(text)
    if envelopes.is_export(text):
        return _decode_unwrapped(_unwrap(text, envelopes.EXPORT))
    raise FileRejected(f"not JSON: starts with {text[:16]!r}")


def _first_byte(text: bytes) -> bytes | None:
    stripped = text[:4096].lstrip(_WHITESPACE)
    if stripped:
        return stripped[:1]
    rest = text.lstrip(_WHITESPACE)
    return rest[:1] or None


def _decode_object_or_lines(text: bytes) -> DecodedFile:
    try:
        envelope = _envelope_decoder.decode(text)
    except msgspec.ValidationError:
        return _object_slow(text)
    except msgspec.DecodeError as exc:
        return _lines_or_reject(text, exc)
    return DecodedFile("events", "records", envelope.Records, text=text)


def _lines_or_reject(text: bytes, exc: msgspec.DecodeError) -> DecodedFile:
    """JSON lines look like a JSON document with trailing characters; anything else is not JSON.

    So do forwarders' concatenated envelopes: the first object tells them apart.
    """
    form = _forwarder_form(text, exc)
    if form is not None:
        return _decode_unwrapped(_unwrap(text, form))
    if "trailing characters" in str(exc) or b"\n{" in text:
        decoded = _decode_lines(text)
        if decoded.records or len(decoded.bad) < 2:
            return decoded
    raise FileRejected(f"not valid JSON ({exc})")


def _object_slow(text: bytes) -> DecodedFile:
    """A ``{...}`` document that is not a clean envelope: records needing care, a digest, JSON lines..."""
    try:
        top = _raw_map_decoder.decode(text)
    except msgspec.DecodeError as exc:
        return _lines_or_reject(text, exc)
    if "Records" in top:
        try:
            records = _raw_list_decoder.decode(top["Records"])
        except msgspec.ValidationError:
            raise FileRejected(
                f"'Records' is not a JSON array (found {_json_kind(top['Records'])})"
            ) from None
        return _records_slow(records, "records", text)
    if top.keys() >= _DIGEST_KEYS:
        return DecodedFile("digest", "digest")
    form = envelopes.form_of_object(top)
    if form is not None:  # one envelope object alone (a single subscription message or EventBridge event)
        unwrapped = envelopes.Unwrapped(form)
        envelopes.open_object(text, unwrapped, top)
        return _decode_unwrapped(_check_unwrapped(unwrapped))
    if "eventID" in top or "eventVersion" in top or "eventName" in top:
        return _records_slow([msgspec.Raw(text)], "object", text)
    keys = ", ".join(sorted(top)[:6]) or "none"
    raise FileRejected(f"JSON object without CloudTrail events (keys: {keys})")


def _decode_array(text: bytes) -> DecodedFile:
    try:
        records = _records_decoder.decode(text)
    except msgspec.ValidationError:
        try:
            raws = _raw_list_decoder.decode(text)
        except msgspec.ValidationError:  # pragma: no cover - a JSON array always decodes to list[Raw]
            raise FileRejected("JSON array that cannot be split into records") from None
        return _records_slow(raws, "array", text)
    except msgspec.DecodeError as exc:
        raise FileRejected(f"not valid JSON ({exc})") from None
    return DecodedFile("events", "array", records, text=text)


def _split_lines(text: bytes) -> list[bytes]:
    return [line for line in text.splitlines() if line.strip(_WHITESPACE)]


def _decode_lines(text: bytes) -> DecodedFile:
    lines = _split_lines(text)
    try:
        records = _records_decoder.decode(b"[" + b",".join(lines) + b"]")
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _records_slow([msgspec.Raw(line) for line in lines], "lines", text)
    return DecodedFile("events", "lines", records, text=text)


def _split_raw(text: bytes, form: str) -> list[Any]:
    if form == "records":
        return list(_raw_envelope_decoder.decode(text).Records)
    if form == "array":
        return _raw_list_decoder.decode(text)
    if form == "lines":
        return _split_lines(text)
    return [text]


def _records_slow(
    raws: list[Any], form: str, text: bytes, rejected: dict[int, str] | None = None
) -> DecodedFile:
    """Decode ``raws`` one by one; ``rejected`` names items already known bad (index -> reason)."""
    positions: list[int] = []
    out = DecodedFile("events", form, text=text, positions=positions)
    for index, raw in enumerate(raws):
        if rejected and index in rejected:
            out.bad.append(BadRecord(index, rejected[index], bytes(raw)))
            continue
        try:
            record, extras, from_timestamp = decode_record_slow(bytes(raw))
        except _RecordRejected as exc:
            out.bad.append(BadRecord(index, str(exc), bytes(raw)))
            continue
        if extras is not None:
            out.extras[len(out.records)] = extras
        out.time_from_timestamp += from_timestamp
        out.records.append(record)
        positions.append(index)
    if not out.bad:
        out.positions = None
    return out


# --- forwarders' envelopes (see trailsmith.ingestion.envelopes) ------------------------------------------


def _forwarder_form(text: bytes, exc: msgspec.DecodeError) -> str | None:
    """The envelope form of a text of several JSON values (``exc`` says where the first ends), or None."""
    end = envelopes.first_value_end(exc)
    return None if end is None else envelopes.form_of_first(text, end)


def _unwrap(text: bytes, form: str) -> envelopes.Unwrapped:
    return _check_unwrapped(envelopes.unwrap(text, form))


def _check_unwrapped(unwrapped: envelopes.Unwrapped) -> envelopes.Unwrapped:
    """A text whose every envelope is broken is not a file of events: it is quarantined whole."""
    if unwrapped.raws and len(unwrapped.rejected) == len(unwrapped.raws):
        first = unwrapped.rejected[0]
        more = len(unwrapped.rejected) - 1
        raise FileRejected(first + (f" (and {more} more broken envelope items)" if more else ""))
    return unwrapped


def _unwrapped_pieces(unwrapped: envelopes.Unwrapped, max_records: int) -> Iterator[tuple[int, DecodedFile]]:
    if not unwrapped.raws:  # only control messages
        yield 0, _decode_unwrapped(unwrapped)
    for start in range(0, len(unwrapped.raws), max_records):
        yield start, _decode_unwrapped(unwrapped, start, start + max_records)


def _decode_unwrapped(unwrapped: envelopes.Unwrapped, start: int = 0, end: int | None = None) -> DecodedFile:
    """Decode items ``start:end`` of an envelope's events; each record's context joins its extras."""
    raws = unwrapped.raws[start:end]
    rejected = {i - start: r for i, r in unwrapped.rejected.items() if start <= i < start + len(raws)}
    out: DecodedFile | None = None
    if not rejected:
        try:
            records = _records_decoder.decode(b"[" + b",".join(raws) + b"]")
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
        else:
            out = DecodedFile("events", unwrapped.form, records)
    if out is None:
        out = _records_slow(raws, unwrapped.form, b"", rejected)
    where = f"{envelopes.LABELS[unwrapped.form]}: {envelopes.EVENT_NAMES[unwrapped.form]}"
    for bad in out.bad:
        if bad.index not in rejected:  # the event itself is bad: say where it was found
            bad.reason = f"{where}: {bad.reason}"
    contexts = unwrapped.contexts
    for position, index in enumerate(out.positions if out.positions is not None else range(len(raws))):
        out.extras[position] = _with_context(out.extras.get(position), contexts[start + index])
    out.raws = raws
    out.control_messages = unwrapped.control_messages if start == 0 else 0
    return out


def _with_context(extras: bytes | None, context: bytes) -> bytes:
    """A record's extras (a JSON object, or None) with its envelope's context under ``"forwarder"``.

    The context wins over a key of that name in the record itself (which CloudTrail never writes): where an
    event came from is not left for its content to say.
    """
    if extras is None:
        return b'{"' + envelopes.CONTEXT_KEY.encode() + b'":' + context + b"}"
    fields = _raw_map_decoder.decode(extras)
    fields[envelopes.CONTEXT_KEY] = msgspec.Raw(context)
    return _encoder.encode(fields)


class _RecordRejected(Exception):
    pass


def decode_record_slow(raw: bytes) -> tuple[Record, bytes | None, int]:
    """Decode one record that the fast path refused.

    Returns the record, the JSON text of its unknown keys (or ``None``) and 1 if ``eventTime`` was taken
    from a log forwarder's ``@timestamp``. Raises ``_RecordRejected`` with a reason for a record that
    cannot be stored.
    """
    try:
        value = _any_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise _RecordRejected(f"not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _RecordRejected(f"record is a JSON {_py_kind(value)}, not an object")
    top = _raw_map_decoder.decode(raw)
    extras: dict[str, Any] = {}
    cleaned: dict[str, Any] = {}
    for key, raw_value in top.items():
        kind = _FIELD_KINDS.get(key)
        if kind is None:
            extras[key] = raw_value
        elif isinstance(kind, type):  # a nested struct: drop nulls, keep unknown keys aside
            cleaned_value = clean_struct(value[key], kind, key, extras)
            if cleaned_value is not None:
                cleaned[key] = cleaned_value
        elif kind == "resources" and isinstance(value[key], list):
            cleaned[key] = [
                clean_struct(item, Resource, f"{key}[{i}]", extras) if isinstance(item, dict) else item
                for i, item in enumerate(value[key])
            ]
        else:
            cleaned[key] = raw_value  # scalars and blobs go through verbatim
    from_timestamp = 0
    if "eventTime" not in cleaned and "@timestamp" in extras:
        cleaned["eventTime"] = extras["@timestamp"]
        from_timestamp = 1
    try:
        record = _record_decoder.decode(_encoder.encode(cleaned))
    except msgspec.ValidationError as exc:
        raise _RecordRejected(f"wrong type: {exc}") from None
    return record, (_encoder.encode(extras) if extras else None), from_timestamp


def clean_struct(value: Any, struct: type, path: str, extras: dict[str, Any]) -> Any:
    """``value`` with keys unknown to ``struct`` moved to ``extras`` under dotted paths; null -> None."""
    if not isinstance(value, dict):
        return value  # wrong type: let the typed decode name it
    nested = _NESTED[struct]
    out = {}
    for key, item in value.items():
        if key not in nested:
            extras[f"{path}.{key}"] = item
        elif item is None and isinstance(nested[key], type):
            continue
        elif isinstance(nested[key], type):
            out[key] = clean_struct(item, nested[key], f"{path}.{key}", extras)
        elif nested[key] == "raw":
            out[key] = msgspec.Raw(_encoder.encode(item))
        else:
            out[key] = item
    return out


def _field_kinds(struct: type) -> dict[str, Any]:
    """field name -> nested struct type, ``"resources"``, ``"raw"`` or ``"scalar"``."""
    kinds: dict[str, Any] = {}
    for name, default in struct_fields(struct):
        if isinstance(default, msgspec.Struct):
            kinds[name] = type(default)
        elif isinstance(default, msgspec.Raw):
            kinds[name] = "raw"
        elif name == "resources":
            kinds[name] = "resources"
        else:
            kinds[name] = "scalar"
    return kinds


_FIELD_KINDS = _field_kinds(Record)
_NESTED = {struct: _field_kinds(struct) for struct in (*MISSING, *LAZY.values(), Resource)}


def _json_kind(raw: msgspec.Raw) -> str:
    return _py_kind(_any_decoder.decode(raw))


def _py_kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )
