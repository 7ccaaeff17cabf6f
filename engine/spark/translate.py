"""DuckDB-dialect SQL as Spark SQL, through sqlglot: the saved queries, the derived views and the policy
aggregation are written once, for DuckDB, and translated for Spark.

A translation is only trusted where it was shown to be faithful: the parity tests run every saved query
and the policy aggregation on both engines over the same warehouse and compare the results. Where it is
not faithful, a hand-written Spark variant takes its place (:mod:`trailsmith.spark.saved`).

Parameters keep their names: DuckDB's ``$start`` becomes Spark's named parameter ``:start``, bound with
``spark.sql(text, args=...)``, never pasted into the text. sqlglot is part of the ``spark`` extra and is
imported only here, only when a translation is asked for.
"""

from __future__ import annotations

import functools
from types import ModuleType

from trailsmith.errors import MissingDependencyError, QueryError
from trailsmith.spark.session import INSTALL_HINT


def to_spark(sql: str) -> str:
    """``sql`` (one DuckDB statement, ``$name`` parameters) as Spark SQL (``:name`` parameters).

    >>> to_spark("SELECT list_contains($allowed, awsRegion) AS ok FROM calls")
    'SELECT ARRAY_CONTAINS(:allowed, awsRegion) AS ok FROM calls'
    """
    return _translate(sql)


def view_body(statement: str) -> tuple[str, str]:
    """(name, Spark SELECT) of a DuckDB ``CREATE [OR REPLACE] VIEW name AS SELECT ...`` statement.

    Only the SELECT is translated: on Spark the views are session-scoped temp views, never views in the
    catalog (a plain ``CREATE VIEW`` there would outlive the session and need write access).

    >>> view_body("CREATE OR REPLACE VIEW v AS SELECT split_part(a, ':', 5) AS b FROM events")
    ('v', "SELECT SPLIT_PART(a, ':', 5) AS b FROM events")
    """
    sqlglot = _sqlglot()
    tree = sqlglot.parse_one(statement, read="duckdb")
    if not isinstance(tree, sqlglot.exp.Create) or tree.kind != "VIEW":
        raise ValueError(f"not a CREATE VIEW statement: {statement[:60]!r}")
    return tree.this.name, _translate(tree.expression.sql(dialect="duckdb"))


@functools.lru_cache(maxsize=256)
def _translate(sql: str) -> str:
    sqlglot = _sqlglot()
    try:
        [out] = sqlglot.transpile(
            sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE
        )
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QueryError(
            f"cannot translate this SQL to Spark: {first}",
            hint="Write it in Spark SQL and run it with trailsmith sql --engine spark",
        ) from None
    return out


def _sqlglot() -> ModuleType:
    """The sqlglot module, imported on demand: the DuckDB path never needs it."""
    try:
        import sqlglot
        import sqlglot.errors
    except ImportError:
        raise MissingDependencyError(
            "--engine spark needs sqlglot (to translate the saved queries), which is not installed",
            hint=INSTALL_HINT,
        ) from None
    return sqlglot
