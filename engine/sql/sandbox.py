"""Why a query cannot change or lose the warehouse: two locks, each enough for what the other misses.

1. **Only reading statements run.** :func:`check_read_only` asks DuckDB's own parser what the text is and
   accepts exactly one ``SELECT`` (``WITH``, ``FROM``-first, ``VALUES``, ``DESCRIBE``, ``SUMMARIZE``, ``SHOW``
   are parsed as ``SELECT`` too) or an ``EXPLAIN [ANALYZE]`` of one. ``COPY``, ``ATTACH``, ``INSERT``,
   ``CREATE``, ``DROP``, ``SET``, ``PRAGMA``, ``INSTALL``/``LOAD``, ``EXPORT`` ... never reach execution. This
   lock is needed because DuckDB's path allow-list (below) cannot say "read only": with a file allowed,
   ``COPY ... TO 'that file' (USE_TMP_FILE false)`` would overwrite it (checked on DuckDB 2.0).
2. **The engine cannot reach anything else.** :func:`lock_down` turns off ``enable_external_access`` with
   ``allowed_paths`` set to exactly the snapshot's files, switches off extension auto-install/auto-load,
   community extensions and Python replacement scans, and then sets ``lock_configuration`` so that no
   statement can ``SET`` any of it back. So ``read_csv('/etc/passwd')``, ``glob(...)``, URLs, files of the
   warehouse outside the snapshot, and writes to any other path fail inside DuckDB, whatever the statement.

The in-memory catalog (views, the action table) is not the warehouse: it lives and dies with the
connection. Still, DDL is refused by lock 1 so that a session's views mean what the docs say.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from trailsmith.errors import QueryError

#: Statement types that only read. DuckDB parses DESCRIBE, SHOW, SUMMARIZE, VALUES and FROM-first as SELECT.
_READING = {duckdb.StatementType.SELECT}

_HINT = "Queries are read-only: one SELECT (or EXPLAIN [ANALYZE] SELECT) over the warehouse's views"


def lock_down(connection: duckdb.DuckDBPyConnection, allowed_paths: Sequence[str]) -> None:
    """Restrict ``connection`` to reading ``allowed_paths``; irreversible for the connection's life.

    Call after anything that needs more (registering Arrow tables is fine either way) and before any
    user SQL. ``allowed_paths`` must be absolute paths of the files the views read.
    """
    connection.execute("SET allowed_paths = $paths", {"paths": list(allowed_paths)})
    for statement in (
        "SET enable_external_access = false",
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        "SET allow_community_extensions = false",
        "SET python_enable_replacements = false",
        "SET enable_progress_bar = false",  # it would print on stdout, mixed with the rows
        "SET lock_configuration = true",
    ):
        connection.execute(statement)


def check_read_only(connection: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    """The one reading statement in ``sql``, or :class:`QueryError` saying why it may not run.

    >>> check_read_only(duckdb.connect(), "SELECT 1").type.name
    'SELECT'
    >>> check_read_only(duckdb.connect(), "DROP VIEW events")
    Traceback (most recent call last):
    trailsmith.errors.QueryError: DROP statements are not allowed. Queries are read-only: ...
    """
    statements = _parse(connection, sql)
    if not statements:
        raise QueryError("the query is empty", hint="Give one SELECT statement")
    if len(statements) > 1:
        kinds = ", ".join(_kind(s) for s in statements)
        raise QueryError(f"one statement at a time, got {len(statements)} ({kinds})", hint=_HINT)
    [statement] = statements
    if _type(statement) == duckdb.StatementType.EXPLAIN:
        inner = _explained(connection, statement.query)
        if inner is None or _type(inner) not in _READING:
            what = "EXPLAIN of something" if inner is None else f"EXPLAIN of a {_kind(inner)} statement"
            raise QueryError(f"{what} is not allowed", hint=_HINT)
        return statement
    if _type(statement) not in _READING:
        raise QueryError(f"{_kind(statement)} statements are not allowed", hint=_HINT)
    return statement


def _type(statement: duckdb.Statement) -> duckdb.StatementType | None:
    """The statement's type, or None for one the Python binding has no name for.

    DuckDB's parser knows statements its Python enum does not (``UPDATE EXTENSIONS`` is type 29 on DuckDB
    2.0), and reading ``.type`` of one raises ``ValueError``; such a statement is no reading one.
    """
    try:
        return statement.type
    except ValueError:
        return None


def _parse(connection: duckdb.DuckDBPyConnection, sql: str) -> list[duckdb.Statement]:
    from trailsmith.sql.messages import one_line

    try:
        return list(connection.extract_statements(sql))
    except (duckdb.Error, ValueError, RuntimeError) as exc:  # the binding raises more than duckdb.Error
        raise QueryError(one_line(exc, sql)) from None


#: How a refused statement type is named in the message, where DuckDB's own name would puzzle.
_NAMES = {"LOAD": "INSTALL/LOAD", "MULTI": "multi-statement (PIVOT ...)"}


def _kind(statement: duckdb.Statement) -> str:
    kind = _type(statement)
    if kind is None:
        return _unnamed(statement)
    name = kind.name.replace("_STATEMENT", "")
    return _NAMES.get(name, name.replace("_", " "))


def _unnamed(statement: duckdb.Statement) -> str:
    """A statement of a type the binding cannot name, named by its first two words (``UPDATE EXTENSIONS``)."""
    words = statement.query.split()[:2]
    return " ".join(word.upper() for word in words if word.isalpha()) or "this kind of"


def _explained(connection: duckdb.DuckDBPyConnection, text: str) -> duckdb.Statement | None:
    """The statement an ``EXPLAIN [ANALYZE] [(options)]`` wraps, found with DuckDB's tokenizer."""
    tokens = [offset for offset, _ in duckdb.tokenize(text)]
    index = 1  # token 0 is EXPLAIN
    if index < len(tokens) and _word(text, tokens, index).upper() == "ANALYZE":
        index += 1
    if index < len(tokens) and _word(text, tokens, index) == "(":
        depth = 0
        while index < len(tokens):
            word = _word(text, tokens, index)
            depth += word == "("
            depth -= word == ")"
            index += 1
            if depth == 0:
                break
    if index >= len(tokens):
        return None
    inner = _parse(connection, text[tokens[index] :])
    return inner[0] if len(inner) == 1 else None


def _word(text: str, starts: list[int], index: int) -> str:
    end = starts[index + 1] if index + 1 < len(starts) else len(text)
    return text[starts[index] : end].strip()
