"""Read-side access: a DuckDB connection whose views show the warehouse's latest snapshot, read-only.

Views (DuckDB resolves names case-insensitively, so Athena-style ``useridentity.arn`` works too):

- ``events``: every stored event, CloudTrail's columns plus ``principalArn``, ``sourceFile``,
  ``extraFields`` and the partition column ``eventDate`` (filter on it to skip whole partitions);
- ``quarantine``: every quarantined file and record, with its reason;
- ``sources``: every input file already read, with its status;
- ``actions``, ``calls``, ``principals``, ``resources_touched``, ``resource_tags``, ``session_tags``:
  derived views, see :mod:`trailsmith.sql.views`.

The views list the snapshot's files explicitly, so a concurrent ingest never shows a partial commit. The
connection can read those files and nothing else, and whatever trailsmith runs on it is checked to be one
reading statement first (:mod:`trailsmith.sql.sandbox`), so no query can change or lose the warehouse.

A query is also bounded, so that a careless or hostile one cannot take the machine down with it:

- **memory**: ``memory_limit`` (default :func:`default_memory_limit`: half the machine's memory, at most
  4 GiB); sorts, joins and aggregations beyond it spill to disk, what cannot spill fails as one line;
- **disk**: spilled data goes to a private directory made for the connection (``mkdtemp``, mode 0700),
  at most :func:`default_temp_size` of it, and the directory is removed when the connection closes
  (:func:`close`, or when the connection is garbage-collected). DuckDB's own default, ``.tmp`` under the
  working directory, would spill next to the user's files, and DuckDB lets queries read its temporary
  directory: a private, fresh one holds nothing but this connection's own spill files;
- **time**: ``timeout`` seconds per statement (:func:`execute`), after which the query is interrupted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
import weakref
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

#: The CLI's default ``--timeout`` in seconds. The library's own default is no limit: policy generation
#: and ``unused`` run long aggregations on big warehouses that no option of theirs could raise.
DEFAULT_TIMEOUT = 600.0

_MEMORY_CAP = 4 * 1024**3
_TEMP_CAP = 10 * 1024**3

#: Each open connection's private temporary directory, removed by its finalizer (:func:`close`).
_TEMP_DIRECTORIES: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, weakref.finalize[Any, Any]] = (
    weakref.WeakKeyDictionary()
)


def default_memory_limit() -> str:
    """Half this machine's physical memory, at most 4 GiB, as DuckDB's ``memory_limit`` syntax.

    DuckDB's own default, 80% of the memory, leaves a laptop unusable while a big query runs; half, with a
    cap, leaves room for everything else. Sorts, joins and aggregations spill beyond it.

    >>> default_memory_limit().endswith("MiB")
    True
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows) or no such name
        total = 2 * _MEMORY_CAP
    return f"{min(_MEMORY_CAP, total // 2) // 1024**2}MiB"


def default_temp_size(directory: str | os.PathLike[str]) -> str:
    """How much a query may spill into ``directory``: half the free space there, at most 10 GiB.

    DuckDB's default, 90% of the free space, would fill the disk before a runaway query failed.
    """
    free = shutil.disk_usage(directory).free
    return f"{max(1, min(_TEMP_CAP, free // 2) // 1024**2)}MiB"


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


def connect(
    warehouse: str | os.PathLike[str] | None = None, *, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the warehouse's views, locked down to reading them.

    The connection can read the snapshot's files and nothing else, and its configuration is locked
    (:func:`trailsmith.sql.sandbox.lock_down`). Statements run through :func:`execute`, :func:`query` or the
    CLI are also checked to be reading ones; SQL run directly on the returned connection is not, which is no
    loss: Python code can already touch any file it likes.

    ``memory_limit``: DuckDB's syntax (``2GB``, ``512MiB``) [default: :func:`default_memory_limit`]. Close
    the connection with :func:`close`, which also removes its temporary directory at once.

    >>> import trailsmith, tempfile
    >>> trailsmith.connect(tempfile.mkdtemp())  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    trailsmith.errors.WarehouseError: warehouse ...: no warehouse here
    """
    target = Warehouse(warehouse if warehouse is not None else default_path())
    target.require()
    temporary = tempfile.mkdtemp(prefix="trailsmith-")
    try:
        connection = duckdb.connect(
            config={
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                # from the start, so that DuckDB never allows (or spills into) ./.tmp
                "temp_directory": temporary,
            }
        )
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    _TEMP_DIRECTORIES[connection] = weakref.finalize(connection, shutil.rmtree, temporary, True)
    try:
        # UTC whatever the machine says: CloudTrail times, eventDate partitions and golden files are all UTC
        connection.execute("SET TimeZone = 'UTC'")
        _bound(connection, memory_limit or default_memory_limit(), temporary)
        files = attach_views(connection, target, target.snapshot())
        sandbox.lock_down(connection, files)
        views.attach_derived(connection)
    except BaseException:
        close(connection)
        raise
    return connection


def _bound(connection: duckdb.DuckDBPyConnection, memory_limit: str, temporary: str) -> None:
    try:
        connection.execute("SET memory_limit = $limit", {"limit": memory_limit})
    except duckdb.Error as exc:
        raise QueryError(
            f"--memory-limit {memory_limit!r}: {one_line(exc)}", hint="Give a size such as 2GB or 512MB"
        ) from None
    connection.execute("SET max_temp_directory_size = $size", {"size": default_temp_size(temporary)})


def close(connection: duckdb.DuckDBPyConnection) -> None:
    """Close ``connection`` and remove its temporary directory (with whatever a query spilled there)."""
    connection.close()
    remove = _TEMP_DIRECTORIES.pop(connection, None)
    if remove is not None:
        remove()


def execute(
    connection: duckdb.DuckDBPyConnection,
    sql: str,
    params: Mapping[str, Any] | None = None,
    *,
    batch_rows: int = BATCH_ROWS,
    timeout: float | None = None,
) -> pa.RecordBatchReader:
    """Check that ``sql`` only reads, run it with ``params`` bound, and stream the result.

    Values are always bound as DuckDB parameters (``$name``), never pasted into the SQL text. Errors,
    while planning or while reading batches, come out as one-line :class:`QueryError`. ``timeout``
    (seconds; None or 0: no limit) counts from now until the last batch is read: the query is interrupted
    then, and reading fails with a :class:`QueryError` that says so.
    """
    statement = sandbox.check_read_only(connection, sql)
    _check_params(statement.named_parameters, params or {})
    deadline = _Deadline(connection, timeout)
    try:
        reader = connection.sql(sql, params=dict(params) if params else None).to_arrow_reader(batch_rows)
    except duckdb.Error as exc:
        deadline.cancel()
        raise _failure(exc, sql, deadline) from None
    return pa.RecordBatchReader.from_batches(reader.schema, _checked(reader, sql, deadline))


class _Deadline:
    """Interrupts the connection's running query after ``timeout`` seconds, from a timer thread."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, timeout: float | None) -> None:
        self.timeout = timeout
        self.expired = False
        self._start = time.monotonic()
        self._connection = connection
        self._timer: threading.Timer | None = None
        if timeout:
            self._timer = threading.Timer(timeout, self._interrupt)
            self._timer.daemon = True  # a result never read to the end must not keep the process alive
            self._timer.start()

    def _interrupt(self) -> None:
        self.expired = True
        with contextlib.suppress(duckdb.ConnectionException):  # closed meanwhile: nothing left to stop
            self._connection.interrupt()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def overdue(self) -> bool:
        """Whether the query has run past its time, whether or not the timer has fired yet (a busy machine
        may run the timer thread late, after a short query has finished)."""
        self.expired = self.expired or bool(self.timeout and time.monotonic() - self._start > self.timeout)
        return self.expired


def _failure(error: BaseException, sql: str, deadline: _Deadline) -> QueryError:
    """``error`` as the one line to show; a timeout or exhausted memory says which option to raise."""
    if deadline.expired:
        return QueryError(
            f"the query ran longer than --timeout {deadline.timeout:g}s and was stopped",
            hint="Raise it with --timeout (0: no limit), or narrow the query (filter on eventDate)",
        )
    message = one_line(error, sql)
    if isinstance(error, duckdb.OutOfMemoryException) or message.startswith("Out of Memory Error"):
        # DuckDB goes on with SET statements to try, which a locked connection refuses
        reason = message.split(" Possible solutions:")[0]
        return QueryError(
            f"the query needs more memory than --memory-limit allows: {reason}",
            hint="Raise it with --memory-limit, or narrow the query",
        )
    return QueryError(message)


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


def _checked(reader: pa.RecordBatchReader, sql: str, deadline: _Deadline) -> Iterator[pa.RecordBatch]:
    """Batches of ``reader``; an error raised while running the query becomes one line, not a traceback.

    DuckDB's errors reach here as :class:`duckdb.Error`, or, raised inside Arrow's stream, as Arrow's
    exceptions or a plain ``OSError`` carrying DuckDB's message.
    """
    try:
        for batch in reader:
            if deadline.overdue():
                raise _failure(TimeoutError(), sql, deadline)
            yield batch
    except (duckdb.Error, pa.ArrowException, OSError) as exc:
        raise _failure(exc, sql, deadline) from None
    finally:
        deadline.cancel()


def query(
    sql: str,
    warehouse: str | os.PathLike[str] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    timeout: float | None = None,
    memory_limit: str | None = None,
) -> pa.Table:
    """Run one reading ``sql`` statement over the warehouse's views; the result as an Arrow table.

    ``timeout`` and ``memory_limit`` bound it (see :func:`execute` and :func:`connect`).

    >>> trailsmith.query(
    ...     "SELECT principalArn, count(*) AS calls FROM calls GROUP BY ALL", "wh"
    ... )  # doctest: +SKIP
    """
    connection = connect(warehouse, memory_limit=memory_limit)
    try:
        return execute(connection, sql, params, timeout=timeout).read_all()
    finally:
        close(connection)
