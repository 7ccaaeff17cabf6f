"""What the report shows, gathered from the warehouse: the same SQL and engine code as the CLI.

One DuckDB connection answers the archive's questions (over ``events``, ``quarantine`` and ``sources``),
the principals' in one pass over the ``calls`` view (where ``outcome`` says which calls were denied, as
for every command: calls per operation, per day and per recipient account, as grouping sets), and runs the
saved queries ``cross_account`` and ``passed_roles``. The policy generator runs once for every detailed
principal together, ``unused`` once when an IAM export is given, and ``check`` once when committed policies
are (their drift: the calls they would deny, what they grant that nobody used).

Only the ``detailed`` most active principals get a section of their own; the table lists every principal
(up to :data:`MAX_TABLE_ROWS`), so the page stays small on any archive.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import duckdb

from trailsmith.check.findings import PrincipalCheck
from trailsmith.check.run import check
from trailsmith.check.sources import load_sources
from trailsmith.iam.export import AuthorizationDetails
from trailsmith.iam.unused import UnusedReport, analyze, window_of
from trailsmith.policy.generator import generate
from trailsmith.policy.model import PrincipalPolicy
from trailsmith.policy.usage import Window
from trailsmith.sql import saved
from trailsmith.sql.db import close, connect, execute

#: Principals with a section of their own, most active first, unless the caller says otherwise.
DEFAULT_DETAILED = 150
#: Rows of the principals table; the rest are counted, not listed.
MAX_TABLE_ROWS = 5000
#: Rows of each list inside a principal's section (API calls, denied calls, unused actions).
MAX_LIST_ROWS = 50
#: Rows of the cross-account and PassRole tables.
MAX_ACCESS_ROWS = 500


@dataclass(frozen=True)
class Archive:
    """The warehouse as a whole, in the window."""

    events: int
    files: int
    accounts: int
    regions: int
    first: datetime | None
    last: datetime | None
    quarantined: int
    sources: Mapping[str, int]


@dataclass(frozen=True)
class PrincipalRow:
    """One line of the principals table."""

    arn: str
    calls: int
    services: int
    denied: int
    first_seen: datetime
    last_seen: datetime
    #: share of the granted actions unused in the window; None without an export (or not in it)
    unused_share: float | None = None
    #: findings of ``check`` against the committed policies (denied call patterns and unused grants);
    #: None without them, or when no committed policy is this principal's
    drift: int | None = None


@dataclass(frozen=True)
class Detail:
    """One principal's own section."""

    row: PrincipalRow
    #: (day, calls), every day of the principal's activity
    days: tuple[tuple[date, int], ...]
    #: (eventSource, eventName, calls, denied, last seen), most called first
    operations: tuple[tuple[str, str, int, int, datetime], ...]
    #: (eventSource, eventName, errorCode, calls, last seen), most denied first
    denied: tuple[tuple[str, str, str, int, datetime], ...]
    policy: PrincipalPolicy | None
    #: (action, access level, granted by): granted, never used in the window
    unused: tuple[tuple[str, str, str], ...] = ()
    unused_total: int = 0
    #: ``check``'s result against the committed policies, when given and one of them is this principal's
    drift: PrincipalCheck | None = None


@dataclass(frozen=True)
class Report:
    """Everything the page shows."""

    warehouse: str
    window: Window
    archive: Archive
    principals: tuple[PrincipalRow, ...]
    principals_total: int
    details: tuple[Detail, ...]
    cross_account: tuple[dict[str, Any], ...]
    assume_role: tuple[dict[str, Any], ...]
    passed_roles: tuple[dict[str, Any], ...]
    with_export: bool = False
    with_policies: bool = False


def _bounds(window: Window) -> tuple[str, dict[str, Any]]:
    """A WHERE clause over ``eventTime`` (with ``eventDate`` bounds, which prune partitions)."""
    where: list[str] = ["TRUE"]
    params: dict[str, Any] = {}
    first, last = window.partition_bounds()
    if window.since is not None:
        where.append("eventDate >= $first AND eventTime >= $since")
        params |= {"first": first, "since": window.since}
    if window.until is not None:
        where.append("eventDate <= $last AND eventTime < $until")
        params |= {"last": last, "until": window.until}
    return " AND ".join(where), params


def _rows(connection: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    return execute(connection, sql, params).read_all().to_pylist()


def _saved(connection: duckdb.DuckDBPyConnection, name: str, window: Window) -> list[dict[str, Any]]:
    """Saved query ``name`` over the days of the window (the saved queries filter whole days)."""
    query = saved.load(name)
    first, last = window.partition_bounds()
    values = {k: v for k, v in (("start", first), ("end", last)) if v is not None}
    return _rows(connection, query.sql, query.bind(values))


def _archive(connection: duckdb.DuckDBPyConnection, window: Window) -> Archive:
    where, params = _bounds(window)
    [row] = _rows(
        connection,
        f"""SELECT count(*) AS events, count(DISTINCT sourceFile) AS files,
                   count(DISTINCT recipientAccountId) AS accounts, count(DISTINCT awsRegion) AS regions,
                   min(eventTime) AS first, max(eventTime) AS last
            FROM events WHERE {where}""",
        params,
    )
    [quarantine] = _rows(connection, "SELECT count(*) AS n FROM quarantine", {})
    sources = _rows(
        connection, "SELECT status, count(*) AS n FROM sources GROUP BY status ORDER BY status", {}
    )
    return Archive(
        row["events"],
        row["files"],
        row["accounts"],
        row["regions"],
        row["first"],
        row["last"],
        quarantine["n"],
        {s["status"]: s["n"] for s in sources},
    )


_ACTIVITY_SQL = """
SELECT principalArn, eventSource, eventName, outcome, errorCode, eventDate, accountId,
       grouping(eventSource) = 0 AS byOperation, grouping(eventDate) = 0 AS byDay,
       count(*) AS calls, min(eventTime) AS firstSeen, max(eventTime) AS lastSeen
FROM calls
WHERE principalArn IS NOT NULL AND {where}
GROUP BY GROUPING SETS (
    (principalArn, eventSource, eventName, outcome, errorCode),
    (principalArn, eventDate),
    (principalArn, accountId)
)
"""


@dataclass
class _Activity:
    """One principal's calls, by API operation (with outcome and error), by day, and by recipient account."""

    operations: list[dict[str, Any]] = field(default_factory=list)
    days: list[tuple[date, int]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)

    def row(self, arn: str) -> PrincipalRow:
        calls = [o["calls"] for o in self.operations]
        return PrincipalRow(
            arn,
            sum(calls),
            len({o["eventSource"] for o in self.operations}),
            sum(o["calls"] for o in self.operations if o["outcome"] == "denied"),
            min(o["firstSeen"] for o in self.operations),
            max(o["lastSeen"] for o in self.operations),
        )

    def by_operation(self) -> list[tuple[str, str, int, int, datetime]]:
        """(eventSource, eventName, calls, denied, last seen), most called first."""
        merged: dict[tuple[str, str], list[Any]] = {}
        for o in self.operations:
            entry = merged.setdefault((o["eventSource"], o["eventName"]), [0, 0, o["lastSeen"]])
            entry[0] += o["calls"]
            entry[1] += o["calls"] if o["outcome"] == "denied" else 0
            entry[2] = max(entry[2], o["lastSeen"])
        ordered = sorted(merged.items(), key=lambda item: (-item[1][0], item[0]))
        return [(source, name, n, denied, last) for (source, name), (n, denied, last) in ordered]

    def denied(self) -> list[tuple[str, str, str, int, datetime]]:
        """(eventSource, eventName, errorCode, calls, last seen) of the denied calls, most first."""
        rows = [
            (o["eventSource"], o["eventName"], o["errorCode"] or "", o["calls"], o["lastSeen"])
            for o in self.operations
            if o["outcome"] == "denied"
        ]
        return sorted(rows, key=lambda r: (-r[3], r[:3]))


def _activity(connection: duckdb.DuckDBPyConnection, window: Window) -> dict[str, _Activity]:
    """Every principal's calls in one pass over ``calls`` (``outcome`` says which were denied)."""
    where, params = _bounds(window)
    found: dict[str, _Activity] = defaultdict(_Activity)
    for r in _rows(connection, _ACTIVITY_SQL.format(where=where), params):
        activity = found[r["principalArn"]]
        if r["byOperation"]:
            activity.operations.append(r)
        elif r["byDay"]:
            activity.days.append((r["eventDate"], r["calls"]))
        else:
            activity.accounts.append(r)
    for activity in found.values():
        activity.days.sort()
    return found


def _cross_account(activity: Mapping[str, _Activity]) -> list[dict[str, Any]]:
    """Who called into an account other than their own (the principal's account != recipientAccountId)."""
    out = []
    for arn, found in activity.items():
        own = arn.split(":")[4] if arn.count(":") >= 5 else ""
        for r in found.accounts:
            if own and r["accountId"] and r["accountId"] != own:
                out.append({"principalArn": arn, "fromAccount": own, "toAccount": r["accountId"], **r})
    out.sort(key=lambda r: (-r["calls"], r["principalArn"], r["toAccount"]))
    return out[:MAX_ACCESS_ROWS]


def _unused_by_principal(report: UnusedReport) -> tuple[dict[str, float], dict[str, list[Any]]]:
    """Warehouse ARN -> unused share, and -> (action, access level, granted by) of its unused grants."""
    shares: dict[str, float] = {}
    for summary in report.summaries():
        for seen in summary.seen_as:
            shares[seen] = summary.removable
    rows: dict[str, list[Any]] = defaultdict(list)
    for row in report.rows(["unused"]):
        for seen in report.matched.get(row.principal, ()):
            rows[seen].append((row.action, row.access_level, ", ".join(row.granted_by)))
    return shares, rows


def gather(
    warehouse: str | os.PathLike[str] | None = None,
    *,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    details: AuthorizationDetails | None = None,
    detailed: int = DEFAULT_DETAILED,
    committed: Sequence[str | os.PathLike[str]] = (),
    mapping: Mapping[str, str | Sequence[str]] | None = None,
) -> Report:
    """Everything the page shows, for the window ``since``/``until`` (as ``trailsmith policy`` reads them).

    ``committed``: committed policies (files, folders, exports, Terraform, with ``mapping`` as ``check
    --map`` reads it), for each principal's drift; ``details``: an IAM export, for the unused share and
    unused permissions; ``detailed``: how many of the
    most active principals get a section of their own. The policy generator runs in a second thread while
    this one asks the rest: its document building is Python, the queries here are DuckDB's, and the two
    overlap.
    """
    window = window_of(since, until)
    drift = _drift(committed, mapping, warehouse, window)
    connection = connect(warehouse)
    try:
        activity = _activity(connection, window)
        principals = sorted((a.row(arn) for arn, a in activity.items()), key=lambda p: (-p.calls, p.arn))
        top = [p.arn for p in principals[:detailed]]
        with ThreadPoolExecutor(max_workers=1) as pool:
            # no principal at all: generate() would take an empty list for "every principal"
            generating = (
                pool.submit(generate, warehouse, top, since=window.since, until=window.until) if top else None
            )
            archive = _archive(connection, window)
            assume = _saved(connection, "cross_account", window)[:MAX_ACCESS_ROWS]
            passed = _saved(connection, "passed_roles", window)[:MAX_ACCESS_ROWS]
            analysed = (
                analyze(details, warehouse, since=window.since, until=window.until) if details else None
            )
            policies = {p.principal: p for p in generating.result()} if generating else {}
    finally:
        close(connection)
    shares, unused = _unused_by_principal(analysed) if analysed else ({}, {})
    rows = tuple(
        replace(p, unused_share=shares.get(p.arn), drift=_findings(drift.get(p.arn)))
        for p in principals[:MAX_TABLE_ROWS]
    )
    sections = tuple(
        Detail(
            row,
            tuple(activity[row.arn].days),
            tuple(activity[row.arn].by_operation()[:MAX_LIST_ROWS]),
            tuple(activity[row.arn].denied()[:MAX_LIST_ROWS]),
            policies.get(row.arn),
            tuple(unused.get(row.arn, [])[:MAX_LIST_ROWS]),
            len(unused.get(row.arn, [])),
            drift.get(row.arn),
        )
        for row in rows[: len(top)]
    )
    return Report(
        str(warehouse) if warehouse is not None else "",
        window,
        archive,
        rows,
        len(principals),
        sections,
        tuple(_cross_account(activity)),
        tuple(assume),
        tuple(passed),
        details is not None,
        bool(committed),
    )


def _drift(
    committed: Sequence[str | os.PathLike[str]],
    mapping: Mapping[str, str | Sequence[str]] | None,
    warehouse: str | os.PathLike[str] | None,
    window: Window,
) -> dict[str, PrincipalCheck]:
    """``check``'s result per principal against the committed policies (none given: nothing)."""
    if not committed:
        return {}
    found = check(load_sources(committed, mapping=mapping), warehouse, since=window.since, until=window.until)
    return {p.principal: p for p in found.principals}


def _findings(result: PrincipalCheck | None) -> int | None:
    return None if result is None else len(result.denied) + len(result.unused)
