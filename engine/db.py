"""Read-side access: a DuckDB connection whose views show the warehouse's latest snapshot.

Views (DuckDB resolves names case-insensitively, so Athena-style ``useridentity.arn`` works too):

- ``events``: every stored event, CloudTrail's columns plus ``principalArn``, ``sourceFile``,
  ``extraFields`` and the partition column ``eventDate`` (filter on it to skip whole partitions);
- ``quarantine``: every quarantined file and record, with its reason;
- ``sources``: every input file already read, with its status.

The views list the snapshot's files explicitly, so a concurrent ingest never shows a partial commit.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import duckdb
import pyarrow as pa

from trailsmith import quarantine as quarantine_module
from trailsmith.schema import EVENTS_SCHEMA, PARTITION_COLUMN
from trailsmith.warehouse import Snapshot, Warehouse, default_path


def _literal_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _parquet_view(
    connection: duckdb.DuckDBPyConnection, name: str, paths: list[str], empty: pa.Schema, *, hive: bool = False
) -> None:
    if not paths:
        connection.register(f"__empty_{name}", empty.empty_table())
        connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM __empty_{name}")
        return
    options = f", hive_partitioning = true, hive_types = {{'{PARTITION_COLUMN}': DATE}}" if hive else ""
    connection.execute(
        f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({_literal_list(paths)}{options})"
    )


def attach_views(connection: duckdb.DuckDBPyConnection, warehouse: Warehouse, snapshot: Snapshot) -> None:
    """Create the ``events``, ``quarantine`` and ``sources`` views of ``snapshot`` on ``connection``."""
    from trailsmith.ingest import SOURCES_SCHEMA

    events_empty = EVENTS_SCHEMA.append(pa.field(PARTITION_COLUMN, pa.date32()))
    _parquet_view(
        connection, "events", [str(warehouse.path(f.path)) for f in snapshot.files], events_empty, hive=True
    )
    _parquet_view(
        connection, "quarantine", [str(warehouse.path(p)) for p in snapshot.quarantine], quarantine_module.SCHEMA
    )
    _parquet_view(connection, "sources", [str(warehouse.path(p)) for p in snapshot.sources], SOURCES_SCHEMA)


def connect(warehouse: str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the warehouse's views.

    >>> import trailsmith, tempfile
    >>> trailsmith.connect(tempfile.mkdtemp())  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    trailsmith.errors.WarehouseError: warehouse ...: no warehouse here
    """
    target = Warehouse(warehouse if warehouse is not None else default_path())
    target.require()
    connection = duckdb.connect()
    attach_views(connection, target, target.snapshot())
    return connection


def query(
    sql: str, warehouse: str | os.PathLike[str] | None = None, params: Mapping[str, Any] | None = None
) -> pa.Table:
    """Run ``sql`` over the warehouse's views; the result as an Arrow table."""
    from trailsmith.errors import QueryError

    connection = connect(warehouse)
    try:
        return connection.sql(sql, params=dict(params) if params else None).to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(str(exc).splitlines()[0]) from None
    finally:
        connection.close()
