"""Granted versus used: per principal of an IAM export, which granted actions it used in a window, and when.

>>> from trailsmith.iam import export as iam_export, unused
>>> details = iam_export.load(["auth.json"])                              # doctest: +SKIP
>>> report = unused.analyze(details, "warehouse", since="90d")           # doctest: +SKIP
>>> [s.line() for s in report.summaries()]                                # doctest: +SKIP

*Granted* is what the export's identity-based policies allow (:mod:`trailsmith.iam.evaluate`). *Used* is what
the warehouse shows: an action is used when an authorised call needed it (``outcome = 'allowed'`` in the
``calls`` view; throttled and not-found calls passed authorisation first). ``iam:PassRole`` is never a call
of its own, so its use comes from the policy generator, which reads passed roles out of requests. Each
(principal, action) row gets one status:

- ``used``: granted, and used in the window (``last_used`` says when last);
- ``unused``: granted, never used in the window: the candidates for removal;
- ``not_granted``: used, yet the export grants it nowhere: a resource-based policy allowed it, or the
  export is older than the calls;
- ``denied``: not granted, and every call that needed it was denied.

Principals are matched to the warehouse by ARN, and by (partition, account, kind, name) when the paths
differ: CloudTrail names a role without its path when a session lacks its issuer, and IAM names are unique
per account whatever the path (case-insensitively).
"""

from __future__ import annotations

import difflib
import functools
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson
import pyarrow as pa

from trailsmith.actions import reference as iamref
from trailsmith.iam.evaluate import OUT_OF_SCOPE, Evaluation, Grant, all_actions, evaluate, resolve
from trailsmith.iam.export import AuthorizationDetails, IamExportError, Principal, Problem, entity_arn_parts
from trailsmith.policy.usage import Window, parse_time

if TYPE_CHECKING:
    from trailsmith.policy.model import PolicyDocument

Status = Literal["used", "unused", "not_granted", "denied"]
STATUSES: tuple[Status, ...] = ("used", "unused", "not_granted", "denied")
BATCH_ROWS = 64 * 1024

_TIME = pa.timestamp("us", tz="UTC")
#: The rows, one per (principal, action); the fields of :class:`UnusedRow`.
SCHEMA = pa.schema(
    [
        ("principal", pa.string()),
        ("action", pa.string()),
        ("access_level", pa.string()),
        ("status", pa.string()),
        ("granted_by", pa.list_(pa.string())),
        ("last_used", _TIME),
        ("calls", pa.int64()),
        ("conditional", pa.bool_()),
        ("resource_scoped", pa.bool_()),
        ("limited_by", pa.list_(pa.string())),
        ("denied_calls", pa.int64()),
        ("last_denied", _TIME),
    ]
)

# One row per (principal, action, outcome) over the window: UNNEST in the select list, grouped outside
# (the form views.py uses, which DuckDB plans well and sqlglot carries to Spark).
_USAGE_SQL = """
SELECT u.principalArn, u.action, u.outcome, count(*) AS calls, max(u.eventTime) AS lastCall
FROM (
    SELECT principalArn, outcome, eventTime, UNNEST(actions) AS action
    FROM calls
    WHERE {where} AND outcome IN ('allowed', 'denied')
) AS u
GROUP BY u.principalArn, u.action, u.outcome
"""

_ACTIVITY_SQL = """
SELECT principalArn,
       count(*) AS calls,
       count(*) FILTER (WHERE outcome = 'allowed' AND mapping = 'unmapped') AS unmapped
FROM calls
WHERE {where}
GROUP BY principalArn
"""


@dataclass(frozen=True)
class ActionUsage:
    """Calls that needed one action, by outcome, in the window."""

    calls: int = 0
    last_used: datetime | None = None
    denied_calls: int = 0
    last_denied: datetime | None = None

    def merge(self, other: ActionUsage) -> ActionUsage:
        return ActionUsage(
            self.calls + other.calls,
            _latest(self.last_used, other.last_used),
            self.denied_calls + other.denied_calls,
            _latest(self.last_denied, other.last_denied),
        )


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass(frozen=True)
class UnusedRow:
    """One (principal, action): granted, used, or both, and the evidence."""

    principal: str
    action: str
    access_level: str
    status: Status
    granted_by: tuple[str, ...]
    last_used: datetime | None
    calls: int
    conditional: bool | None
    resource_scoped: bool | None
    limited_by: tuple[str, ...]
    denied_calls: int
    last_denied: datetime | None


@dataclass(frozen=True)
class PrincipalSummary:
    """The counts behind one principal's rows."""

    principal: str
    granted: int
    used: int
    unused: int
    not_granted: int
    denied: int
    #: calls in the window (any outcome), and authorised ones that map to no IAM action
    calls: int
    unmapped_calls: int
    #: warehouse ARNs it was matched with
    seen_as: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def removable(self) -> float:
        """Share of the granted actions unused in the window."""
        return self.unused / self.granted if self.granted else 0.0

    def line(self) -> str:
        seen = "" if self.calls else "; never seen in the window"
        extra = "".join(
            f"; {n:,} {what}"
            for n, what in (
                (self.not_granted, "used but not granted"),
                (self.denied, "denied and not granted"),
            )
            if n
        )
        return (
            f"{self.principal}: {self.granted:,} granted, {self.used:,} used, {self.unused:,} unused "
            f"({self.removable:.1%} removable){extra}{seen}"
        )


@dataclass(frozen=True)
class UnusedReport:
    """Granted versus used for every chosen principal; rows are built on demand, principal by principal."""

    window: Window
    evaluations: tuple[Evaluation, ...]
    #: export principal ARN -> action -> usage
    usage: Mapping[str, Mapping[str, ActionUsage]]
    #: export principal ARN -> the warehouse ARNs matched to it
    matched: Mapping[str, tuple[str, ...]]
    #: export principal ARN -> (calls in the window, authorised calls mapped to no action)
    activity: Mapping[str, tuple[int, int]]
    #: roles and users of the export's accounts that made calls in the window but are not in the export
    outsiders: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    data_version: str = ""
    out_of_scope: str = OUT_OF_SCOPE

    def rows(self, statuses: Iterable[str] = ()) -> Iterator[UnusedRow]:
        """Every row, sorted by principal then action; only the given statuses when some are given."""
        wanted = frozenset(statuses) or frozenset(STATUSES)
        for evaluation in self.evaluations:
            for row in _principal_rows(evaluation, self.usage.get(evaluation.principal.arn, {})):
                if row.status in wanted:
                    yield row

    def batches(self, statuses: Iterable[str] = (), batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """:meth:`rows` as Arrow record batches of :data:`SCHEMA`."""
        columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
        for row in self.rows(statuses):
            for name in SCHEMA.names:
                columns[name].append(getattr(row, name))
            if len(columns["principal"]) >= batch_rows:
                yield pa.RecordBatch.from_pydict(columns, schema=SCHEMA)
                columns = {name: [] for name in SCHEMA.names}
        if columns["principal"]:
            yield pa.RecordBatch.from_pydict(columns, schema=SCHEMA)

    def table(self, statuses: Iterable[str] = ()) -> pa.Table:
        return pa.Table.from_batches(list(self.batches(statuses)), schema=SCHEMA)

    def summaries(self) -> list[PrincipalSummary]:
        out = []
        for evaluation in self.evaluations:
            arn = evaluation.principal.arn
            usage, grants = self.usage.get(arn, {}), evaluation.grants
            used = sum(1 for action in grants if action in usage and usage[action].calls)
            outside = [u for action, u in usage.items() if action not in grants]
            not_granted = sum(1 for u in outside if u.calls)
            denied = sum(1 for u in outside if u.denied_calls and not u.calls)
            calls, unmapped = self.activity.get(arn, (0, 0))
            notes = list(evaluation.notes)
            if unmapped:
                notes.append(
                    f"{unmapped:,} authorised calls map to no IAM action: an action they needed "
                    "may be listed as unused"
                )
            out.append(
                PrincipalSummary(
                    arn,
                    len(grants),
                    used,
                    len(grants) - used,
                    not_granted,
                    denied,
                    calls,
                    unmapped,
                    self.matched.get(arn, ()),
                    tuple(notes),
                )
            )
        return out


def _principal_rows(evaluation: Evaluation, usage: Mapping[str, ActionUsage]) -> Iterator[UnusedRow]:
    arn = evaluation.principal.arn
    none = ActionUsage()
    for action in sorted(evaluation.grants.keys() | usage.keys()):
        grant: Grant | None = evaluation.grants.get(action)
        used = usage.get(action, none)
        if grant is not None:
            status: Status = "used" if used.calls else "unused"
        elif used.calls:
            status = "not_granted"
        elif used.denied_calls:
            status = "denied"
        else:
            continue
        yield UnusedRow(
            arn,
            action,
            _access_level(action),
            status,
            grant.granted_by if grant else (),
            used.last_used,
            used.calls,
            grant.conditional if grant else None,
            grant.resource_scoped if grant else None,
            grant.limited_by if grant else (),
            used.denied_calls,
            used.last_denied,
        )


@functools.lru_cache(maxsize=1 << 16)
def _access_level(action: str) -> str:
    try:
        return iamref.action_info(action).access_level
    except KeyError:
        return ""


# --- matching principals ---------------------------------------------------------------------------------


def match_principals(export_arns: Iterable[str], warehouse_arns: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Export ARN -> warehouse ARNs of the same role or user: equal ARNs, or one name in one account.

    >>> match_principals(["arn:aws:iam::111122223333:role/service-role/App"],
    ...                  ["arn:aws:iam::111122223333:role/App", "arn:aws:iam::444455556666:role/App"])
    {'arn:aws:iam::111122223333:role/service-role/App': ('arn:aws:iam::111122223333:role/App',)}
    """
    present = set(warehouse_arns)
    by_key: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for arn in sorted(present):
        parts = entity_arn_parts(arn)
        if parts is not None:
            by_key[_key(parts)].append(arn)
    out: dict[str, tuple[str, ...]] = {}
    for arn in export_arns:
        parts = entity_arn_parts(arn)
        found = by_key.get(_key(parts), []) if parts else []
        out[arn] = tuple(found) if found else ((arn,) if arn in present else ())
    return out


def _key(parts: tuple[str, str, str, str]) -> tuple[str, str, str, str]:
    partition, account, kind, name = parts
    return partition, account, kind, name.lower()


def choose(details: AuthorizationDetails, requested: Sequence[str] | None) -> tuple[Principal, ...]:
    """The export's principals named by ``requested`` (ARNs, with or without path), or all of them."""
    if not requested:
        return details.principals
    out: list[Principal] = []
    for item in requested:
        matched = match_principals([p.arn for p in details.principals], [item])
        found = [p for p in details.principals if matched.get(p.arn)]
        if not found:
            close = difflib.get_close_matches(item, [p.arn for p in details.principals], n=1, cutoff=0.6)
            hint = (
                f"Did you mean {close[0]}?"
                if close
                else (
                    "Give the ARN of a role or user of the export, "
                    "or its policies with --policy-file ARN=FILE"
                )
            )
            raise IamExportError(f"principal {item} is not in the IAM input", hint=hint)
        out.extend(p for p in found if p not in out)
    return tuple(out)


# --- usage ------------------------------------------------------------------------------------------------


def _where(window: Window) -> tuple[str, dict[str, Any]]:
    """Conditions and parameters of the window; ``eventDate`` bounds too, so whole partitions are skipped."""
    where = ["principalArn IS NOT NULL"]
    params: dict[str, Any] = {}
    first, last = window.partition_bounds()
    if window.since is not None:
        where += [
            "eventDate >= CAST($first_day AS DATE)",
            "eventTime >= CAST($since AS TIMESTAMP WITH TIME ZONE)",
        ]
        params.update(first_day=first, since=window.since)
    if window.until is not None:
        where += [
            "eventDate <= CAST($last_day AS DATE)",
            "eventTime < CAST($until AS TIMESTAMP WITH TIME ZONE)",
        ]
        params.update(last_day=last, until=window.until)
    return " AND ".join(where), params


def warehouse_usage(
    warehouse: str | os.PathLike[str] | None, window: Window
) -> tuple[dict[str, dict[str, ActionUsage]], dict[str, tuple[int, int]]]:
    """Per warehouse principal: action -> usage, and (calls, unmapped authorised calls), over the window."""
    from trailsmith.sql.db import close, connect, execute

    where, params = _where(window)
    connection = connect(warehouse)
    try:
        usage_rows = execute(connection, _USAGE_SQL.format(where=where), params).read_all().to_pylist()
        activity_rows = execute(connection, _ACTIVITY_SQL.format(where=where), params).read_all().to_pylist()
    finally:
        close(connection)
    usage: dict[str, dict[str, ActionUsage]] = defaultdict(dict)
    for row in usage_rows:
        if row["action"] is None:
            continue
        calls, last = row["calls"], row["lastCall"]
        found = ActionUsage(calls, last) if row["outcome"] == "allowed" else ActionUsage(0, None, calls, last)
        previous = usage[row["principalArn"]].get(row["action"])
        usage[row["principalArn"]][row["action"]] = previous.merge(found) if previous else found
    activity = {row["principalArn"]: (int(row["calls"]), int(row["unmapped"])) for row in activity_rows}
    return dict(usage), activity


def passrole_usage(
    warehouse: str | os.PathLike[str] | None, principals: Sequence[str], window: Window
) -> dict[str, ActionUsage]:
    """``iam:PassRole`` use per warehouse principal, from the policy generator's reading of requests.

    The generator returns one row per (group of identical calls, passed role); a call that passes two roles
    gives two rows of one group, so groups are counted once, by their evidence.
    """
    if not principals:
        return {}
    from trailsmith.policy.generator import usage as generator_usage

    table = generator_usage(warehouse, list(principals), since=window.since, until=window.until)
    groups: dict[str, dict[tuple[Any, ...], tuple[int, datetime]]] = defaultdict(dict)
    for row in table.to_pylist():
        if row.get("action") == "iam:PassRole" and row.get("counted"):
            group = (
                row["eventSource"],
                row["eventName"],
                row["firstSeen"],
                row["lastSeen"],
                row["events"],
                tuple(row.get("sampleEventIds") or ()),
            )
            groups[row["principalArn"]][group] = (int(row["events"]), row["lastSeen"])
    return {
        arn: ActionUsage(sum(n for n, _ in found.values()), max(t for _, t in found.values()))
        for arn, found in groups.items()
    }


def window_of(since: str | date | datetime | None, until: str | date | datetime | None) -> Window:
    """``--since``/``--until`` read as the policy generator reads them (dates, ISO times, ``30d``).

    An ``until`` date is inclusive: the window ends at the next midnight (UTC).
    """
    window = Window(parse_time(since), parse_time(until, end=True))
    if window.since and window.until and window.since >= window.until:
        raise IamExportError("--since is not before --until", hint="Give a window that ends after it starts")
    return window


def analyze(
    details: AuthorizationDetails,
    warehouse: str | os.PathLike[str] | None = None,
    *,
    principals: Sequence[str] | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
) -> UnusedReport:
    """Granted versus used for ``principals`` of the export (all when None) over the window."""
    window = window_of(since, until)
    chosen = choose(details, principals)
    evaluations = tuple(evaluate(resolve(details, p)) for p in chosen)
    by_warehouse, activity = warehouse_usage(warehouse, window)
    matched = match_principals([p.arn for p in chosen], activity)
    passed = passrole_usage(warehouse, sorted({a for arns in matched.values() for a in arns}), window)
    usage: dict[str, dict[str, ActionUsage]] = {}
    counts: dict[str, tuple[int, int]] = {}
    for arn, found in matched.items():
        merged: dict[str, ActionUsage] = {}
        for seen in found:
            parts = list(by_warehouse.get(seen, {}).items())
            parts += [("iam:PassRole", passed[seen])] if seen in passed else []
            for action, used in parts:
                merged[action] = merged[action].merge(used) if action in merged else used
        usage[arn] = merged
        counts[arn] = (sum(activity[s][0] for s in found), sum(activity[s][1] for s in found))
    return UnusedReport(
        window,
        evaluations,
        usage,
        matched,
        counts,
        _outsiders(details, activity),
        details.problems,
        iamref.data_version(),
    )


def _outsiders(details: AuthorizationDetails, activity: Mapping[str, Any]) -> tuple[str, ...]:
    """Roles and users of the export's accounts that called in the window but are not in the export."""
    accounts = {parts[1] for p in details.principals if (parts := entity_arn_parts(p.arn))}
    matched = match_principals([p.arn for p in details.principals], activity)
    known = {a for arns in matched.values() for a in arns}
    return tuple(
        sorted(
            arn
            for arn in activity
            if arn not in known and (parts := entity_arn_parts(arn)) is not None and parts[1] in accounts
        )
    )


# --- suggestions -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """One principal's right-sized replacement: the generated policy and the action-level change from now."""

    principal: str
    #: the policy generator's documents (none when no authorised call in the window needed a permission)
    documents: tuple[PolicyDocument, ...]
    kept: tuple[str, ...]
    removed: tuple[str, ...]
    added: tuple[str, ...]
    #: readable diff from what the principal is granted now, see :func:`diff_text`
    diff: str

    def policy_json(self) -> str | None:
        """The policy as ``aws iam create-policy`` takes it: one document, or a JSON array of its parts."""
        if not self.documents:
            return None
        if len(self.documents) == 1:
            return self.documents[0].to_json() + "\n"
        return orjson.dumps([d.to_dict() for d in self.documents], option=orjson.OPT_INDENT_2).decode() + "\n"


def suggest(report: UnusedReport, warehouse: str | os.PathLike[str] | None) -> list[Suggestion]:
    """Per principal of the report: the least-privilege policy the generator makes from its calls in the same
    window, and how it differs from what the principal is granted now (kept, removed, added).

    One generator run covers every principal; a principal seen under several ARNs (with and without its
    path) gets the documents of all of them.
    """
    from trailsmith.policy.generator import generate

    seen = sorted({a for arns in report.matched.values() for a in arns})
    window = report.window
    policies = generate(warehouse, seen, since=window.since, until=window.until) if seen else []
    generated = {p.principal: p for p in policies}
    out: list[Suggestion] = []
    for evaluation in report.evaluations:
        arn = evaluation.principal.arn
        mine = [generated[a] for a in report.matched.get(arn, ()) if a in generated]
        suggested = {a for p in mine for a in p.actions}
        granted = set(evaluation.grants)
        kept, removed, added = (
            sorted(granted & suggested),
            sorted(granted - suggested),
            sorted(suggested - granted),
        )
        documents = tuple(d for p in mine for d in p.documents)
        diff = diff_text(report, evaluation, kept, removed, added, bool(documents))
        out.append(Suggestion(arn, documents, tuple(kept), tuple(removed), tuple(added), diff))
    return out


def diff_text(
    report: UnusedReport,
    evaluation: Evaluation,
    kept: Sequence[str],
    removed: Sequence[str],
    added: Sequence[str],
    has_policy: bool,
) -> str:
    """The change from what a principal is granted now to the suggested policy, action by action.

    ``-`` granted now, unused in the window (removed); ``+`` used but not granted by the export (added);
    `` `` used and granted (kept). A service whose every action is granted and none used is one ``svc:*``
    line.
    """
    arn = evaluation.principal.arn
    usage = report.usage.get(arn, {})
    grants = evaluation.grants
    since, until = report.window.since, report.window.until
    window = (
        f"{since.isoformat() if since else 'start of the warehouse'} .. "
        f"{until.isoformat() if until else 'its end'}"
    )
    sources = sorted({s for g in grants.values() for s in g.granted_by})
    total = len(grants)
    lines = [
        f"# trailsmith unused: {arn}",
        f"# window: {window}; seen as: {', '.join(report.matched.get(arn, ())) or 'no call in the window'}",
        f"# now: {total:,} actions granted by {', '.join(sources) or 'nothing readable'}",
        f"# suggested: {len(kept) + len(added):,} actions"
        + ("" if has_policy else ": no policy (no authorised call in the window needed a permission)"),
        "# '-' granted and unused in the window (removed); '+' used but not granted by the export (added: "
        "check resource-based policies); ' ' used and granted (kept)",
        f"# removes {len(removed):,} of {total:,} granted actions ({len(removed) / max(total, 1):.1%})",
    ]
    lines += [f"# note: {note}" for note in evaluation.notes]
    catalog = _service_sizes()
    by_service: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for sign, actions in ((" ", kept), ("-", removed), ("+", added)):
        for action in actions:
            by_service[action.split(":", 1)[0]].append((action, sign))
    for service, entries in sorted(by_service.items()):
        entries.sort()
        signs = [sign for _, sign in entries]
        if set(signs) == {"-"} and len(entries) == catalog.get(service, -1) and len(entries) > 1:
            via = sorted({s for action, _ in entries for s in grants[action].granted_by})
            lines += [
                "",
                f"@@ {service}: all {len(entries):,} actions granted, none used @@",
                f"- {service + ':*':<58} granted by {', '.join(via)}",
            ]
            continue
        counts = f"{signs.count(' ')} kept, {signs.count('-')} removed, {signs.count('+')} added"
        lines += ["", f"@@ {service}: {counts} @@"]
        for action, sign in entries:
            used = usage.get(action)
            if sign == "-":
                lines.append(f"- {action:<58} granted by {', '.join(grants[action].granted_by)}")
            else:
                when = used.last_used.isoformat() if used and used.last_used else "?"
                tail = "" if sign == " " else "; not granted by the export"
                lines.append(f"{sign} {action:<58} {used.calls if used else 0:,} calls, last {when}{tail}")
    return "\n".join(lines) + "\n"


@functools.cache
def _service_sizes() -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    for action in all_actions():
        sizes[action.split(":", 1)[0]] += 1
    return dict(sizes)
