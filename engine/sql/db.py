"""Read-side access: a DuckDB connection whose views show the warehouse's latest snapshot, read-only.

Views (DuckDB resolves names case-insensitively, so Athena-style ``useridentity.arn`` works too):

- ``events``: every stored event, CloudTrail's columns plus ``principalArn``, ``sourceFile``,
  ``extraFields`` and the partition column ``eventDate`` (filter on it to skip whole partitions);
- ``quarantine``: every quarantined file and record, with its reason;
- ``sources``: every input file already read, with its status;
- ``actions``, ``calls``, ``principals``, ``resources_touched``: derived views, see
  :mod:`trailsmith.sql.views`.

The views list the snapshot's files explicitly, so a concurrent ingest never shows a partial commit. The
connection can read those files and nothing else, and whatever trailsmith runs on it is checked to be one
reading statement first (:mod:`trailsmith.sql.sandbox`), so no query can change or lose the warehouse.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import duckdb
import pyarrow as pa

from trailsmith.errors import QueryError
from trailsmith.sql import sandbox, views
from trailsmith.sql.messages import one_line
from trailsmith.warehouse import quarantine as quarantine_module
from trailsmith.warehouse.schema import EVENTS_SCHEMA, PARTITION_COLUMN, SOURCES_SCHEMA
from trailsmith.warehouse.store import Snapshot, Warehouse, default_path

#: Rows per Arrow record batch when results are streamed.
BATCH_ROWS = 64 * 1024


def _literal_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _parquet_view(
    connection: duckdb.DuckDBPyConnection,
    name: str,
    paths: list[str],
    empty: pa.Schema,
    *,
    hive: bool = False,
) -> None:
    if not paths:
        connection.register(f"__empty_{name}", empty.empty_table())
        connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM __empty_{name}")
        return
    options = f", hive_partitioning = true, hive_types = {{'{PARTITION_COLUMN}': DATE}}" if hive else ""
    connection.execute(
        f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({_literal_list(paths)}{options})"
    )


def _snapshot_paths(warehouse: Warehouse, relative: tuple[str, ...] | list[str]) -> list[str]:
    # absolute, so that the sandbox's allow-list matches whatever the working directory is
    return [str(warehouse.path(p).absolute()) for p in relative]


def attach_views(
    connection: duckdb.DuckDBPyConnection, warehouse: Warehouse, snapshot: Snapshot
) -> list[str]:
    """Create the ``events``, ``quarantine`` and ``sources`` views of ``snapshot``.

    Returns the files they read.
    """

    events_empty = EVENTS_SCHEMA.append(pa.field(PARTITION_COLUMN, pa.date32()))
    events = _snapshot_paths(warehouse, [f.path for f in snapshot.files])
    quarantine = _snapshot_paths(warehouse, snapshot.quarantine)
    sources = _snapshot_paths(warehouse, snapshot.sources)
    _parquet_view(connection, "events", events, events_empty, hive=True)
    _parquet_view(connection, "quarantine", quarantine, quarantine_module.SCHEMA)
    _parquet_view(connection, "sources", sources, SOURCES_SCHEMA)
    return events + quarantine + sources


def connect(warehouse: str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the warehouse's views, locked down to reading them.

    The connection can read the snapshot's files and nothing else, and its configuration is locked
    (:func:`trailsmith.sql.sandbox.lock_down`). Statements run through :func:`execute`, :func:`query` or the
    CLI are also checked to be reading ones; SQL run directly on the returned connection is not, which is no
    loss: Python code can already touch any file it likes.

    >>> import trailsmith, tempfile
    >>> trailsmith.connect(tempfile.mkdtemp())  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    trailsmith.errors.WarehouseError: warehouse ...: no warehouse here
    """
    target = Warehouse(warehouse if warehouse is not None else default_path())
    target.require()
    connection = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        # UTC whatever the machine says: CloudTrail times, eventDate partitions and golden files are all UTC
        connection.execute("SET TimeZone = 'UTC'")
        files = attach_views(connection, target, target.snapshot())
        sandbox.lock_down(connection, files)
        views.attach_derived(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def execute(
    connection: duckdb.DuckDBPyConnection,
    sql: str,
    params: Mapping[str, Any] | None = None,
    *,
    batch_rows: int = BATCH_ROWS,
) -> pa.RecordBatchReader:
    """Check that ``sql`` only reads, run it with ``params`` bound, and stream the result.

    Values are always bound as DuckDB parameters (``$name``), never pasted into the SQL text. Errors,
    while planning or while reading batches, come out as one-line :class:`QueryError`.
    """
    statement = sandbox.check_read_only(connection, sql)
    _check_params(statement.named_parameters, params or {})
    try:
        reader = connection.sql(sql, params=dict(params) if params else None).to_arrow_reader(batch_rows)
    except duckdb.Error as exc:
        raise QueryError(one_line(exc, sql)) from None
    return pa.RecordBatchReader.from_batches(reader.schema, _checked(reader, sql))


def _check_params(wanted: set[str], given: Mapping[str, Any]) -> None:
    missing = sorted(set(wanted) - set(given))
    if missing:
        names = ", ".join(f"${name}" for name in missing)
        example = " ".join(f"--param {n}=VALUE" for n in missing)
        raise QueryError(f"no value for {names}", hint=f"Give it one ({example} on the command line)")
    unused = sorted(set(given) - set(wanted))
    if unused:
        names = ", ".join(unused)
        raise QueryError(
            f"the query has no parameter {names}", hint="Refer to it as $name in the SQL, or drop it"
        )


def _checked(reader: pa.RecordBatchReader, sql: str) -> Iterator[pa.RecordBatch]:
    """Batches of ``reader``; an error raised while running the query becomes one line, not a traceback."""
    try:
        yield from reader
    except (duckdb.Error, pa.ArrowException) as exc:
        raise QueryError(one_line(exc, sql)) from None


def query(
    sql: str, warehouse: str | os.PathLike[str] | None = None, params: Mapping[str, Any] | None = None
) -> pa.Table:
    """Run one reading ``sql`` statement over the warehouse's views; the result as an Arrow table.

    >>> trailsmith.query(
    ...     "SELECT principalArn, count(*) AS calls FROM calls GROUP BY ALL", "wh"
    ... )  # doctest: +SKIP
    """
    connection = connect(warehouse)
    try:
        return execute(connection, sql, params).read_all()
    finally:
        connection.close()
