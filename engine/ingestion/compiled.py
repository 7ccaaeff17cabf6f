"""The compiled decoder: plain CloudTrail log files straight into Arrow, for the common case.

Most files of an archive are ``{"Records": [...]}`` exactly as CloudTrail writes them. The extension
``_fastdecode`` (C, built by ``setup.py`` where a compiler exists) parses such a text directly into the
buffers of the warehouse's Arrow columns, without a Python object per record or per value. It takes a file
only whole and only when it is plainly clean; any other file (unknown or duplicate keys, odd types, bad
UTF-8, missing required fields, an unusual ``eventTime`` ...) is declined and read by the Python decoder
(:mod:`.decode` and :mod:`.arrowize`), which then gives the reasons, the extras and the rejections. A file
accepted here gives exactly the rows the Python path gives; the tests check that difference by difference.

The extension is optional: without it, or with ``TRAILSMITH_NO_CEXT=1`` in the environment, every file takes
the Python path.
"""

from __future__ import annotations

import importlib
import os
from itertools import chain, repeat
from types import ModuleType
from typing import Any

import msgspec
import pyarrow as pa

from trailsmith.ingestion.arrowize import principal_arn
from trailsmith.warehouse.records import LAZY, REQUIRED, Record, Resource, struct_fields
from trailsmith.warehouse.schema import DERIVED, EVENTS_SCHEMA, TIMESTAMP, arrow_type

#: Set to a non-empty value other than ``0`` to read every file with the Python decoder.
DISABLE_VARIABLE = "TRAILSMITH_NO_CEXT"

#: Which decoder read a file, as the ingest summary counts them.
COMPILED, PYTHON = "compiled", "python"


def load() -> ModuleType | None:
    """The extension module, or None when it is not built or is disabled by :data:`DISABLE_VARIABLE`."""
    if os.environ.get(DISABLE_VARIABLE, "") not in ("", "0"):
        return None
    try:
        return importlib.import_module("trailsmith.ingestion._fastdecode")
    except ImportError:
        return None


def _spec(module: ModuleType, struct: type) -> list[tuple[str, int, bool, list[Any]]]:
    """The extension's description of ``struct``'s fields: (name, kind, required, children) each, derived
    from the record structs as the warehouse schema is (``schema.arrow_type``)."""
    return [
        (
            name,
            _kind(module, struct, name, default),
            struct is Record and name in REQUIRED,
            _children(module, struct, name, default),
        )
        for name, default in struct_fields(struct)
    ]


def _nested(struct: type, name: str, default: Any) -> type | None:
    """The struct type of a nested object field (parsed lazily or not: the same to the extension)."""
    if struct is Record and name in LAZY:
        return LAZY[name]
    return type(default) if isinstance(default, msgspec.Struct) else None


def _kind(module: ModuleType, struct: type, name: str, default: Any) -> int:
    """The extension's kind of a field: a nested object, a list of objects, a JSON blob kept as text..."""
    if _nested(struct, name, default) is not None:
        return int(module.STRUCT)
    if isinstance(default, msgspec.Raw):
        return int(module.RAW)
    dtype = arrow_type(struct, name, default)
    if pa.types.is_list(dtype):
        return int(module.LIST)
    kinds = {TIMESTAMP: module.TIME, pa.bool_(): module.BOOL, pa.string(): module.STRING}
    return int(kinds[dtype])


def _children(module: ModuleType, struct: type, name: str, default: Any) -> list[Any]:
    nested = _nested(struct, name, default)
    if nested is not None:
        return _spec(module, nested)
    if pa.types.is_list(arrow_type(struct, name, default)):  # resources: the one list, of Resource
        return [("item", module.STRUCT, False, _spec(module, Resource))]
    return []


#: The columns the extension builds: every record field (the derived columns are added in :meth:`take`).
_RECORD_SCHEMA = pa.schema(list(EVENTS_SCHEMA)[: len(struct_fields(Record))])


class Batches:
    """Accumulates accepted files' rows; :meth:`take` gives them as one batch in :data:`EVENTS_SCHEMA`."""

    def __init__(self, module: ModuleType) -> None:
        self._builder = module.Builder(_spec(module, Record))
        self._files: list[tuple[str, int]] = []

    @property
    def rows(self) -> int:
        return int(self._builder.rows)

    def add(self, text: bytes | memoryview, uri: str) -> int | None:
        """Add the records of one file's JSON text; None (and nothing added) when the file is not ours."""
        added = self._builder.add(text)
        if added < 0:
            return None
        if added:
            self._files.append((uri, added))
        return int(added)

    def take(self) -> tuple[pa.RecordBatch, list[tuple[str, int]]]:
        """The rows added so far, with the derived columns, and ``(uri, rows)`` of each file; starts over."""
        length, columns = self._builder.finish()
        files, self._files = self._files, []
        arrays = [_array(field.type, column) for field, column in zip(_RECORD_SCHEMA, columns, strict=True)]
        identities = arrays[_RECORD_SCHEMA.get_field_index("userIdentity")]
        derived = {
            "principalArn": principal_arn(identities),
            "sourceFile": pa.array(
                list(chain.from_iterable(repeat(uri, rows) for uri, rows in files)), pa.string()
            ),
            "extraFields": pa.nulls(length, pa.string()),  # a file with unknown keys is never ours
        }
        arrays.extend(derived[name] for name, _ in DERIVED)
        return pa.RecordBatch.from_arrays(arrays, schema=EVENTS_SCHEMA), files


def _array(dtype: pa.DataType, column: tuple[Any, ...]) -> pa.Array:
    """One column from the extension's buffers: ``(length, nulls, validity or None, rest)``."""
    length, nulls, validity, rest = column
    buffers = [None if validity is None else pa.py_buffer(validity)]
    if pa.types.is_struct(dtype):
        children = [_array(field.type, child) for field, child in zip(dtype, rest, strict=True)]
        return pa.Array.from_buffers(dtype, length, buffers, null_count=nulls, children=children)
    if pa.types.is_list(dtype):
        offsets, items = rest
        return pa.Array.from_buffers(
            dtype,
            length,
            [*buffers, pa.py_buffer(offsets)],
            null_count=nulls,
            children=[_array(dtype.value_type, items)],
        )
    return pa.Array.from_buffers(dtype, length, buffers + [pa.py_buffer(b) for b in rest], null_count=nulls)
