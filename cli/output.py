"""Rows to stdout in the format asked for, streamed batch by batch (``table`` collects, for a terminal).

Every command that prints rows uses :func:`write`, so ``--format`` means the same thing everywhere.
"""

from __future__ import annotations

import enum
import sys
from datetime import date, datetime
from typing import IO, Any, Iterable

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv


class Format(str, enum.Enum):
    table = "table"
    csv = "csv"
    json = "json"
    ndjson = "ndjson"


def resolve(fmt: Format | None) -> Format:
    """No --format: a table on a terminal, CSV into a pipe."""
    if fmt is not None:
        return fmt
    return Format.table if sys.stdout.isatty() else Format.csv


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _csv_options(schema: pa.Schema) -> pacsv.WriteOptions:
    # pyarrow quotes every header name unless told "none", which it refuses for names that need quotes
    plain = not any(set(name) & set(',"\r\n') for name in schema.names)
    return pacsv.WriteOptions(quoting_style="needed", quoting_header="none" if plain else "needed")


def _flat(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Nested columns -> JSON text, for CSV and tables."""
    columns = []
    for column in batch.columns:
        if pa.types.is_nested(column.type):
            column = pa.array(
                [None if v is None else orjson.dumps(v, default=_json_default).decode() for v in column.to_pylist()],
                pa.string(),
            )
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def write(batches: Iterable[pa.RecordBatch], schema: pa.Schema, fmt: Format, out: IO[bytes] | None = None) -> int:
    """Write ``batches`` to ``out`` (stdout) as ``fmt``; returns the number of rows."""
    out = out or sys.stdout.buffer
    rows = 0
    if fmt is Format.csv:
        writer = None
        for batch in batches:
            flat = _flat(batch)
            if writer is None:
                writer = pacsv.CSVWriter(out, flat.schema, write_options=_csv_options(flat.schema))
            writer.write_batch(flat)
            rows += batch.num_rows
        if writer is None:
            out.write((",".join(schema.names) + "\n").encode())
        else:
            writer.close()
    elif fmt is Format.ndjson:
        for batch in batches:
            for row in batch.to_pylist():
                out.write(orjson.dumps(row, default=_json_default, option=orjson.OPT_APPEND_NEWLINE))
            rows += batch.num_rows
    elif fmt is Format.json:
        out.write(b"[")
        for batch in batches:
            for row in batch.to_pylist():
                out.write((b",\n" if rows else b"\n") + orjson.dumps(row, default=_json_default))
                rows += 1
        out.write(b"\n]\n" if rows else b"]\n")
    else:
        rows = _table(batches, schema)
    out.flush()
    return rows


def _table(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(*schema.names, show_lines=False)
    rows = 0
    for batch in batches:
        for row in _flat(batch).to_pylist():
            table.add_row(*("" if v is None else str(v) for v in row.values()))
            rows += 1
    Console(highlight=False).print(table)
    return rows
