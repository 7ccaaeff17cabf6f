"""Worker processes for the ingest, each with its own task queue (so ``flush`` reaches every worker).

``workers=1`` runs the same :class:`~trailsmith.ingestion.worker.Worker` in this process: no start-up cost, no
pickling, and the simplest stack traces. With more, each worker is a ``spawn``-ed process (``fork`` after
DuckDB or boto3 have started threads is unsafe) that keeps at most two tasks queued, so the fastest worker
gets the most work.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import multiprocessing
import queue
import sys
import traceback
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from trailsmith.errors import TrailsmithError
from trailsmith.ingestion.entry import SourceEntry
from trailsmith.ingestion.worker import FlushResult, TaskResult, Worker, WorkerOptions
from trailsmith.warehouse.staging import FinalFile, FinalizeTask

_IN_FLIGHT = 2
_POLL_SECONDS = 0.5


class WorkerCrashed(TrailsmithError):
    """A worker process died or raised: the batch is not committed."""


class _NoPandas(importlib.abc.MetaPathFinder):
    """Makes pandas unimportable in a worker.

    pyarrow imports pandas, when it is installed, at the first ``pa.array()`` of a Python list, only to ask
    whether the list is a pandas object: 40 MB and 0.3 s per worker (measured) for nothing, since a worker
    never sees one. A worker is a process of our own, so it goes without.
    """

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("pandas is not used in ingest workers", name=name)
        return None


def _serve(worker_id: int, tasks: Any, results: Any) -> None:
    sys.meta_path.insert(0, _NoPandas())
    import pyarrow

    # The system allocator returns freed memory sooner than Arrow's default (mimalloc): measured here,
    # a worker peaks about 30% lower on large files, at the same speed.
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    worker: Worker | None = None
    while True:
        kind, payload = tasks.get()
        try:
            if kind == "begin":
                worker = Worker(payload)
                continue
            if kind == "stop":
                return
            assert worker is not None
            if kind == "task":
                results.put((worker_id, "task", worker.process(payload)))
            elif kind == "finalize":
                results.put((worker_id, "finalize", worker.finalize(payload)))
            elif kind == "flush":
                results.put((worker_id, "flush", worker.flush()))
        except TrailsmithError as exc:  # a clear error (e.g. S3 unreachable): the parent re-raises its text
            results.put((worker_id, "failed", (str(exc), exc.exit_code)))
            return
        except BaseException:  # a bug: the parent stops the run with the traceback
            results.put((worker_id, "error", traceback.format_exc()))
            return


class Pool:
    """Runs batches of tasks on ``size`` workers (see module docstring)."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._inline: Worker | None = None
        self._processes: list[Any] = []
        self._task_queues: list[Any] = []
        self._results: Any = None
        if self.size > 1:
            context = multiprocessing.get_context("spawn")
            self._results = context.Queue()
            for worker_id in range(self.size):
                tasks = context.Queue()
                process = context.Process(target=_serve, args=(worker_id, tasks, self._results), daemon=True)
                process.start()
                self._processes.append(process)
                self._task_queues.append(tasks)

    def begin(self, options: list[WorkerOptions]) -> None:
        """Start a batch: each worker gets its own options (its own staging names)."""
        if self.size == 1:
            self._inline = Worker(options[0])
            return
        for tasks, worker_options in zip(self._task_queues, options, strict=False):
            tasks.put(("begin", worker_options))

    def run(self, tasks: Iterable[list[SourceEntry]]) -> Iterator[TaskResult]:
        """Phase 1: read, decode and write every task's rows; yields results as they complete (any order)."""
        return self._map("task", tasks)

    def finalize(self, tasks: Iterable[FinalizeTask]) -> Iterator[list[FinalFile]]:
        """Phase 2: write again the files of every task (only those the commit cannot take as they were
        written); yields them as they complete (any order)."""
        return self._map("finalize", tasks)

    def _map(self, kind: str, tasks: Iterable[Any]) -> Iterator[Any]:
        if self.size == 1:
            assert self._inline is not None
            method = self._inline.process if kind == "task" else self._inline.finalize
            for task in tasks:
                yield method(task)
            return
        todo = deque(tasks)
        in_flight = [0] * self.size
        for worker_id in range(self.size):
            for _ in range(_IN_FLIGHT):
                if todo:
                    self._task_queues[worker_id].put((kind, todo.popleft()))
                    in_flight[worker_id] += 1
        while any(in_flight):
            worker_id, _, payload = self._receive()
            in_flight[worker_id] -= 1
            if todo:
                self._task_queues[worker_id].put((kind, todo.popleft()))
                in_flight[worker_id] += 1
            yield payload

    def flush(self) -> list[FlushResult]:
        if self.size == 1:
            assert self._inline is not None
            return [self._inline.flush()]
        for tasks in self._task_queues:
            tasks.put(("flush", None))
        return [self._receive()[2] for _ in range(self.size)]

    def _receive(self) -> tuple[int, str, Any]:
        while True:
            try:
                worker_id, kind, payload = self._results.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                dead = [p for p in self._processes if not p.is_alive()]
                if dead:
                    raise WorkerCrashed(
                        f"a worker process died (exit code {dead[0].exitcode})",
                        hint="Nothing of this batch was committed; "
                        "if it ran out of memory, use fewer --workers",
                    ) from None
                continue
            if kind == "failed":
                error = TrailsmithError(payload[0])
                error.exit_code = payload[1]
                raise error
            if kind == "error":
                raise WorkerCrashed(f"a worker failed:\n{payload}")
            return worker_id, kind, payload

    def close(self) -> None:
        for tasks in self._task_queues:
            with contextlib.suppress(OSError, ValueError):
                tasks.put(("stop", None))
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        self._processes.clear()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
