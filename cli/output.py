"""Rows to stdout (or ``--out FILE``) in the format asked for, streamed batch by batch.

Every command that prints rows uses :func:`write` (or :func:`write_to` for ``--out``), so ``--format``
means the same thing everywhere. ``--out`` writes what it names the way a shell's ``>`` would, only
safer (:func:`trailsmith.files.writing`): a file is replaced once complete, a device, a FIFO or a
symlink's target is written into; whatever goes wrong is one :class:`OutputError` line. ``table``
collects the rows, for a terminal; ``parquet`` is binary and goes to a file only.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import io
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer

from trailsmith.errors import OutputError, TrailsmithError
from trailsmith.files import writing


class Format(str, enum.Enum):
    table = "table"
    csv = "csv"
    json = "json"
    ndjson = "ndjson"
    parquet = "parquet"


#: The ``--format`` and ``--out`` options, for every command that prints rows.
FormatOption = typer.Option(
    None,
    "--format",
    "-f",
    help="table, csv, json, ndjson or parquet (parquet needs --out) [default: from --out's extension, else "
    "table on a terminal and csv in a pipe].",
    show_default=False,
)
OutOption = typer.Option(
    None,
    "--out",
    "-o",
    help="Write the rows to this file instead of stdout (a file is replaced only once complete; a device, "
    "a FIFO or a symlink's target is written into).",
    show_default=False,
)

_EXTENSIONS = {
    ".csv": Format.csv,
    ".json": Format.json,
    ".ndjson": Format.ndjson,
    ".jsonl": Format.ndjson,
    ".parquet": Format.parquet,
    ".txt": Format.table,
}


def resolve(fmt: Format | None, out: Path | None = None) -> Format:
    """No --format: from --out's extension; else a table on a terminal, CSV into a pipe or a file."""
    if fmt is None and out is not None:
        fmt = _EXTENSIONS.get(out.suffix.lower(), Format.csv)
    if fmt is None:
        fmt = Format.table if sys.stdout.isatty() else Format.csv
    if fmt is Format.parquet and out is None:
        raise TrailsmithError(
            "--format parquet writes a file, not a terminal or a pipe", hint="Add --out FILE.parquet"
        )
    return fmt


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
                [
                    None if v is None else orjson.dumps(v, default=_json_default).decode()
                    for v in column.to_pylist()
                ],
                pa.string(),
            )
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


#: A writer puts batches on a binary stream and returns the number of rows written.
Writer = Callable[[Iterable[pa.RecordBatch], pa.Schema, IO[bytes]], int]


def _write_parquet(batches: Iterable[pa.RecordBatch], schema: pa.Schema, out: IO[bytes]) -> int:
    rows = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def _write_csv(batches: Iterable[pa.RecordBatch], schema: pa.Schema, out: IO[bytes]) -> int:
    rows = 0
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
    return rows


def _write_ndjson(batches: Iterable[pa.RecordBatch], schema: pa.Schema, out: IO[bytes]) -> int:
    rows = 0
    for batch in batches:
        for row in batch.to_pylist():
            out.write(orjson.dumps(row, default=_json_default, option=orjson.OPT_APPEND_NEWLINE))
        rows += batch.num_rows
    return rows


def _write_json(batches: Iterable[pa.RecordBatch], schema: pa.Schema, out: IO[bytes]) -> int:
    rows = 0
    out.write(b"[")
    for batch in batches:
        for row in batch.to_pylist():
            out.write((b",\n" if rows else b"\n") + orjson.dumps(row, default=_json_default))
            rows += 1
    out.write(b"\n]\n" if rows else b"]\n")
    return rows


def _write_table(batches: Iterable[pa.RecordBatch], schema: pa.Schema, out: IO[bytes]) -> int:
    return _table(batches, schema, None if out is sys.stdout.buffer else out)


#: Every ``--format``, and what writes it.
WRITERS: dict[Format, Writer] = {
    Format.table: _write_table,
    Format.csv: _write_csv,
    Format.json: _write_json,
    Format.ndjson: _write_ndjson,
    Format.parquet: _write_parquet,
}


def write(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, fmt: Format, out: IO[bytes] | None = None
) -> int:
    """Write ``batches`` to ``out`` (stdout) as ``fmt``; returns the number of rows."""
    out = out or sys.stdout.buffer
    rows = WRITERS[fmt](batches, schema, out)
    out.flush()
    return rows


def write_to(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    fmt: Format,
    path: Path | None,
    *,
    protect: Path | None = None,
) -> int:
    """:func:`write` to stdout, or to ``path`` via a temporary file renamed once complete.

    ``protect``: a directory the file must not be in (the warehouse: no query output may replace its files).
    """
    if path is None:
        return write(batches, schema, fmt)
    if protect is not None and path.resolve().is_relative_to(protect.resolve()):
        raise TrailsmithError(
            f"--out {path} is inside the warehouse {protect}", hint="Write the result elsewhere"
        )
    with opened(path, "--out") as handle:
        return write(batches, schema, fmt, handle)


@contextlib.contextmanager
def opened(path: Path, option: str) -> Iterator[IO[bytes]]:
    """:func:`trailsmith.files.writing` ``path``; a failure to open or write it is one :class:`OutputError`.

    ``option`` names the option that chose ``path``, for the message. Only the file's own errors are
    turned into that line: errors of the query feeding it are :class:`TrailsmithError` already.
    """
    try:
        with writing(path) as handle:
            yield handle
    except OSError as exc:
        raise output_error(option, path, exc) from None


def output_error(option: str, path: Path, error: OSError) -> OutputError:
    """``error``, met writing ``path``, as the one line that says what to do about it."""
    problem = error.strerror or str(error)
    hints = {
        errno.ENOENT: "Create the folder first, or give a path in an existing one",
        errno.EISDIR: "Give a file name, not a directory",
        errno.ENOTDIR: "A part of the path is a file, not a folder",
        errno.EACCES: "Give a path you may write",
        errno.EPERM: "Give a path you may write",
        errno.EROFS: "Give a path on a writable file system",
        errno.ENOSPC: "Free some space, or write elsewhere",
    }
    return OutputError(option, str(path), problem, hint=hints.get(error.errno or 0))


def _table(batches: Iterable[pa.RecordBatch], schema: pa.Schema, out: IO[bytes] | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(*schema.names, show_lines=False)
    rows = 0
    for batch in batches:
        for row in _flat(batch).to_pylist():
            table.add_row(*("" if v is None else str(v) for v in row.values()))
            rows += 1
    if out is None:
        Console(highlight=False).print(table)
    else:
        text = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
        Console(file=text, highlight=False, width=200).print(table)
        text.detach()
    return rows
