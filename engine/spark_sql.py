"""Read-side access on Spark: temp views of the latest snapshot, and one reading query as an Arrow table.

The views are those of :mod:`trailsmith.db`, over the same explicit file lists: ``events`` (the file
columns, then ``eventDate`` typed DATE), ``quarantine`` and ``sources``. The derived views (``calls``,
``actions`` ...) and the saved queries come to Spark with the sqlglot translation (issue 6, part 2).

Spark has no sandbox like the one :mod:`trailsmith.sandbox` gives DuckDB: a SparkSession can do whatever
the Python code holding it can. :func:`check_read_only` still refuses statements that write or change the
session, so that ``trailsmith sql --engine spark`` means "read" as it does on DuckDB.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Mapping

import pyarrow as pa

from trailsmith import quarantine
from trailsmith.errors import QueryError
from trailsmith.spark_files import read_events, read_table
from trailsmith.spark_session import DEFAULT_MASTER, session
from trailsmith.warehouse import Snapshot, Warehouse, default_path

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_HINT = "Queries are read-only: one SELECT (or WITH ... SELECT) over the warehouse's views"

#: Words that only statements which write, or change the session, use; ``reflect``/``java_method`` call
#: arbitrary JVM methods. Matched as whole words outside literals, quoted identifiers and comments.
_FORBIDDEN = frozenset(
    "INSERT CREATE DROP ALTER DELETE UPDATE MERGE TRUNCATE SET RESET CACHE UNCACHE REFRESH MSCK LOAD USE "
    "CALL DECLARE EXECUTE ADD REPAIR GRANT REVOKE OVERWRITE DIRECTORY ANALYZE OPTIMIZE VACUUM COPY BEGIN "
    "REFLECT JAVA_METHOD TRY_REFLECT".split()
)
_FIRST = frozenset({"SELECT", "WITH", "FROM", "VALUES", "TABLE", "("})
# literals, quoted identifiers and comments (skipped), then words, $parameters, ; and (
_TOKEN = re.compile(
    r"""(?P<skip>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`]|``)*`|--[^\n]*|/\*.*?\*/)"""
    r"""|\$(?P<param>[A-Za-z_][A-Za-z0-9_]*)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<other>[;(])""",
    re.DOTALL,
)


def attach_views(spark: SparkSession, warehouse: Warehouse, snapshot: Snapshot | None = None) -> None:
    """Create (or replace) the temp views ``events``, ``quarantine`` and ``sources`` of ``snapshot``."""
    from trailsmith.ingest import SOURCES_SCHEMA

    snapshot = snapshot if snapshot is not None else warehouse.snapshot()
    read_events(spark, warehouse, snapshot.files).createOrReplaceTempView("events")
    read_table(spark, warehouse, snapshot.quarantine, quarantine.SCHEMA).createOrReplaceTempView("quarantine")
    read_table(spark, warehouse, snapshot.sources, SOURCES_SCHEMA).createOrReplaceTempView("sources")


def check_read_only(sql: str, params: Mapping[str, Any] | None = None) -> str:
    """``sql`` with DuckDB-style ``$name`` parameters as Spark's ``:name``; :class:`QueryError` if it writes.

    >>> check_read_only("SELECT eventName FROM events WHERE eventDate >= $start", {"start": "2024-08-01"})
    'SELECT eventName FROM events WHERE eventDate >= :start'
    >>> check_read_only("INSERT OVERWRITE DIRECTORY '/tmp/x' SELECT 1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    trailsmith.errors.QueryError: INSERT statements are not allowed. Queries are read-only: ...
    """
    out: list[str] = []
    words: list[str] = []
    named: set[str] = set()
    end = 0
    for match in _TOKEN.finditer(sql):
        if match.group("param"):
            named.add(match.group("param"))
            out.append(sql[end : match.start()] + ":" + match.group("param"))
            end = match.end()
        elif match.group("word") or match.group("other"):
            token = (match.group("word") or match.group("other")).upper()
            if token == ";" and sql[match.end() :].strip(" \t\r\n;"):
                raise QueryError("only one statement may run", hint=_HINT)
            if token != ";":
                words.append(token)
    if not words:
        raise QueryError("the query is empty", hint=_HINT)
    bad = next((word for word in words if word in _FORBIDDEN), None)
    if bad is not None or words[0] not in _FIRST:
        raise QueryError(f"{bad or words[0]} statements are not allowed", hint=_HINT)
    _check_params(named, params or {})
    return "".join(out) + sql[end:]


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
) -> pa.Table:
    """Run one reading ``query`` (Spark SQL) over the warehouse's views on Spark; the result as Arrow.

    ``$name`` parameters are bound from ``params`` as on DuckDB, never pasted into the text.

    >>> sql("SELECT eventName, count(*) AS calls FROM events GROUP BY eventName", "wh")  # doctest: +SKIP
    """
    target = Warehouse(warehouse if warehouse is not None else default_path())
    target.require()
    text = check_read_only(query, params)
    spark = spark if spark is not None else session(master)
    from pyspark.errors import PySparkException

    attach_views(spark, target)
    try:
        return spark.sql(text, args=dict(params) if params else None).toArrow()
    except PySparkException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QueryError(first) from None
