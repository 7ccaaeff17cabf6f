"""Tags reconstructed from the trail: ``resource_tags`` (each tag a resource carried, and when) and
``session_tags`` (the tags each assumed-role session was given), as tables, views and lookups.

**Resource tags.** The successful calls that create resources with tags or change tags
(:mod:`trailsmith.sql.tagging` reads each one) are replayed in ``(eventTime, eventID)`` order: a call sets
or removes keys (``TagResource`` adds or overwrites, ``UntagResource`` removes), ``PutBucketTagging``
replaces the bucket's whole set. One row per (resource, key, value) while it held: ``validFrom`` is the
call that set it, ``validUntil`` the call that removed or changed it, else null (still carried at the end of
the trail). Setting a key to the value it already has changes nothing, so a row spans repeated tagging.
Calls within the same second are ordered by eventID, which is arbitrary: CloudTrail records seconds.
Tags set outside the trail (before it starts, by a console action it does not record, by services whose
calls it leaves out) are not known; a resource without rows has no known tags, which is not "no tags".

**Session tags.** ``AssumeRole``, ``AssumeRoleWithSAML``, ``AssumeRoleWithWebIdentity`` and
``GetFederationToken`` requests carry ``tags`` and ``transitiveTagKeys``. Only what the request shows is
used: tags that a SAML assertion or a web identity token carried are not in the trail, nor are the
transitive tags a chained session inherits from the session that assumed it.

**Why Python, and why it costs nothing at open.** Tag changes come in a dozen request shapes and their
values are attacker-controlled strings; reading them is Python (:mod:`trailsmith.sql.tagging`, checked
value by value), replaying them is one ordered pass. On DuckDB the views call that Python through two
functions registered on the connection (``trailsmith_resource_tags`` over the list of candidate events,
``trailsmith_session_tags`` per event): a view is only a definition, so a connection whose queries do not
read these views never reads a tagging event. On Spark (whose read-only guard admits no Python function
in a plan) :mod:`trailsmith.spark.views` collects the same candidate events with the same SQL and builds
the same tables with the same functions, only for a query that names the views.

Measured on a 10-million-event warehouse (915 MB, 2 busy cores): creating the two views adds about 25 ms
to a connection's 0.5 s opening (binding each view over ``events``, as every derived view costs), below
the run-to-run noise of opening; building the tables when the connection opens would instead cost 3.7 s
every time (a scan that keeps 30 thousand candidate events, then their replay), which is what querying
``resource_tags`` costs now, once, when asked.

For ABAC (``policy --abac``): query the views on either engine and index the rows with
:meth:`TagTimeline.from_table` and :meth:`SessionTags.from_table`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import duckdb
import duckdb.func
import orjson
import pyarrow as pa

from trailsmith.sql import tagging
from trailsmith.sql.tagging import Clear, Set, Unset

_TIME = pa.timestamp("us", tz="UTC")

#: One row of ``resource_tags``.
RESOURCE_TAGS_SCHEMA = pa.schema(
    [
        ("resourceArn", pa.string()),
        ("tagKey", pa.string()),
        ("tagValue", pa.string()),
        ("validFrom", _TIME),
        ("validUntil", _TIME),
        ("eventID", pa.string()),
        ("eventName", pa.string()),
        ("accountId", pa.string()),
        ("region", pa.string()),
    ]
)

#: One row of ``session_tags``.
SESSION_TAGS_SCHEMA = pa.schema(
    [
        ("roleArn", pa.string()),
        ("sessionArn", pa.string()),
        ("accessKeyId", pa.string()),
        ("tagKey", pa.string()),
        ("tagValue", pa.string()),
        ("transitive", pa.bool_()),
        ("eventTime", _TIME),
        ("expiration", _TIME),
        ("eventID", pa.string()),
        ("eventName", pa.string()),
        ("accountId", pa.string()),
    ]
)

#: The columns of a candidate event, as both functions read them.
EVENT_COLUMNS = (
    "eventTime",
    "eventID",
    "eventSource",
    "eventName",
    "awsRegion",
    "recipientAccountId",
    "requestParameters",
    "responseElements",
)

#: IAM creates whose response gives the ARN (with its path) of a name: (response member, ARN type)
_IAM_CREATES = {
    "CreateRole": ("role", "role"),
    "CreateUser": ("user", "user"),
    "CreateInstanceProfile": ("instanceProfile", "instance-profile"),
}

SESSION_CALLS = ("AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetFederationToken")


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


#: The events :func:`resource_events_sql` keeps, as a condition (``policy --abac`` adds the principal).
TAGGING_CALLS = f"""errorCode IS NULL AND requestParameters IS NOT NULL
  AND (eventName IN ({_quoted(tagging.TAGGING_NAMES)})
       OR eventName LIKE 'TagResource%' OR eventName LIKE 'UntagResource%'
       OR (eventSource = 'iam.amazonaws.com' AND eventName IN ({_quoted(_IAM_CREATES)}))
       OR ((eventName IN ({_quoted(tagging.CREATE_NAMES)}) OR eventName LIKE 'CreateFunction%'
            OR (eventSource = 'ec2.amazonaws.com'
                AND (eventName LIKE 'Create%' OR eventName IN ({_quoted(tagging.EC2_CREATES)}))))
           AND lower(requestParameters) LIKE '%tag%'))"""


def resource_events_sql() -> str:
    """The successful calls that may change tags (DuckDB SQL that also runs on Spark, translated).

    A superset that :mod:`trailsmith.sql.tagging` sorts out: every tagging call, the IAM creates (whose
    ARNs give the path of a role tagged by name later) and the create calls whose request mentions a tag
    at all (most creates carry none: on a 10-million-event archive this keeps 30 thousand of 130
    thousand). The names are the module's constants, never user input.
    """
    return f"""
SELECT {", ".join(EVENT_COLUMNS)}
FROM events
WHERE {TAGGING_CALLS}
"""


def session_events_sql() -> str:
    """The successful session-issuing calls whose request names tags (same dialect rules)."""
    return f"""
SELECT {", ".join(EVENT_COLUMNS)}
FROM events
WHERE errorCode IS NULL AND eventSource = 'sts.amazonaws.com' AND eventName IN ({_quoted(SESSION_CALLS)})
  AND requestParameters LIKE '%"tags"%'
"""


# resource tags ---------------------------------------------------------------------------------------------


def resource_tags(events: pa.Table | Iterable[Mapping[str, Any]]) -> pa.Table:
    """The ``resource_tags`` rows of ``events`` (rows with :data:`EVENT_COLUMNS`), one pass in time order.

    >>> table = resource_tags([{
    ...     "eventTime": datetime(2024, 8, 1, tzinfo=timezone.utc), "eventID": "e1",
    ...     "eventSource": "s3.amazonaws.com", "eventName": "PutBucketTagging", "awsRegion": "eu-west-1",
    ...     "recipientAccountId": "123456789012", "responseElements": None,
    ...     "requestParameters": '{"bucketName": "b", "Tagging": {"TagSet": {"Tag": {"Key": "k", '
    ...     '"Value": "v"}}}}',
    ... }])
    >>> table.select(["resourceArn", "tagKey", "tagValue", "accountId"]).to_pylist()
    [{'resourceArn': 'arn:aws:s3:::b', 'tagKey': 'k', 'tagValue': 'v', 'accountId': '123456789012'}]
    """
    rows = events.to_pylist() if isinstance(events, pa.Table) else list(events)
    rows = [
        {**row, "eventTime": _utc(row["eventTime"])}
        for row in rows
        if isinstance(row, Mapping) and isinstance(row.get("eventTime"), datetime)
    ]
    rows.sort(key=lambda row: (row["eventTime"], str(row.get("eventID") or "")))
    names = _iam_names(rows)
    out: list[dict[str, Any]] = []
    #: per resource: key -> index of its open row in ``out``
    open_rows: dict[str, dict[str, int]] = {}
    for row in rows:
        changes = tagging.operations(
            row.get("eventSource"),
            row.get("eventName"),
            row.get("awsRegion"),
            row.get("recipientAccountId"),
            row.get("requestParameters"),
            row.get("responseElements"),
            names,
        )
        for arn, ops in changes:
            _apply(out, open_rows.setdefault(arn, {}), arn, ops, row)
    out.sort(key=lambda r: (r["resourceArn"], r["tagKey"], r["validFrom"], r["eventID"] or ""))
    return pa.Table.from_pylist(out, schema=RESOURCE_TAGS_SCHEMA)


def _apply(
    out: list[dict[str, Any]],
    current: dict[str, int],
    arn: str,
    ops: list[tagging.Op],
    event: Mapping[str, Any],
) -> None:
    """Apply one call's ``ops`` on ``arn``: close the rows of keys it removed or changed, open new ones."""
    before = {key: out[index]["tagValue"] for key, index in current.items()}
    after = dict(before)
    for op in ops:
        if isinstance(op, Set):
            after[op.key] = op.value
        elif isinstance(op, Unset):
            if op.value is None or after.get(op.key) == op.value:
                after.pop(op.key, None)
        elif isinstance(op, Clear):
            after.clear()
    when = event["eventTime"]
    for key, value in before.items():
        if after.get(key) != value:
            out[current.pop(key)]["validUntil"] = when
    for key, value in after.items():
        if key not in current:
            current[key] = len(out)
            out.append(_row(arn, key, value, event))


def _row(arn: str, key: str, value: str, event: Mapping[str, Any]) -> dict[str, Any]:
    parts = arn.split(":", 5)
    account = parts[4] if len(parts) > 4 and parts[4].isdigit() and len(parts[4]) == 12 else None
    return {
        "resourceArn": arn,
        "tagKey": key,
        "tagValue": value,
        "validFrom": event["eventTime"],
        "validUntil": None,
        "eventID": _string(event.get("eventID")),
        "eventName": _string(event.get("eventName")),
        "accountId": account or _string(event.get("recipientAccountId")),
        "region": (parts[3] if len(parts) > 3 and parts[3] else None) or _string(event.get("awsRegion")),
    }


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _iam_names(rows: list[Mapping[str, Any]]) -> dict[tuple[str, str, str], str]:
    """(account, kind, name) -> ARN of the IAM roles, users and instance profiles the trail saw created."""
    names: dict[tuple[str, str, str], str] = {}
    for row in rows:
        made = _IAM_CREATES.get(row.get("eventName"))  # type: ignore[arg-type]
        response = row.get("responseElements")
        if made is None or row.get("eventSource") != "iam.amazonaws.com" or not isinstance(response, str):
            continue
        try:
            body = orjson.loads(response)
        except orjson.JSONDecodeError:
            continue
        entity = body.get(made[0]) if isinstance(body, dict) else None
        arn = entity.get("arn") if isinstance(entity, dict) else None
        parts = arn.split(":", 5) if isinstance(arn, str) else []
        if len(parts) == 6 and parts[5].startswith(made[1] + "/"):
            names[(parts[4], made[1], parts[5].rsplit("/", 1)[-1])] = arn  # type: ignore[assignment]
    return names


# session tags ----------------------------------------------------------------------------------------------


def session_tags(events: pa.Table | Iterable[Mapping[str, Any]]) -> pa.Table:
    """The ``session_tags`` rows of ``events`` (rows with :data:`EVENT_COLUMNS`): one per tag per session.

    A tag entry that is not a string key with a string value within AWS's limits is skipped: session tags
    are fixed when the session is made, so a skipped entry only leaves that tag unknown.
    """
    rows = events.to_pylist() if isinstance(events, pa.Table) else list(events)
    out = [tag for row in rows if isinstance(row, Mapping) for tag in session_rows(row)]
    out.sort(key=lambda r: (r["eventTime"], r["eventID"] or "", r["tagKey"]))
    return pa.Table.from_pylist(out, schema=SESSION_TAGS_SCHEMA)


def session_rows(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The session tags one AssumeRole-like record gave; [] when it gave none or cannot be read."""
    params, response = _json(event.get("requestParameters")), _json(event.get("responseElements"))
    when = _utc(event["eventTime"]) if isinstance(event.get("eventTime"), datetime) else None
    if not isinstance(params, dict) or when is None or event.get("eventName") not in SESSION_CALLS:
        return []
    tags = params.get("tags")
    transitive_keys = params.get("transitiveTagKeys")
    transitive = (
        {k for k in transitive_keys if isinstance(k, str)} if isinstance(transitive_keys, list) else set()
    )
    response = response if isinstance(response, dict) else {}
    user = response.get("assumedRoleUser") or response.get("federatedUser")
    credentials = response.get("credentials")
    credentials = credentials if isinstance(credentials, dict) else {}
    common = {
        "roleArn": tagging.checked_arn(params.get("roleArn")),
        "sessionArn": tagging.checked_arn(user.get("arn")) if isinstance(user, dict) else None,
        "accessKeyId": _access_key(credentials.get("accessKeyId")),
        "eventTime": when,
        "expiration": _expiration(credentials.get("expiration")),
        "eventID": _string(event.get("eventID")),
        "eventName": event["eventName"],
        "accountId": _string(event.get("recipientAccountId")),
    }
    out = []
    for entry in tags if isinstance(tags, list) else []:
        key, value, present = tagging.tag_entry(entry, None)
        key, value = (
            tagging.checked_text(key, tagging.MAX_KEY),
            tagging.checked_text(value, tagging.MAX_VALUE),
        )
        if key and value is not None and present:
            out.append({**common, "tagKey": key, "tagValue": value, "transitive": key in transitive})
    return out


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _access_key(value: Any) -> str | None:
    if isinstance(value, str) and 16 <= len(value) <= 128 and value.isascii() and value.isalnum():
        return value
    return None


#: How CloudTrail writes ``credentials.expiration`` (``Aug 1, 2024, 11:45:22 AM``; older records without
#: the second comma; some in ISO 8601)
_EXPIRATION_FORMATS = (
    "%b %d, %Y, %I:%M:%S %p",
    "%b %d, %Y %I:%M:%S %p",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S.%fZ",
)


def _expiration(value: Any) -> datetime | None:
    """``credentials.expiration`` as a UTC time, or None when it is missing or in no known form.

    >>> _expiration("Aug 1, 2024, 11:45:22 AM")
    datetime.datetime(2024, 8, 1, 11, 45, 22, tzinfo=datetime.timezone.utc)
    """
    if not isinstance(value, str) or len(value) > 64:
        return None
    for form in _EXPIRATION_FORMATS:
        try:
            return datetime.strptime(value, form).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


# the DuckDB views ------------------------------------------------------------------------------------------

#: DuckDB types of :data:`EVENT_COLUMNS`: eventTime, then text
_EVENT_TYPES = ("TIMESTAMPTZ", *["VARCHAR"] * (len(EVENT_COLUMNS) - 1))
_EVENT_STRUCT = (
    "STRUCT(" + ", ".join(f"{c} {t}" for c, t in zip(EVENT_COLUMNS, _EVENT_TYPES, strict=True)) + ")"
)


def _struct_sql(schema: pa.Schema) -> str:
    kinds = {pa.string(): "VARCHAR", _TIME: "TIMESTAMPTZ", pa.bool_(): "BOOLEAN"}
    return "STRUCT(" + ", ".join(f"{f.name} {kinds[f.type]}" for f in schema) + ")"


def _resource_udf(events: pa.Array) -> pa.Array:
    """Per input row (a list of candidate events), the list of its ``resource_tags`` rows."""
    out_type = pa.list_(pa.struct(list(RESOURCE_TAGS_SCHEMA)))
    return pa.array(
        [None if batch is None else resource_tags(batch).to_pylist() for batch in events.to_pylist()],
        type=out_type,
    )


def _session_udf(
    time: pa.Array,
    event_id: pa.Array,
    source: pa.Array,
    name: pa.Array,
    region: pa.Array,
    account: pa.Array,
    request: pa.Array,
    response: pa.Array,
) -> pa.Array:
    """Per candidate event (its :data:`EVENT_COLUMNS`), the list of its ``session_tags`` rows."""
    out_type = pa.list_(pa.struct(list(SESSION_TAGS_SCHEMA)))
    columns = [time, event_id, source, name, region, account, request, response]
    table = pa.Table.from_arrays(columns, names=list(EVENT_COLUMNS))
    return pa.array([session_rows(row) for row in table.to_pylist()], type=out_type)


def _view(name: str, schema: pa.Schema, source: str) -> str:
    columns = ", ".join(f"t.tag.{field.name} AS {field.name}" for field in schema)
    return f"CREATE OR REPLACE VIEW {name} AS SELECT {columns} FROM ({source}) AS t"


def attach(connection: duckdb.DuckDBPyConnection) -> None:
    """Register the two functions and create ``resource_tags`` and ``session_tags`` on ``connection``.

    Only definitions: nothing is read until a query reads a view.
    """
    connection.create_function(
        "trailsmith_resource_tags",
        _resource_udf,
        [duckdb.sqltype(f"{_EVENT_STRUCT}[]")],
        duckdb.sqltype(f"{_struct_sql(RESOURCE_TAGS_SCHEMA)}[]"),
        type=duckdb.func.ARROW,
    )
    connection.create_function(
        "trailsmith_session_tags",
        _session_udf,
        [duckdb.sqltype(kind) for kind in _EVENT_TYPES],
        duckdb.sqltype(f"{_struct_sql(SESSION_TAGS_SCHEMA)}[]"),
        type=duckdb.func.ARROW,
        # by default DuckDB answers NULL for any NULL argument without calling: a session whose response
        # was not recorded still has the tags its request shows
        null_handling=duckdb.func.SPECIAL,
    )
    packed = ", ".join(f"{c} := c.{c}" for c in EVENT_COLUMNS)
    resources = (
        f"SELECT UNNEST(trailsmith_resource_tags(list(struct_pack({packed})))) AS tag "
        f"FROM ({resource_events_sql()}) AS c"
    )
    sessions = (
        f"SELECT UNNEST(trailsmith_session_tags({', '.join(f'c.{c}' for c in EVENT_COLUMNS)})) AS tag "
        f"FROM ({session_events_sql()}) AS c"
    )
    connection.execute(_view("resource_tags", RESOURCE_TAGS_SCHEMA, resources))
    connection.execute(_view("session_tags", SESSION_TAGS_SCHEMA, sessions))


# lookups for the policy generator ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Tag:
    """One tag a resource carried: its value, since when, and the call that set it."""

    value: str
    since: datetime
    event_id: str | None


@dataclass(frozen=True)
class _Span:
    start: datetime
    end: datetime | None
    key: str
    tag: Tag


class TagTimeline:
    """The tags of every resource over time, from ``resource_tags`` rows (either engine's).

    >>> from datetime import datetime as dt, timezone as tz
    >>> rows = pa.Table.from_pylist([
    ...     {"resourceArn": "arn:aws:s3:::b", "tagKey": "team", "tagValue": "red",
    ...      "validFrom": dt(2024, 8, 1, tzinfo=tz.utc), "validUntil": dt(2024, 8, 3, tzinfo=tz.utc),
    ...      "eventID": "e1", "eventName": "PutBucketTagging", "accountId": "1", "region": "eu-west-1"},
    ... ], schema=RESOURCE_TAGS_SCHEMA)
    >>> timeline = TagTimeline.from_table(rows)
    >>> timeline.at("arn:aws:s3:::b", dt(2024, 8, 2, tzinfo=tz.utc))["team"].value
    'red'
    >>> timeline.at("arn:aws:s3:::b", dt(2024, 8, 3, tzinfo=tz.utc)), timeline.known("arn:aws:s3:::other")
    ({}, False)
    """

    def __init__(self, spans: dict[str, list[_Span]]) -> None:
        self._spans = spans
        self._starts = {arn: [span.start for span in found] for arn, found in spans.items()}

    @classmethod
    def from_table(cls, table: pa.Table) -> TagTimeline:
        spans: dict[str, list[_Span]] = {}
        for row in table.select([f.name for f in RESOURCE_TAGS_SCHEMA]).to_pylist():
            tag = Tag(row["tagValue"], _utc(row["validFrom"]), row["eventID"])
            end = _utc(row["validUntil"]) if row["validUntil"] is not None else None
            spans.setdefault(row["resourceArn"], []).append(_Span(tag.since, end, row["tagKey"], tag))
        for found in spans.values():
            found.sort(key=lambda span: span.start)
        return cls(spans)

    def known(self, arn: str) -> bool:
        """Whether the trail shows any tagging of ``arn`` (else its tags are unknown, not absent)."""
        return arn in self._spans

    def at(self, arn: str, when: datetime) -> dict[str, Tag]:
        """The tags ``arn`` carried at ``when`` (a set at ``validFrom`` counts, one ended at ``when`` not)."""
        found = self._spans.get(arn, [])
        upto = bisect.bisect_right(self._starts.get(arn, []), when)
        return {span.key: span.tag for span in found[:upto] if span.end is None or when < span.end}

    def arns(self) -> list[str]:
        return sorted(self._spans)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class SessionTags:
    """Session tags by the access key id the session's calls carry (``userIdentity.accessKeyId``).

    >>> from datetime import datetime as dt, timezone as tz
    >>> rows = pa.Table.from_pylist([
    ...     {"roleArn": "arn:aws:iam::1:role/r", "sessionArn": None, "accessKeyId": "ASIAEXAMPLEEXAMPLE",
    ...      "tagKey": "team", "tagValue": "red", "transitive": True,
    ...      "eventTime": dt(2024, 8, 1, tzinfo=tz.utc), "expiration": None, "eventID": "e1",
    ...      "eventName": "AssumeRole", "accountId": "1"},
    ... ], schema=SESSION_TAGS_SCHEMA)
    >>> SessionTags.from_table(rows).tags("ASIAEXAMPLEEXAMPLE")
    {'team': 'red'}
    """

    by_key: Mapping[str, Mapping[str, str]]
    transitive: Mapping[str, frozenset[str]]

    @classmethod
    def from_table(cls, table: pa.Table) -> SessionTags:
        by_key: dict[str, dict[str, str]] = {}
        transitive: dict[str, set[str]] = {}
        for row in table.select(["accessKeyId", "tagKey", "tagValue", "transitive"]).to_pylist():
            if row["accessKeyId"] is None:
                continue
            by_key.setdefault(row["accessKeyId"], {})[row["tagKey"]] = row["tagValue"]
            if row["transitive"]:
                transitive.setdefault(row["accessKeyId"], set()).add(row["tagKey"])
        return cls(by_key, {key: frozenset(keys) for key, keys in transitive.items()})

    def tags(self, access_key_id: str) -> dict[str, str]:
        """The tags of the session that signed with ``access_key_id``; {} when none are known."""
        return dict(self.by_key.get(access_key_id, {}))
