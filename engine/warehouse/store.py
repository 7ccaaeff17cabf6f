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
      _trailsmith/damaged/                         files ``trailsmith verify --repair`` set aside

The latest snapshot is the truth. A commit writes its data files first, then the next snapshot atomically
(write, fsync, rename): readers that go through a snapshot never see a partial commit, and a run killed at
any moment leaves at most unreferenced files, which the next writer deletes before it starts. Directory
names starting with ``_`` are ignored by Spark, Hive and Athena, so engines that list ``events/`` directly
see committed data only (between a crash and the next ingest they may also see the killed run's files;
``trailsmith ingest`` with no new input, or :meth:`Warehouse.recover`, removes them).

A snapshot records each file's size and SHA-256, and is trusted no further than
:mod:`trailsmith.warehouse.integrity` checks it: every reader gets a snapshot whose files are the
warehouse's own and have the size the commit wrote, or one line saying which file is damaged.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

import msgspec
import orjson

from trailsmith.errors import WarehouseBusyError, WarehouseError
from trailsmith.files import write_atomically
from trailsmith.warehouse import integrity
from trailsmith.warehouse.integrity import Problem

#: Format 2 records each file's size and SHA-256; format 1 snapshots (no checksums) are still read.
FORMAT_VERSION = 2
_READABLE_FORMATS = (1, 2)
DEFAULT_PATH = "warehouse"
ENV_VAR = "TRAILSMITH_WAREHOUSE"
_KEEP_SNAPSHOTS = 20
#: Times a reader re-reads the latest snapshot when its files changed under it (a commit replaced them).
_RETRIES = 3


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
    sha256: str | None = None  # None: committed by a version that did not record it


@dataclass(frozen=True)
class Part:
    """Size and SHA-256 of one committed part of an index table (``sources``, ``quarantine``)."""

    path: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Snapshot:
    """The committed state of the warehouse after one commit (version 0: empty)."""

    version: int = 0
    files: tuple[DataFile, ...] = ()
    sources: tuple[str, ...] = ()
    quarantine: tuple[str, ...] = ()
    created: str = ""
    parts: tuple[Part, ...] = ()  # of the paths in sources and quarantine, where recorded (format 2)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def files_for(self, dates: set[str]) -> list[DataFile]:
        return [f for f in self.files if f.date in dates]

    def named(self) -> list[tuple[str, str, int | None, str | None]]:
        """``(kind, path, bytes, sha256)`` of every file the snapshot names; kind is a key of LAYOUT."""
        recorded = {p.path: p for p in self.parts}
        found: list[tuple[str, str, int | None, str | None]] = [
            ("events", f.path, f.bytes, f.sha256) for f in self.files
        ]
        for kind, paths in (("sources", self.sources), ("quarantine", self.quarantine)):
            for path in paths:
                part = recorded.get(path)
                found.append((kind, path, part.bytes if part else None, part.sha256 if part else None))
        return found

    def layout_problems(self) -> list[Problem]:
        """Every named path that is not a file of the warehouse's layout, or in the wrong partition."""
        problems: list[Problem] = []
        for kind, path, _, _ in self.named():
            what = integrity.layout_problem(kind, path)
            if what:
                problems.append(Problem(path, what))
        for f in self.files:
            if not integrity.layout_problem("events", f.path) and integrity.event_date(f.path) != f.date:
                problems.append(Problem(f.path, f"is in the partition of another date than {f.date}"))
        return problems

    def to_json(self) -> bytes:
        recorded = {p.path: p for p in self.parts}

        def part(path: str) -> list[object]:
            known = recorded.get(path)
            return [path, known.bytes, known.sha256] if known else [path, None, None]

        return orjson.dumps(
            {
                "format": FORMAT_VERSION,
                "version": self.version,
                "created": self.created,
                "files": [[f.path, f.date, f.rows, f.bytes, f.sha256] for f in self.files],
                "sources": [part(p) for p in self.sources],
                "quarantine": [part(p) for p in self.quarantine],
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> Snapshot:
        """Parse a snapshot of any readable format; ``msgspec.ValidationError`` (a ValueError) when malformed.

        >>> Snapshot.from_json(b'{"format": 2, "version": 1, "created": "", "files": [], "sources": [], '
        ...     b'"quarantine": [["quarantine/index/part-1.parquet", 4, null]]}').quarantine
        ('quarantine/index/part-1.parquet',)
        >>> Snapshot.from_json(b'{"format": 1, "version": "1"}')
        Traceback (most recent call last):
        msgspec.ValidationError: Expected `int`, got `str` - at `$.version`
        """
        header = msgspec.json.decode(data, type=_Header)
        if header.format not in _READABLE_FORMATS:
            raise ValueError(f"format {header.format} is not one this version reads ({_READABLE_FORMATS})")
        if header.format == 1:
            old = msgspec.json.decode(data, type=_Format1)
            files = tuple(DataFile(*item) for item in old.files)
            return cls(old.version, files, tuple(old.sources), tuple(old.quarantine), old.created)
        doc = msgspec.json.decode(data, type=_Format2)
        return cls(
            version=doc.version,
            files=tuple(DataFile(*item) for item in doc.files),
            sources=tuple(item[0] for item in doc.sources),
            quarantine=tuple(item[0] for item in doc.quarantine),
            created=doc.created,
            parts=tuple(
                Part(path, size, digest)
                for path, size, digest in (*doc.sources, *doc.quarantine)
                if size is not None and digest is not None
            ),
        )


_Count = Annotated[int, msgspec.Meta(ge=0)]
_Digest = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]


class _Header(msgspec.Struct):
    format: int


class _Format1(msgspec.Struct):
    version: _Count
    created: str
    files: list[tuple[str, str, _Count, _Count]]
    sources: list[str]
    quarantine: list[str]


class _Format2(msgspec.Struct):
    version: _Count
    created: str
    files: list[tuple[str, str, _Count, _Count, _Digest | None]]
    sources: list[tuple[str, _Count | None, _Digest | None]]
    quarantine: list[tuple[str, _Count | None, _Digest | None]]


def _no_follow(path: str, flags: int) -> int:
    """Open ``path`` itself, never a symlink's target: the lock is truncated, and could be anyone's file."""
    return os.open(path, flags | os.O_NOFOLLOW)


def unreadable(exc: Exception) -> str:
    """What is wrong with a snapshot file that raised ``exc`` when read or parsed, in one line."""
    return "is unreadable or malformed (" + " ".join(str(exc).split()) + ")"


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

    def snapshot(self, *, check: bool = True) -> Snapshot:
        """The latest committed snapshot (an empty one for a new warehouse).

        With ``check`` (every reader and writer), a snapshot naming anything but the warehouse's own files
        in their layout, or files that are missing or changed size, is refused: a :class:`WarehouseError`
        names the first such file (see :mod:`trailsmith.warehouse.integrity`). Without it (``trailsmith
        verify`` and crash recovery, which look at damage themselves) it comes as recorded. A snapshot that
        cannot be parsed is refused either way.
        """
        attempts = 0
        while True:
            versions = self.versions()
            if not versions:
                return Snapshot()
            snapshot = self.read_snapshot(versions[-1])
            if not check:
                return snapshot
            problem = next(iter(snapshot.layout_problems()), None) or self._first_disk_problem(snapshot)
            if problem is None:
                return snapshot
            # a commit may have replaced files under us (it deletes them once its snapshot is in place)
            attempts += 1
            if attempts == _RETRIES or self.versions()[-1:] == [snapshot.version]:
                raise self.damaged(snapshot, problem)

    def read_snapshot(self, version: int) -> Snapshot:
        """Snapshot ``version`` as recorded (paths unchecked); a :class:`WarehouseError` if malformed."""
        path = self.snapshot_path(version)
        try:
            return Snapshot.from_json(path.read_bytes())
        except (OSError, ValueError) as exc:  # msgspec's errors are ValueErrors
            raise WarehouseError(
                str(self.root), f"snapshot {path.name} {unreadable(exc)}", hint=self._hint()
            ) from None

    def snapshot_path(self, version: int) -> Path:
        return self.snapshots_dir / f"{version:08d}.json"

    def damaged(self, snapshot: Snapshot, problem: Problem) -> WarehouseError:
        """The one-line error for a file of ``snapshot`` that cannot be trusted."""
        return WarehouseError(
            str(self.root),
            f"{problem.path} {problem.what} (named by snapshot {snapshot.version:08d}.json)",
            hint=self._hint(),
        )

    def _hint(self) -> str:
        where = f"--warehouse {shlex.quote(str(self.root))}"
        return f"Run 'trailsmith verify {where}' to list the damage, and add --repair to set it aside"

    def _first_disk_problem(self, snapshot: Snapshot) -> Problem | None:
        """One ``lstat`` per file: present, inside the warehouse, a regular file of the recorded size."""
        inspector = integrity.Inspector(self.root)
        for _, path, size, _ in snapshot.named():
            what = inspector.disk_problem(path, size)
            if what:
                return Problem(path, what)
        return None

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
        try:  # the with below closes it; opening apart keeps the body's own OSErrors out of this except
            handle = open(self.meta / "lock", "a+", opener=_no_follow)  # noqa: SIM115
        except OSError as exc:
            raise WarehouseError(
                str(self.root),
                f"cannot open _trailsmith/lock ({exc.strerror or exc})",
                hint="It must be a plain file: remove it, and the next writer creates it again",
            ) from None
        with handle:
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

    def unreferenced(self, snapshot: Snapshot) -> list[Path]:
        """Files of the events table and of the two indexes that ``snapshot`` does not name."""
        keep = {f.path for f in snapshot.files} | set(snapshot.sources) | set(snapshot.quarantine)
        return [
            path
            for directory in (self.events_dir, self.sources_dir, self.quarantine_dir / "index")
            if directory.exists()
            for path in sorted(directory.rglob("*"))
            if path.is_file() and self.relative(path) not in keep
        ]

    def recover(self) -> Recovery:
        """Delete everything the latest snapshot does not reference (call with the lock held).

        That is: staging leftovers, data files of a commit that never happened, files replaced by
        compaction, and metadata parts of uncommitted runs.
        """
        snapshot = self.snapshot(check=False)  # it deletes only what the snapshot does not name
        report = Recovery()
        if self.staging_dir.exists():
            for child in self.staging_dir.iterdir():
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
                report.removed.append(self.relative(child))
        for path in self.unreferenced(snapshot):
            path.unlink()
            report.removed.append(self.relative(path))
        for directory in sorted(self.events_dir.glob("*/"), reverse=True) if self.events_dir.exists() else ():
            with contextlib.suppress(OSError):
                directory.rmdir()  # only succeeds when empty
        for path in self.snapshots_dir.glob("*.tmp") if self.snapshots_dir.exists() else ():
            path.unlink()
            report.removed.append(self.relative(path))
        return report
