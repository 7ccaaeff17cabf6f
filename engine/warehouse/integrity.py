"""What the warehouse trusts: only its own files, in its own layout, as its snapshots recorded them.

A snapshot is a file on disk like any other, and anyone who can write to the warehouse can edit it. So
every path a snapshot names is checked before anything reads, merges or deletes it: relative, in the
layout of its kind (:data:`LAYOUT`), inside the warehouse once symlinks are followed, a regular file
(never a symlink) with the size the commit recorded. That costs one ``lstat`` per file plus one
``realpath`` per folder. The SHA-256 the commit recorded is compared only where the bytes are read anyway
(``trailsmith verify``) or about to be folded into new files and deleted (the commit).

>>> layout_problem("events", "events/eventDate=2024-08-01/part-00000001-0a1b2c3d-000.parquet")
>>> layout_problem("events", "/etc/passwd")
"is not a file of the warehouse's layout (events/eventDate=YYYY-MM-DD/part-*.parquet)"
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

#: Path pattern of each kind of file a snapshot names, relative to the warehouse root.
LAYOUT: dict[str, tuple[re.Pattern[str], str]] = {
    "events": (
        re.compile(r"events/eventDate=(\d{4}-\d{2}-\d{2})/part-[A-Za-z0-9_-]+\.parquet"),
        "events/eventDate=YYYY-MM-DD/part-*.parquet",
    ),
    "sources": (
        re.compile(r"_trailsmith/sources/part-[A-Za-z0-9_-]+\.parquet"),
        "_trailsmith/sources/part-*.parquet",
    ),
    "quarantine": (
        re.compile(r"quarantine/index/part-[A-Za-z0-9_-]+\.parquet"),
        "quarantine/index/part-*.parquet",
    ),
}

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Problem:
    """One file a snapshot names that cannot be trusted, and why."""

    path: str  # as the snapshot names it
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


def sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (about 1.7 GB/s with the CPU's SHA extensions)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def layout_problem(kind: str, relative: str) -> str | None:
    """Why ``relative`` cannot be a file of ``kind`` (a key of :data:`LAYOUT`); None when it can.

    The patterns admit no ``..``, no absolute path and no backslash, so a path that passes stays under
    the root as long as no symlink leads out (see :func:`disk_problem`).
    """
    pattern, shape = LAYOUT[kind]
    if not pattern.fullmatch(relative):
        return f"is not a file of the warehouse's layout ({shape})"
    return None


def event_date(relative: str) -> str:
    """The ``eventDate`` partition of an events file that passed :func:`layout_problem`."""
    match = LAYOUT["events"][0].fullmatch(relative)
    assert match is not None, relative
    return match.group(1)


class Inspector:
    """Checks files on disk against what a snapshot recorded, caching each folder's real path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = os.fspath(root)  # paths as strings: pathlib would double the cost of 10,000 files
        self._real_root = Path(os.path.realpath(root))
        self._inside: dict[str, bool] = {}

    def disk_problem(self, relative: str, size: int | None) -> str | None:
        """Why the file at ``relative`` (already in the layout) is not the one committed; None when it is.

        ``size`` None: not recorded (a snapshot of an older version), so only presence is checked.
        """
        path = f"{self._root}/{relative}"
        if not self._folder_inside(path.rpartition("/")[0]):
            return "is in a folder that leads outside the warehouse (a symlink)"
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return "is missing"
        except OSError as exc:
            return f"cannot be read ({exc.strerror or exc})"
        if stat.S_ISLNK(info.st_mode):
            return "is a symlink (the warehouse only reads its own files)"
        if not stat.S_ISREG(info.st_mode):
            return "is not a regular file"
        if size is not None and info.st_size != size:
            return f"has {info.st_size} bytes, the commit wrote {size}"
        return None

    def owns(self, kind: str, relative: str) -> bool:
        """Whether ``relative`` is in the layout of ``kind`` and its folder inside the warehouse."""
        folder = f"{self._root}/{relative}".rpartition("/")[0]
        return layout_problem(kind, relative) is None and self._folder_inside(folder)

    def checksum_problem(self, relative: str, recorded: str | None) -> str | None:
        """Why the bytes at ``relative`` differ from the committed ones (None: same, or none recorded)."""
        if recorded is None:
            return None
        try:
            found = sha256(self.root / relative)
        except OSError as exc:
            return f"cannot be read ({exc.strerror or exc})"
        return None if found == recorded else "has changed since its commit (SHA-256 differs)"

    def _folder_inside(self, folder: str) -> bool:
        if folder not in self._inside:
            self._inside[folder] = Path(os.path.realpath(folder)).is_relative_to(self._real_root)
        return self._inside[folder]
