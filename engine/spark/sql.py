"""Read-side access on Spark: temp views of the latest snapshot, and one reading query as an Arrow table.

The views are those of :mod:`trailsmith.sql.db`, over the same explicit file lists: ``events`` (the file
columns, then ``eventDate`` typed DATE), ``quarantine`` and ``sources``, and the derived views ``actions``,
``calls``, ``principals``, ``resources_touched``, ``resource_tags`` and ``session_tags``
(:mod:`trailsmith.spark.views`). The derived views cost one pass over two columns of ``events`` (the
distinct API calls, for ``actions``), and the tag views one over the tagging calls, so :func:`sql` creates
them only for a query that names one of them.

Parameters are written ``$name``, as on DuckDB, or ``:name``, Spark's own spelling (the translated saved
queries use it); either way they are bound with ``spark.sql(text, args=...)``, never pasted into the text.

Spark has no sandbox like the one :mod:`trailsmith.sql.sandbox` gives DuckDB: a SparkSession can do whatever
the Python code holding it can. So what a user's query may be is decided on Spark's own parse of it,
by an allow-list (:mod:`trailsmith.spark.guard`), and the session runs with ``spark.sql.runSQLOnFiles`` off
(:mod:`trailsmith.spark.session`): ``trailsmith sql --engine spark`` means "read the views" as on DuckDB.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from trailsmith.engines import DEFAULT_MASTER
from trailsmith.errors import QueryError
from trailsmith.spark import guard
from trailsmith.spark.files import read_events, read_table
from trailsmith.spark.session import session
from trailsmith.warehouse import quarantine
from trailsmith.warehouse.schema import SOURCES_SCHEMA
from trailsmith.warehouse.store import Snapshot, Warehouse, default_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# literals, quoted identifiers and comments (skipped; a raw literal r'...' has no escapes), then words,
# $parameters, :parameters (not the second half of a :: cast), and ;
_TOKEN = re.compile(
    r"""(?P<skip>(?<!\w)[rR](?:'[^']*'|"[^"]*")|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`]|``)*`"""
    r"""|--[^\n]*|/\*.*?\*/)"""
    r"""|\$(?P<param>[A-Za-z_][A-Za-z0-9_]*)|(?<![:\w]):(?P<colon>[A-Za-z_][A-Za-z0-9_]*)"""
    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<other>;)""",
    re.DOTALL,
)


def attach_views(
    spark: SparkSession,
    warehouse: Warehouse,
    snapshot: Snapshot | None = None,
    *,
    derived: bool = True,
    tags: bool = True,
) -> None:
    """Create (or replace) the temp views ``events``, ``quarantine`` and ``sources`` of ``snapshot``, and
    with ``derived`` the views of :mod:`trailsmith.spark.views` over them (the tag views only with
    ``tags``)."""

    snapshot = snapshot if snapshot is not None else warehouse.snapshot()
    read_events(spark, warehouse, snapshot.files).createOrReplaceTempView("events")
    read_table(spark, warehouse, snapshot.quarantine, quarantine.SCHEMA).createOrReplaceTempView("quarantine")
    read_table(spark, warehouse, snapshot.sources, SOURCES_SCHEMA).createOrReplaceTempView("sources")
    if derived:
        from trailsmith.spark.views import attach_derived

        # the files a snapshot lists never change, so they identify what the derived views are built from
        key = (str(warehouse.root.absolute()), tuple(f.path for f in snapshot.files))
        attach_derived(spark, key, tags=tags)


def names_derived(sql: str, names: tuple[str, ...] | None = None) -> bool:
    """Whether ``sql`` reads one of the derived views (or of ``names``), so that only such a query pays for
    creating them.

    The tables come from sqlglot's parse; SQL it cannot parse is taken to read them when it names one
    anywhere outside literals and comments (an alias ``AS calls`` then costs a needless pass, no error).

    >>> names_derived("SELECT count(*) AS calls FROM events"), names_derived("SELECT 1 FROM Calls")
    (False, True)
    """
    from trailsmith.spark.views import NAMES

    wanted = set(names if names is not None else NAMES)
    words = {word.lower() for word in _scan(sql)[1]}
    try:
        import sqlglot
        from sqlglot import exp
    except ImportError:
        return bool(words & wanted)
    try:
        tables = {table.name.lower() for table in sqlglot.parse_one(sql, read="spark").find_all(exp.Table)}
    except sqlglot.errors.SqlglotError:
        tables = words
    return bool(tables & wanted)


def check_read_only(sql: str, params: Mapping[str, Any] | None = None) -> str:
    """``sql`` as Spark runs it (``$name`` parameters as ``:name``), its parameters matched with ``params``.

    What needs no session is refused here: empty text, several statements, missing or unknown parameters.
    Whether the statement only reads is decided on Spark's own parse of the text this returns
    (:func:`trailsmith.spark.guard.check`, which :func:`sql` runs before anything else).

    >>> check_read_only("SELECT eventName FROM events WHERE eventDate >= $start", {"start": "2024-08-01"})
    'SELECT eventName FROM events WHERE eventDate >= :start'
    >>> check_read_only("SELECT 1; DROP VIEW events")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    trailsmith.errors.QueryError: only one statement may run. Queries on Spark are read-only: ...
    """
    text, words, named = _scan(sql)
    if not words:
        raise QueryError("the query is empty", hint=guard.HINT)
    _check_params(named, params or {})
    return text


def _scan(sql: str) -> tuple[str, list[str], set[str]]:
    """(``sql`` with ``$name`` as ``:name``, its words upper-cased, its parameter names)."""
    out: list[str] = []
    words: list[str] = []
    named: set[str] = set()
    end = 0
    for match in _TOKEN.finditer(sql):
        if match.group("param"):
            named.add(match.group("param"))
            out.append(sql[end : match.start()] + ":" + match.group("param"))
            end = match.end()
        elif match.group("colon"):
            named.add(match.group("colon"))
        elif match.group("word") or match.group("other"):
            token = (match.group("word") or match.group("other")).upper()
            if token == ";" and sql[match.end() :].strip(" \t\r\n;"):
                raise QueryError("only one statement may run", hint=guard.HINT)
            if token != ";":
                words.append(token)
    return "".join(out) + sql[end:], words, named


def _check_params(wanted: set[str], given: Mapping[str, Any]) -> None:
    missing = sorted(wanted - set(given))
    if missing:
        names = ", ".join(f"${name}" for name in missing)
        raise QueryError(f"no value for {names}", hint="Give it one (--param NAME=VALUE on the command line)")
    unused = sorted(set(given) - wanted)
    if unused:
        hint = "Refer to it as $name in the SQL, or drop it"
        raise QueryError(f"the query has no parameter {', '.join(unused)}", hint=hint)


def sql(
    query: str,
    warehouse: str | os.PathLike[str] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    master: str = DEFAULT_MASTER,
    spark: SparkSession | None = None,
    trusted: bool = False,
) -> pa.Table:
    """Run one reading ``query`` (Spark SQL) over the warehouse's views on Spark; the result as Arrow.

    ``$name`` (or ``:name``) parameters are bound from ``params`` as on DuckDB, never pasted into the text.
    The query is checked by :mod:`trailsmith.spark.guard` on Spark's parse of it before anything runs, and
    the plan Spark builds with the parameters bound is checked again before it is executed; ``trusted``
    skips both for trailsmith's own SQL (a saved query), which is what lets saved queries run on Spark
    Connect, where Spark's parser is out of reach.

    >>> sql("SELECT eventName, count(*) AS calls FROM events GROUP BY eventName", "wh")  # doctest: +SKIP
    """
    target = Warehouse(warehouse if warehouse is not None else default_path())
    target.require()
    text = check_read_only(query, params)
    spark = spark if spark is not None else session(master)
    if not trusted:
        guard.check(spark, text)
    from trailsmith.spark.views import TAG_NAMES

    attach_views(spark, target, derived=names_derived(text), tags=names_derived(text, TAG_NAMES))
    return _arrow(_frame(spark, text, params, checked=not trusted))


def run(spark: SparkSession, text: str, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Run Spark SQL ``text`` (``:name`` parameters) over views already attached; errors as one line.

    For SQL trailsmith wrote itself (translated saved queries, the policy aggregation); anything else goes
    through :func:`sql`, which checks it first.
    """
    return _arrow(_frame(spark, text, params, checked=False))


def _frame(spark: SparkSession, text: str, params: Mapping[str, Any] | None, *, checked: bool) -> DataFrame:
    """The DataFrame of ``text``, not yet run; with ``checked``, its plan (parameters bound) passed the guard.

    Spark runs a command as soon as it builds its DataFrame: only text that :func:`guard.check` accepted
    may come here with ``checked``. The second look is at what Spark itself will run.
    """
    from pyspark.errors import PySparkException

    _check_bindable(params or {})
    try:
        frame = spark.sql(text, args=dict(params) if params else None)
    except PySparkException as exc:
        raise QueryError(_first_line(exc)) from None
    if checked:
        guard.check_plan(spark, frame._jdf.queryExecution().logical())
    return frame


def _arrow(frame: DataFrame) -> pa.Table:
    from pyspark.errors import PySparkException

    try:
        table = frame.toArrow()
    except PySparkException as exc:
        raise QueryError(_first_line(exc)) from None
    # Spark marks counts and some expressions NOT NULL, DuckDB marks nothing: the same schema either way
    return table.cast(pa.schema([field.with_nullable(True) for field in table.schema]))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_bindable(params: Mapping[str, Any]) -> None:
    """Spark binds parameters as literals, and a list literal cannot hold a NULL: say so, in one line."""
    for name, value in params.items():
        if isinstance(value, (list, tuple)) and any(item is None for item in value):
            problem = f"parameter {name}: a list with NULL elements cannot be bound on Spark"
            raise QueryError(problem, hint="Leave the NULLs out")
