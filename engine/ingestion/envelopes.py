"""The envelopes log forwarders wrap CloudTrail events in, recognised by content and opened.

Three ways CloudTrail reaches S3 besides the trail's own export, each with its own wrapping:

- ``cloudwatch-subscription``: a CloudWatch Logs subscription delivered through Firehose. Each object is
  ``{"messageType": "DATA_MESSAGE", "logGroup": ..., "logStream": ..., "logEvents": [{"id": ...,
  "timestamp": ..., "message": "<the event's JSON, as a string>"}, ...]}``; Firehose concatenates them with
  no separator (or one newline each), and CloudWatch's ``CONTROL_MESSAGE`` health checks come along.
- ``eventbridge``: an EventBridge rule delivered through Firehose: one object per event, ``{"version": "0",
  "id": ..., "detail-type": "AWS API Call via CloudTrail", ..., "detail": <the event>}``, concatenated or
  one per line. Every detail-type ending in ``via CloudTrail`` carries a CloudTrail event.
- ``cloudwatch-export``: a CloudWatch Logs export task: text lines ``<ISO 8601 timestamp> <event JSON>``.

:func:`unwrap` turns such a text into the events' own JSON texts, in order, each with what the envelope knew
that the event does not (its *context*, kept in the record's ``extraFields`` under ``"forwarder"``):

- ``cloudwatch-subscription``: ``{"form", "owner", "logGroup", "logStream", "id", "timestamp"}`` (``id``
  and ``timestamp`` are the log event's: when CloudWatch received it);
- ``eventbridge``: ``{"form", "id"}`` (the EventBridge event's id);
- ``cloudwatch-export``: ``{"form", "timestamp"}`` (the line's timestamp, as written).

A piece of envelope that cannot be opened (a ``logEvents`` that is not a list, an object of another
form ...) stays in the sequence as a rejected item with a reason naming the form, so that the items around
it survive and every item keeps its position. This module only opens envelopes; decoding the events is
:mod:`trailsmith.ingestion.decode`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

SUBSCRIPTION, EVENTBRIDGE, EXPORT = "cloudwatch-subscription", "eventbridge", "cloudwatch-export"

#: How quarantine reasons name each form.
LABELS = {
    SUBSCRIPTION: "CloudWatch Logs subscription envelope",
    EVENTBRIDGE: "EventBridge envelope",
    EXPORT: "CloudWatch Logs export",
}

#: What each form calls the event it carries, for the reason a bad one is quarantined with.
EVENT_NAMES = {SUBSCRIPTION: "log event message", EVENTBRIDGE: "detail", EXPORT: "event after the timestamp"}

#: The key of a record's ``extraFields`` that holds its envelope's context.
CONTEXT_KEY = "forwarder"

# "2024-08-01T12:00:00.000Z {...": an export line; the message may be anything, so it is not matched here
_EXPORT_LINE = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) ")
_WHITESPACE = b" \t\r\n"
# msgspec names where the first value of a text ends: "trailing characters (byte N)", N counted from 1
_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")

# what a DATA_MESSAGE says of all its log events, kept in each one's context
_SHARED = ("owner", "logGroup", "logStream")

_raw_decoder = msgspec.json.Decoder(msgspec.Raw)
_raw_map_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_any_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


@dataclass
class Unwrapped:
    """The events of one envelope text, in order; ``rejected`` holds the items that are not events."""

    form: str
    #: each item's text: the event's JSON, or for a rejected item the envelope text it came from
    raws: list[bytes] = field(default_factory=list)
    #: each item's context (a JSON object), ``b""`` for a rejected item
    contexts: list[bytes] = field(default_factory=list)
    #: item index -> why it is not an event
    rejected: dict[int, str] = field(default_factory=dict)
    #: CloudWatch ``CONTROL_MESSAGE`` objects (health checks, no events): skipped, counted
    control_messages: int = 0

    def add(self, raw: bytes, context: bytes) -> None:
        self.raws.append(raw)
        self.contexts.append(context)

    def reject(self, raw: bytes, reason: str) -> None:
        self.rejected[len(self.raws)] = f"{LABELS[self.form]}: {reason}"
        self.add(raw, b"")


def form_of_object(top: dict[str, msgspec.Raw]) -> str | None:
    """The envelope form of a JSON object given by its keys, or None if it is not an envelope.

    >>> form_of_object(_raw_map_decoder.decode(b'{"messageType": "CONTROL_MESSAGE", "logEvents": []}'))
    'cloudwatch-subscription'
    >>> form_of_object(_raw_map_decoder.decode(b'{"eventID": "e1"}')) is None
    True
    """
    if "messageType" in top and ("logEvents" in top or "logGroup" in top):
        return SUBSCRIPTION
    if "detail-type" in top and "detail" in top:
        return EVENTBRIDGE
    return None


def form_of_first(text: bytes, end: int) -> str | None:
    """The envelope form of a text of several JSON values whose first one ends at ``end``."""
    try:
        top = _raw_map_decoder.decode(memoryview(text)[:end])
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return form_of_object(top)


def form_of_values(text: bytes) -> str | None:
    """The envelope form of a text of several JSON values, or None (one value, or not an envelope's)."""
    try:
        _raw_decoder.decode(text)
    except msgspec.DecodeError as exc:
        end = first_value_end(exc)
        return None if end is None else form_of_first(text, end)
    return None


def first_value_end(error: msgspec.DecodeError) -> int | None:
    """Where the first JSON value of a text ends, from msgspec's complaint about what follows it.

    >>> try:
    ...     _raw_decoder.decode(b'{"a": 1}{"b": 2}')
    ... except msgspec.DecodeError as exc:
    ...     first_value_end(exc)
    8
    """
    match = _TRAILING.search(str(error))
    return int(match[1]) - 1 if match else None


def is_export(text: bytes) -> bool:
    """Whether ``text`` starts like a CloudWatch Logs export (a timestamp, a space, a JSON object).

    >>> is_export(b'2024-08-01T12:00:00.000Z {"eventVersion": "1.09"}')
    True
    """
    head = text[:256].lstrip(_WHITESPACE)
    match = _EXPORT_LINE.match(head)
    return match is not None and head[match.end() : match.end() + 1] == b"{"


def unwrap(text: bytes, form: str) -> Unwrapped:
    """The events of ``text``, an envelope text of ``form`` (see the module docstring)."""
    out = Unwrapped(form)
    if form == EXPORT:
        for line in text.splitlines():
            if line.strip(_WHITESPACE):
                _export_line(line, out)
        return out
    for item in _objects(text):
        if isinstance(item, _Broken):
            out.reject(item.raw, f"not valid JSON ({item.reason})")
        else:
            open_object(item, out)
    return out


def open_object(raw: bytes, out: Unwrapped, top: dict[str, msgspec.Raw] | None = None) -> None:
    """Add the events of one envelope object (its text, and its keys if already decoded) to ``out``."""
    if top is None:
        try:
            top = _raw_map_decoder.decode(raw)
        except msgspec.ValidationError:
            out.reject(raw, f"a JSON {_kind(_any_decoder.decode(raw))}, not an object")
            return
    if form_of_object(top) != out.form:
        keys = ", ".join(sorted(top)[:6]) or "none"
        out.reject(raw, f"an object of another form among its objects (keys: {keys})")
    elif out.form == SUBSCRIPTION:
        _subscription(raw, top, out)
    else:
        _eventbridge(raw, top, out)


def _subscription(raw: bytes, top: dict[str, msgspec.Raw], out: Unwrapped) -> None:
    kind = _any_decoder.decode(top["messageType"])
    if kind == "CONTROL_MESSAGE":
        out.control_messages += 1
        return
    if kind != "DATA_MESSAGE":
        out.reject(raw, f"messageType is {kind!r}, not DATA_MESSAGE or CONTROL_MESSAGE")
        return
    events = _any_decoder.decode(top["logEvents"]) if "logEvents" in top else None
    if not isinstance(events, list):
        out.reject(raw, "logEvents is not a list" if events is not None else "no logEvents")
        return
    shared: dict[str, Any] = {key: _any_decoder.decode(top[key]) for key in _SHARED if key in top}
    for event in events:
        message = event.get("message") if isinstance(event, dict) else None
        if not isinstance(message, str):
            what = "has no message string" if isinstance(event, dict) else "is not an object"
            out.reject(_encoder.encode(event), f"a log event {what}")
            continue
        context: dict[str, Any] = {"form": SUBSCRIPTION, **shared}
        context.update(id=event.get("id"), timestamp=event.get("timestamp"))  # when CloudWatch received it
        out.add(message.encode(), _encoder.encode(context))


def _eventbridge(raw: bytes, top: dict[str, msgspec.Raw], out: Unwrapped) -> None:
    detail_type = _any_decoder.decode(top["detail-type"])
    if not isinstance(detail_type, str) or not detail_type.endswith("via CloudTrail"):
        out.reject(raw, f"detail-type {detail_type!r} is not a CloudTrail event ('... via CloudTrail')")
        return
    detail = bytes(top["detail"])
    if not detail.startswith(b"{"):
        out.reject(raw, f"detail is a JSON {_kind(_any_decoder.decode(detail))}, not an object")
        return
    envelope_id = _any_decoder.decode(top["id"]) if "id" in top else None
    out.add(detail, _encoder.encode({"form": EVENTBRIDGE, "id": envelope_id}))


def _export_line(line: bytes, out: Unwrapped) -> None:
    match = _EXPORT_LINE.match(line)
    if match is None:
        out.reject(line, "line does not start with a timestamp and a space")
        return
    timestamp = match[1].decode()
    out.add(line[match.end() :], _encoder.encode({"form": EXPORT, "timestamp": timestamp}))


@dataclass(frozen=True)
class _Broken:
    """Text that is not valid JSON where an envelope object was expected."""

    raw: bytes
    reason: str


def _objects(text: bytes) -> list[bytes | _Broken]:
    """The JSON values of a text of values concatenated with or without whitespace between.

    A value that is not valid JSON costs only its own line: the rest of the text is read line by line.
    """
    values, rest, error = _split_values(text)
    if error is None:
        return list(values)
    out: list[bytes | _Broken] = list(values)
    for line in rest.splitlines():
        if line.strip(_WHITESPACE):
            values, broken, error = _split_values(line)
            out.extend(values)
            if error is not None:
                out.append(_Broken(broken, error))
    return out


def _split_values(text: bytes) -> tuple[list[bytes], bytes, str | None]:
    """The values of ``text`` up to the first invalid one; the text from there and its error (or None).

    msgspec decodes the first value of a slice and stops at what follows it, naming its offset: each value
    is parsed once (into ``Raw``, building nothing) and the text is never copied but value by value.
    """
    values: list[bytes] = []
    view = memoryview(text)
    start = 0
    while True:
        try:
            _raw_decoder.decode(view[start:])
        except msgspec.DecodeError as exc:
            end = first_value_end(exc)
            if end is None:
                return values, text[start:], str(exc)
            values.append(text[start : start + end])
            start += end
        else:
            values.append(text[start:])
            return values, b"", None


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )
