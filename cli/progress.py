"""A rich progress bar for long work, on stderr; silent when stderr is not a terminal or with --quiet."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


class IngestProgress:
    """Implements :class:`trailsmith.ingestion.driver.Progress`: files, events and MB/s."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("files  {task.fields[events]:,} events  {task.fields[rate]:.1f} MB/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=stderr,
            transient=True,
        )
        self._task: Any = None
        self._bytes = 0
        self._events = 0

    def __enter__(self) -> IngestProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def start(self, files: int, bytes: int) -> None:
        self._task = self._bar.add_task("ingest", total=files, events=0, rate=0.0)

    def advance(self, files: int, bytes: int, events: int) -> None:
        self._bytes += bytes
        self._events += events
        elapsed = self._bar.tasks[0].elapsed or 1e-9
        self._bar.update(self._task, advance=files, events=self._events, rate=self._bytes / 1e6 / elapsed)

    def status(self, message: str) -> None:
        if self._task is not None:
            self._bar.update(self._task, description=message)
