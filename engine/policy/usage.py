"""The one pass over the events: a SQL aggregation of what each principal called, on what, how often.

Everything row-by-row happens in the database. The query groups the ``events`` view by principal,
account, region, API call, event type, authorisation outcome, caller (``invokedBy``) and the few request
fields that name resources (which fields, per service, is declared in :mod:`trailsmith.policy.extract`),
and returns one row per group with counts, first and last time, and the smallest and largest event id as
samples. A warehouse
of ten million events comes back as some thousands of rows; only those reach Python.

The SQL stays portable (``sqlglot`` turns it into Spark SQL): ``CASE`` instead of ``IF``, JSON paths as
literals, no lambdas, no ``SELECT *``, grouping by ordinal, values bound as parameters. DuckDB gets one
change: the request fields of a row come from one multi-path JSON extraction instead of one per field.
Filtering on ``eventDate`` prunes whole partitions before any file is opened.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import duckdb
import pyarrow as pa

from trailsmith.actions.mapping import event_host
from trailsmith.policy.extract.registry import fills_in, request_paths, specs
from trailsmith.policy.model import PolicyError
from trailsmith.policy.passrole import RULES as PASSROLE_RULES
from trailsmith.sql.authz import outcome_sql
from trailsmith.sql.tags import EVENT_COLUMNS, TAGGING_CALLS

_SUFFIX = ".amazonaws.com"


@dataclass(frozen=True)
class Window:
    """A time window: ``since`` inclusive, ``until`` exclusive, either open."""

    since: datetime | None = None
    until: datetime | None = None

    def partition_bounds(self) -> tuple[date | None, date | None]:
        """The first and last ``eventDate`` partitions that can hold events of the window."""
        first = self.since.astimezone(timezone.utc).date() if self.since else None
        last = None
        if self.until:
            end = self.until.astimezone(timezone.utc)
            # a window that ends at the first instant Python knows holds nothing: its first day is empty
            last = (end - timedelta(microseconds=1)).date() if end > _FIRST_INSTANT else end.date()
        return first, last


_FIRST_INSTANT = datetime.min.replace(tzinfo=timezone.utc)
_RELATIVE = re.compile(r"^(\d+)([dh])$")


def parse_time(
    text: str | date | datetime | None, *, end: bool = False, now: datetime | None = None
) -> datetime | None:
    """``--since``/``--until`` values: ``2024-08-01``, ``2024-08-01T12:00:00Z``, or ``7d``/``12h`` ago.

    A bare date means its whole day: as ``until`` (``end``) it ends at the next midnight, so
    ``--since 2024-08-01 --until 2024-08-01`` is that one day. Times without an offset are UTC.

    >>> parse_time("2024-08-01", end=True)
    datetime.datetime(2024, 8, 2, 0, 0, tzinfo=datetime.timezone.utc)
    """
    if text is None or text == "":
        return None
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=timezone.utc)
    if isinstance(text, date):
        start = datetime(text.year, text.month, text.day, tzinfo=timezone.utc)
        return start + timedelta(days=1) if end else start
    relative = _RELATIVE.match(text.strip())
    try:
        if relative:
            amount = int(relative.group(1))
            span = timedelta(days=amount) if relative.group(2) == "d" else timedelta(hours=amount)
            return (now or datetime.now(timezone.utc)) - span
        if len(text.strip()) == 10:
            return parse_time(date.fromisoformat(text.strip()), end=end)
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        parsed.astimezone(timezone.utc)  # in range in UTC too, or OverflowError
        return parse_time(parsed)
    except (ValueError, OverflowError):  # OverflowError: before year 1 or after 9999 (99999999d, 9999-12-31)
        raise PolicyError(
            f"{text!r} is not a time",
            hint="Give a date (2024-08-01), a UTC time (2024-08-01T12:00:00Z) or 7d / 12h",
        ) from None


#: Services that usually make up most events (data events): their branches come first in every ``CASE``,
#: so most rows stop at the first comparison.
_BUSIEST = ("s3", "dynamodb", "kms", "lambda", "sts", "ec2", "sqs", "sns", "logs", "ssm", "secretsmanager")


@dataclass(frozen=True)
class Layout:
    """Which request field each ``f<i>`` column holds, per eventSource host, and which calls carry it."""

    #: host -> ((dotted path, event name prefixes or () for all calls), ...), busiest hosts first
    paths: dict[str, tuple[tuple[str, tuple[str, ...]], ...]]
    #: hosts whose trailing per-operation fields (the resolver's, filling in for an extractor) are
    #: extracted only for the calls that carry them; other hosts' rows get every field of their host
    split: frozenset[str] = frozenset()

    @property
    def slots(self) -> int:
        return max((len(p) for p in self.paths.values()), default=0)

    def fields(self, host: str, row: dict[str, object]) -> dict[str, str]:
        """The request fields of a usage row, from its ``fields`` list (packed) or its ``f<i>`` columns."""
        out: dict[str, str] = {}
        packed = "fields" in row
        listed = row.get("fields") or []
        name = str(row.get("eventName") or "")
        for index, (path, prefixes) in enumerate(self.paths.get(host, ())):
            if prefixes and not name.startswith(prefixes):
                continue  # the packed form reads every field of the host; the calls that carry it decide
            if packed:
                value = listed[index] if isinstance(listed, list) and index < len(listed) else None
            else:
                value = row.get(f"f{index}")
            if value is not None:
                out[path] = str(value)
        return out


@functools.cache
def layout(generated: tuple[str, ...] = ()) -> Layout:
    """The fields of the hand-written extractors and the PassRole rules, and those the resolver reads for the
    ``generated`` hosts (all of a host's for a service without an extractor, where it fills in for one with
    one: :mod:`trailsmith.policy.extract.layered`)."""
    every = set(specs()) | set(PASSROLE_RULES) | set(generated)
    hosts = sorted(every, key=lambda h: (h not in _BUSIEST, _rank(h), h))
    paths = {host: request_paths(host, resolver=host in generated) for host in hosts}
    return Layout(
        {host: found for host, found in paths.items() if found}, frozenset(generated) & frozenset(specs())
    )


def generated_hosts(calls: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Of a warehouse's (eventSource, eventName) pairs, the hosts whose request fields the resolver reads
    (sorted): a service without a hand-written extractor when it has calls, one with an extractor only when
    it has calls of an operation the resolver fills in for. Only those are added to the SQL, so that its
    ``CASE`` does not grow with every service botocore knows, and the busiest services cost nothing more
    unless their calls need it.

    >>> generated_hosts([("s3.amazonaws.com", "GetObject"), ("cloudfront.amazonaws.com", "GetDistribution"),
    ...                  ("lambda.amazonaws.com", "Invoke20150331"), ("signin.amazonaws.com", "Login")])
    ('cloudfront',)
    >>> generated_hosts([("lambda.amazonaws.com", "GetLayerVersion20181031")])
    ('lambda',)
    """
    hosts = {
        event_host(source) for source, name in calls if source and fills_in(event_host(source), name or "")
    }
    return tuple(sorted(h for h in hosts if h))


def fields(host: str, row: dict[str, object]) -> dict[str, str]:
    """The request fields of a usage row of ``host`` (the paths of a host are the same in every layout).

    The resolver's fields come after the others, and only a row that holds one needs their positions:
    knowing them means probing every operation of a service with an extractor, which the rows of the
    busiest services, pulled without them, need not pay for.
    """
    plain = _host_layout(host, False)
    known = len(plain.paths.get(host, ()))
    if "fields" in row:
        listed = row.get("fields")
        beyond = isinstance(listed, list) and any(v is not None for v in listed[known:])
    else:
        beyond = any(
            value is not None and name[:1] == "f" and name[1:].isdigit() and int(name[1:]) >= known
            for name, value in row.items()
        )
    return (_host_layout(host, True) if beyond else plain).fields(host, row)


@functools.lru_cache(maxsize=1024)
def _host_layout(host: str, resolver: bool) -> Layout:
    return Layout({host: request_paths(host, resolver=resolver)})


def _rank(host: str) -> int:
    return _BUSIEST.index(host) if host in _BUSIEST else 0


def _json_path(path: str) -> str:
    """A JSON path literal; members with characters beyond letters and digits are quoted."""
    parts = []
    for member in path.split("."):
        parts.append(member if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", member) else '"' + member + '"')
    return "'$." + ".".join(parts) + "'"


def _source(host: str) -> str:
    return "'" + host + _SUFFIX + "'"


def _slot(index: int, shape: Layout) -> str:
    whens = []
    for host, paths in shape.paths.items():
        if len(paths) <= index:
            continue
        path, prefixes = paths[index]
        condition = f"eventSource = {_source(host)}"
        if prefixes:
            condition += " AND (" + " OR ".join(f"eventName LIKE '{p}%'" for p in prefixes) + ")"
        whens.append(f"WHEN {condition} THEN json_extract_string(requestParameters, {_json_path(path)})")
    return f"CASE {' '.join(whens)} END AS f{index}"


def _packed(shape: Layout) -> str:
    """All request fields of a row's service as one list: each row's JSON is parsed once, whatever the
    number of fields, and the grouping has one column for them (DuckDB; Spark gets the slots).

    A host's trailing fields that only some calls carry (the resolver's, where it fills in for an
    extractor) are extracted for those calls only: the list of other calls stops before them.
    """
    whens = []
    for host, paths in shape.paths.items():
        always = len(paths)
        while host in shape.split and always and paths[always - 1][1]:
            always -= 1
        extract = "json_extract_string(requestParameters, [{}])"
        if always < len(paths):
            names = sorted({name for _, prefixes in paths[always:] for name in prefixes})
            if not all(re.fullmatch(r"[A-Za-z0-9_]+", name) for name in names):
                raise ValueError(f"event names of {host} that are not plain words: {names}")
            listed = ", ".join(_json_path(path) for path, _ in paths)
            whens.append(
                f"WHEN eventSource = {_source(host)} AND regexp_matches(eventName, '^(?:{'|'.join(names)})') "
                f"THEN {extract.format(listed)}"
            )
        if always:
            listed = ", ".join(_json_path(path) for path, _ in paths[:always])
            whens.append(f"WHEN eventSource = {_source(host)} THEN {extract.format(listed)}")
    return f"CASE {' '.join(whens)} END AS fields"


def _resources_column() -> str:
    """``resources`` where an extractor can use it; null elsewhere, so it costs nothing to group."""
    never = [h for h, s in sorted(specs().items()) if s.resources is False]
    some = [(h, s.resources) for h, s in sorted(specs().items()) if isinstance(s.resources, frozenset)]
    conditions = []
    if never:
        conditions.append(f"WHEN eventSource IN ({', '.join(_source(h) for h in never)}) THEN NULL")
    for host, names in some:
        listed = ", ".join("'" + n + "'" for n in sorted(names))
        conditions.append(f"WHEN eventSource = {_source(host)} AND eventName NOT IN ({listed}) THEN NULL")
    return f"CASE {' '.join(conditions)} ELSE resources END AS resources" if conditions else "resources"


def _ids_column() -> str:
    """The ids each service's ``id_pattern`` finds in its requests; null for services without one."""
    whens = [
        f"WHEN eventSource = {_source(host)} "
        f"THEN regexp_extract_all(requestParameters, '{spec.id_pattern.replace(chr(39), chr(39) * 2)}', 1)"
        for host, spec in sorted(specs().items())
        if spec.id_pattern
    ]
    return f"CASE {' '.join(whens)} END AS scannedIds" if whens else "CAST(NULL AS VARCHAR[]) AS scannedIds"


#: Request context the trail records that the aggregation groups by only when asked (``Filters.context``):
#: ``trailsmith check`` evaluates policy conditions on them, ``policy --conditions`` proposes conditions from
#: them (:mod:`trailsmith.policy.conditions`). Name -> SQL expression, both engines' dialect.
CONTEXT_COLUMNS: dict[str, str] = {
    "sourceIPAddress": "sourceIPAddress",
    "vpcEndpointId": "vpcEndpointId",
    "mfaAuthenticated": "userIdentity.sessionContext.attributes.mfaAuthenticated",
    "userName": "userIdentity.userName",
    "principalId": "userIdentity.principalId",
    # an IAM user's address only (``aws:SourceIp`` is proposed for users): roles' many addresses would
    # multiply the groups for nothing
    "userSourceIPAddress": "CASE WHEN principalArn LIKE '%:user/%' THEN sourceIPAddress END",
    # the prefix a listing asked for: ``s3:prefix`` (``policy --conditions``); null for every other call
    "s3Prefix": "CASE WHEN eventSource = 's3.amazonaws.com' AND eventName IN "
    "('ListObjects', 'ListObjectsV2', 'ListObjectVersions') "
    "THEN json_extract_string(requestParameters, '$.prefix') END",
}


@dataclass(frozen=True)
class Filters:
    """Which events to aggregate."""

    principals: tuple[str, ...] = ()
    window: Window = Window()
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    #: hosts in the warehouse whose request fields the resolver reads (:func:`generated_hosts`): those
    #: fields are pulled too; the hand-written extractors' always are
    generated: tuple[str, ...] = ()
    #: names of :data:`CONTEXT_COLUMNS` to group by too (each makes more, smaller groups)
    context: tuple[str, ...] = ()


def usage_sql(filters: Filters, *, packed: bool = True) -> tuple[str, dict[str, object]]:
    """The aggregation as SQL text and its parameters, in DuckDB's dialect.

    ``packed``: each row's request fields as one list column ``fields`` (DuckDB: one JSON parse per row).
    Without it, one column ``f<i>`` per field slot, in the portable subset that sqlglot turns into Spark SQL.
    """
    shape = layout(filters.generated)
    slots = [_packed(shape)] if packed else [_slot(i, shape) for i in range(shape.slots)]
    keys = [
        "principalArn",
        "recipientAccountId AS accountId",
        "awsRegion",
        "eventSource",
        "eventName",
        "eventType",
        f"{outcome_sql('errorCode')} AS outcome",
        "userIdentity.invokedBy AS invokedBy",
        *slots,
        _ids_column(),
        _resources_column(),
        *(f"{CONTEXT_COLUMNS[name]} AS {name}" for name in filters.context),
    ]
    where, params = _where(filters)
    ordinals = ", ".join(str(i) for i in range(1, len(keys) + 1))
    sql = (
        "SELECT\n    " + ",\n    ".join(keys) + ",\n"
        "    count(*) AS events,\n    min(eventTime) AS firstSeen,\n    max(eventTime) AS lastSeen,\n"
        "    min(eventID) AS firstEventId,\n    max(eventID) AS lastEventId\n"
        "FROM events\n"
        "WHERE " + "\n  AND ".join(where) + "\n"
        f"GROUP BY {ordinals}"
    )
    return sql, params


def _where(filters: Filters) -> tuple[list[str], dict[str, object]]:
    where = ["principalArn IS NOT NULL"]
    params: dict[str, object] = {}

    def listed(column: str, name: str, values: Sequence[str]) -> None:
        names = [f"${name}_{i}" for i in range(len(values))]
        where.append(f"{column} IN ({', '.join(names)})")
        params.update({f"{name}_{i}": v for i, v in enumerate(values)})

    if filters.principals:
        listed("principalArn", "principal", filters.principals)
    first, last = filters.window.partition_bounds()
    if filters.window.since is not None:
        where.append("eventDate >= CAST($first_day AS DATE)")
        where.append("eventTime >= CAST($since AS TIMESTAMP WITH TIME ZONE)")
        params.update(first_day=first, since=filters.window.since)
    if filters.window.until is not None:
        where.append("eventDate <= CAST($last_day AS DATE)")
        where.append("eventTime < CAST($until AS TIMESTAMP WITH TIME ZONE)")
        params.update(last_day=last, until=filters.window.until)
    if filters.accounts:
        listed("userIdentity.accountId", "account", filters.accounts)
    if filters.regions:
        listed("awsRegion", "region", filters.regions)
    return where, params


def requested_tags_sql(filters: Filters) -> tuple[str, dict[str, object]]:
    """The filtered principals' calls that may set tags (``policy --abac``), with the columns
    :func:`trailsmith.policy.abac.requested_calls` reads; in the portable subset, like :func:`usage_sql`."""
    where, params = _where(filters)
    columns = ", ".join(("principalArn", *EVENT_COLUMNS))
    sql = f"SELECT {columns}\nFROM events\nWHERE " + " AND ".join([*where, f"({TAGGING_CALLS})"])
    return sql, params


def access_keys_sql(filters: Filters) -> tuple[str, dict[str, object]]:
    """The (principal, access key id) pairs of the filtered calls (``policy --abac``: which sessions, and so
    which session tags, the calls carried); portable like :func:`usage_sql`."""
    where, params = _where(filters)
    sql = (
        "SELECT principalArn, userIdentity.accessKeyId AS accessKeyId\nFROM events\nWHERE "
        + " AND ".join(where)
        + "\nGROUP BY principalArn, userIdentity.accessKeyId"
    )
    return sql, params


def aggregate(connection: duckdb.DuckDBPyConnection, filters: Filters) -> pa.Table:
    """Run the aggregation; one row per group, sorted so the result never depends on file order."""
    sql, params = usage_sql(filters)
    try:
        table = connection.sql(sql, params=params).to_arrow_table()
    except duckdb.Error as exc:
        from trailsmith.errors import QueryError

        raise QueryError(f"usage aggregation failed: {str(exc).splitlines()[0]}") from None
    return table


#: Every API call the warehouse holds, once (which services' request fields to read): both engines' SQL.
EVENT_CALLS_SQL = (
    "SELECT DISTINCT eventSource, eventName FROM events WHERE eventSource IS NOT NULL "
    "ORDER BY eventSource, eventName"
)


def event_calls(connection: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Every (eventSource, eventName) in the warehouse, sorted."""
    return [(r[0], r[1]) for r in connection.sql(EVENT_CALLS_SQL).fetchall()]


def known_principals(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Every policy holder ARN in the warehouse (any time): they give roles and users their paths."""
    rows = connection.sql(
        "SELECT DISTINCT principalArn FROM events WHERE principalArn IS NOT NULL ORDER BY principalArn"
    ).fetchall()
    return [r[0] for r in rows]


def instance_profile_roles(connection: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[str, ...]]:
    """(account, instance profile name) -> role names, from successful ``iam:AddRoleToInstanceProfile``."""
    rows = connection.sql(
        "SELECT recipientAccountId, "
        "json_extract_string(requestParameters, '$.instanceProfileName') AS profile, "
        "json_extract_string(requestParameters, '$.roleName') AS role "
        "FROM events WHERE eventSource = 'iam.amazonaws.com' AND eventName = 'AddRoleToInstanceProfile' "
        "AND errorCode IS NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ).fetchall()
    out: dict[tuple[str, str], list[str]] = {}
    for account, profile, role in rows:
        if account and profile and role:
            out.setdefault((account, profile), []).append(role)
    return {k: tuple(v) for k, v in out.items()}
