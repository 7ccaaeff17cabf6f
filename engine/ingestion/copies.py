"""Later copies of events a worker has already written, left out before they are written.

CloudTrail sometimes delivers a log file twice; the copy lands beside the first, in the same folder, and
the ingest hands a folder's files to one worker as one task whenever the folder is not too large
(:func:`trailsmith.ingestion.driver.tasks`). The commit would leave the later copy out anyway
(:func:`trailsmith.warehouse.commit.duplicates`: the copy kept is the first in ``(sourceFile, file, row)``
order), but only by writing the whole file holding it again. So a worker drops a row when it has already
written one of the same task with the same ``(eventDate, eventID)`` that comes first in that order: from a
smaller ``sourceFile``, or from the same file, earlier (a worker writes each date's rows in the order it
reads them). Whatever it cannot decide (a copy that comes before the one it wrote, null eventIDs, copies
in other tasks or committed before) is left to the commit, so the result is the same either way.

The eventIDs of the task are held in the compiled extension's hash set where it is built (about 0.1 us
and 60 bytes per event), otherwise in a dict, with the same answers; a task's are forgotten at its end.

>>> import pyarrow as pa
>>> copies = FirstCopies(None)
>>> ids = pa.array(["a", "b", "a", None, None])
>>> copies.keep("2024-08-01", ids, pa.array(["s3://x/2", "s3://x/2", "s3://x/2", "s3://x/2", "s3://x/2"]))
[(0, 2), (3, 5)]
>>> copies.keep("2024-08-01", pa.array(["b", "a"]), pa.array(["s3://x/1", "s3://x/3"]))
[(0, 1)]
>>> copies.keep("2024-08-02", pa.array(["a"]), pa.array(["s3://x/3"])) is None  # another date: all new
True
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class FirstCopies:
    """Which rows of a date a worker writes: see the module docstring. One per worker and task."""

    def __init__(self, module: ModuleType | None) -> None:
        self._module = module
        self._seen: dict[str, Any] = {}  # date -> the extension's Seen, or a dict eventID -> source index
        self._sources: list[str] = []  # source index -> URI
        self._index: dict[str, int] = {}

    def keep(self, date: str, ids: pa.Array, sources: pa.Array) -> list[tuple[int, int]] | None:
        """For rows of ``date`` with these eventIDs and sourceFiles (in the order they are written), the
        ``(start, end)`` runs of rows to write; None when every row is. Remembers the rows it keeps."""
        source = self._source_indices(sources)
        if self._module is not None:
            firsts = self._first_compiled(date, ids, source)
        else:
            firsts = self._first_python(date, ids, source)
        candidates = np.flatnonzero(firsts >= 0)
        if not len(candidates):
            return None
        drops = [
            row for row in candidates.tolist() if self._sources[firsts[row]] <= self._sources[source[row]]
        ]
        if not drops:
            return None
        runs, start = [], 0
        for row in drops:
            if row > start:
                runs.append((start, row))
            start = row + 1
        if start < len(ids):
            runs.append((start, len(ids)))
        return runs

    def _source_indices(self, sources: pa.Array) -> np.ndarray:
        runs = pc.run_end_encode(sources)
        ends = np.asarray(runs.run_ends.to_numpy(zero_copy_only=False), dtype=np.int64)
        numbers = [self._number(uri) for uri in runs.values.to_pylist()]
        return np.repeat(np.asarray(numbers, np.int32), np.diff(ends, prepend=0))

    def _number(self, uri: str) -> int:
        number = self._index.get(uri)
        if number is None:
            number = self._index[uri] = len(self._sources)
            self._sources.append(uri)
        return number

    def _first_compiled(self, date: str, ids: pa.Array, source: np.ndarray) -> np.ndarray:
        assert self._module is not None
        seen = self._seen.get(date)
        if seen is None:
            seen = self._seen[date] = self._module.Seen()
        validity, offsets, data = ids.buffers()
        answers = seen.first(offsets, data or b"", validity, ids.offset, len(ids), source.tobytes())
        return np.frombuffer(answers, np.int32)

    def _first_python(self, date: str, ids: pa.Array, source: np.ndarray) -> np.ndarray:
        seen: dict[str, int] = self._seen.setdefault(date, {})
        firsts = np.full(len(ids), -1, np.int32)
        for row, (event_id, number) in enumerate(zip(ids.to_pylist(), source.tolist(), strict=True)):
            if event_id is None:
                continue  # left to the commit, as the extension does
            first = seen.get(event_id)
            if first is None:
                seen[event_id] = number
            else:
                firsts[row] = first
        return firsts
