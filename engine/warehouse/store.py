"""The warehouse directory: layout, snapshots, the write lock and crash recovery.

Layout::

    warehouse/
      events/eventDate=YYYY-MM-DD/part-*.parquet   the events, Hive-partitioned by UTC date (zstd Parquet)
      quarantine/index/part-*.parquet              every quarantined file and record, with its reason
      quarantine/files/<sha256>                    the original bytes of each quarantined file
      _trailsmith/snapshots/NNNNNNNN.json          one JSON document per commit: the files that make the table
      _trailsmith/sources/part-*.parquet           every input file already read (URI + fingerprint),
                                                   per commit
      _trailsmith/staging/                         work in progress of a running ingest (never read)
      _trailsmith/lock                             held (flock) by the one ingest writing

The latest snapshot is the truth. A commit writes its data files first, then the next snapshot atomically
(write, fsync, rename): readers that go through a snapshot never see a partial commit, and a run killed at
any moment leaves at most unreferenced files, which the next writer deletes before it starts. Directory
names starting with ``_`` are ignored by Spark, Hive and Athena, so engines that list ``events/`` directly
see committed data only (between a crash and the next ingest they may also see the killed run's files;
``trailsmith ingest`` with no new input, or :meth:`Warehouse.recover`, removes them).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson

from trailsmith.errors import WarehouseBusyError, WarehouseError
from trailsmith.files import write_atomically

FORMAT_VERSION = 1
DEFAULT_PATH = "warehouse"
ENV_VAR = "TRAILSMITH_WAREHOUSE"
_KEEP_SNAPSHOTS = 20


def default_path() -> Path:
    """``$TRAILSMITH_WAREHOUSE``, else ``./warehouse``."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


@dataclass(frozen=True)
class DataFile:
    """One committed Parquet file of the events table."""

    path: str  # relative to the warehouse root, always with forward slashes
    date: str  # YYYY-MM-DD, its eventDate partition
    rows: int
    bytes: int


@dataclass(frozen=True)
class Snapshot:
    """The committed state of the warehouse after one commit (version 0: empty)."""

    version: int = 0
    files: tuple[DataFile, ...] = ()
    sources: tuple[str, ...] = ()
    quarantine: tuple[str, ...] = ()
    created: str = ""

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def files_for(self, dates: set[str]) -> list[DataFile]:
        return [f for f in self.files if f.date in dates]

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "format": FORMAT_VERSION,
                "version": self.version,
                "created": self.created,
                "files": [[f.path, f.date, f.rows, f.bytes] for f in self.files],
                "sources": list(self.sources),
                "quarantine": list(self.quarantine),
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> Snapshot:
        doc = orjson.loads(data)
        if doc.get("format") != FORMAT_VERSION:
            raise ValueError(f"snapshot format {doc.get('format')!r} is not {FORMAT_VERSION}")
        return cls(
            version=doc["version"],
            files=tuple(DataFile(*item) for item in doc["files"]),
            sources=tuple(doc["sources"]),
            quarantine=tuple(doc["quarantine"]),
            created=doc["created"],
        )


@dataclass
class Recovery:
    """What :meth:`Warehouse.recover` removed: leftovers of killed or replaced work."""

    removed: list[str] = field(default_factory=list)


class Warehouse:
    """A warehouse directory. Cheap to create; touches the disk only when asked.

    >>> Warehouse("/tmp/does-not-exist").exists()
    False
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.meta = self.root / "_trailsmith"
        self.events_dir = self.root / "events"
        self.snapshots_dir = self.meta / "snapshots"
        self.sources_dir = self.meta / "sources"
        self.staging_dir = self.meta / "staging"
        self.tmp_dir = self.meta / "tmp"
        self.quarantine_dir = self.root / "quarantine"

    def __repr__(self) -> str:
        return f"Warehouse({str(self.root)!r})"

    def exists(self) -> bool:
        return self.snapshots_dir.is_dir()

    def create(self) -> None:
        """Create an empty warehouse here; refuses a non-empty directory that is not a warehouse."""
        if self.exists():
            return
        if self.root.exists() and not self.root.is_dir():
            raise WarehouseError(str(self.root), "exists and is not a directory")
        if self.root.is_dir() and any(self.root.iterdir()):
            raise WarehouseError(
                str(self.root),
                "is a non-empty directory that is not a trailsmith warehouse",
                hint="Choose an empty or new directory with --warehouse",
            )
        for directory in (self.snapshots_dir, self.sources_dir, self.staging_dir, self.events_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def require(self) -> None:
        if not self.exists():
            raise WarehouseError(
                str(self.root),
                "no warehouse here",
                hint="Run 'trailsmith ingest SOURCE --warehouse DIR' first, or point --warehouse (or "
                f"${ENV_VAR}) at an existing one",
            )

    # --- snapshots -------------------------------------------------------------------------------

    def versions(self) -> list[int]:
        if not self.snapshots_dir.is_dir():
            return []
        return sorted(int(p.stem) for p in self.snapshots_dir.glob("*.json") if p.stem.isdigit())

    def snapshot(self) -> Snapshot:
        """The latest committed snapshot (an empty one for a new warehouse)."""
        versions = self.versions()
        if not versions:
            return Snapshot()
        path = self.snapshots_dir / f"{versions[-1]:08d}.json"
        try:
            return Snapshot.from_json(path.read_bytes())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WarehouseError(str(self.root), f"snapshot {path.name} is unreadable ({exc})") from None

    def commit(self, snapshot: Snapshot) -> Snapshot:
        """Make ``snapshot`` (whose files are already in place) the latest, atomically."""
        current = self.versions()
        version = (current[-1] if current else 0) + 1
        committed = replace(
            snapshot, version=version, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        )
        write_atomically(self.snapshots_dir / f"{version:08d}.json", committed.to_json(), durable=True)
        for old in current[:-_KEEP_SNAPSHOTS]:
            with contextlib.suppress(FileNotFoundError):
                (self.snapshots_dir / f"{old:08d}.json").unlink()
        return committed

    def path(self, relative: str) -> Path:
        return self.root / relative

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    # --- the write lock --------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the write lock; a second writer gets :class:`WarehouseBusyError` at once.

        ``flock`` locks die with their process, so a ``kill -9`` never leaves a stale lock behind.
        """
        self.meta.mkdir(parents=True, exist_ok=True)
        with open(self.meta / "lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise WarehouseBusyError(
                    str(self.root),
                    f"another ingest is writing to it ({holder})",
                    hint="Wait for it to finish; concurrent ingests into one warehouse are refused",
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}")
            handle.flush()
            yield

    # --- crash recovery --------------------------------------------------------------------------

    def recover(self) -> Recovery:
        """Delete everything the latest snapshot does not reference (call with the lock held).

        That is: staging leftovers, data files of a commit that never happened, files replaced by
        compaction, and metadata parts of uncommitted runs.
        """
        snapshot = self.snapshot()
        report = Recovery()
        if self.staging_dir.exists():
            for child in self.staging_dir.iterdir():
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
                report.removed.append(self.relative(child))
        keep = {f.path for f in snapshot.files} | set(snapshot.sources) | set(snapshot.quarantine)
        for directory in (self.events_dir, self.sources_dir, self.quarantine_dir / "index"):
            if not directory.exists():
                continue
            for path in directory.rglob("*"):
                if path.is_file() and self.relative(path) not in keep:
                    path.unlink()
                    report.removed.append(self.relative(path))
        for directory in sorted(self.events_dir.glob("*/"), reverse=True) if self.events_dir.exists() else ():
            with contextlib.suppress(OSError):
                directory.rmdir()  # only succeeds when empty
        for path in self.snapshots_dir.glob("*.tmp") if self.snapshots_dir.exists() else ():
            path.unlink()
            report.removed.append(self.relative(path))
        return report
