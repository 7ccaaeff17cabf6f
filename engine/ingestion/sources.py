"""SOURCE arguments -> the input files they name, and the bytes of each.

A SOURCE is a file, a directory (walked recursively in sorted order, whatever its layout), a glob
(``logs/**/*.json.gz``) or ``s3://bucket/prefix``. Each file becomes a :class:`SourceEntry` with an identity
(URI + fingerprint) that the warehouse remembers, so a re-run skips what it has already read.

Files are classified by name before anything is read (:func:`trailsmith.ingestion.entry.classify`).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator

from trailsmith.errors import SourceError
from trailsmith.ingestion.entry import SourceEntry, classify, is_s3


def expand(sources: Iterable[str], *, exclude: str | os.PathLike[str] | None = None) -> Iterator[SourceEntry]:
    """Every file the SOURCE arguments name, each once, in a stable order per source.

    Local files under ``exclude`` (the warehouse itself, when it lies inside a source directory) are never
    listed. Raises :class:`SourceError` for a source that names nothing (missing path, glob without matches).
    """
    seen: set[str] = set()
    excluded = os.path.join(os.path.abspath(exclude), "") if exclude is not None else None
    for source in sources:
        for entry in _expand_one(source):
            if excluded is not None and entry.uri.startswith(excluded):
                continue
            if entry.uri not in seen:
                seen.add(entry.uri)
                yield entry


def _expand_one(source: str) -> Iterator[SourceEntry]:
    if is_s3(source):
        from trailsmith.ingestion.s3 import list_entries

        yield from list_entries(source)
        return
    if glob.has_magic(source):
        matches = sorted(glob.glob(source, recursive=True))
        if not matches:
            raise SourceError(
                source,
                "the pattern matches no files",
                hint="Check the pattern; quote it so the shell does not expand it",
            )
        for match in matches:
            if os.path.isdir(match):
                yield from _walk(match)
            elif os.path.isfile(match):
                yield _local_entry(match, explicit=False)
        return
    if os.path.isdir(source):
        yield from _walk(source)
    elif os.path.isfile(source):
        yield _local_entry(source, explicit=True)
    elif os.path.exists(source):
        raise SourceError(source, "is neither a file nor a directory")
    else:
        raise SourceError(source, "no such file or directory")


def _walk(directory: str) -> Iterator[SourceEntry]:
    """Every file under ``directory``, depth first in sorted order; symlinked folders are not followed,
    symlinked files are. One ``stat`` per file (the folder listing says what is a file)."""
    stack = [os.path.abspath(directory)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as error:
            raise SourceError(folder, f"cannot be listed ({error.strerror})") from None
        folders = []
        for entry in entries:
            if entry.is_dir():
                if not entry.is_symlink():
                    folders.append(entry.path)
            elif entry.is_file():
                stat = entry.stat()
                yield SourceEntry(
                    entry.path, stat.st_size, str(stat.st_mtime_ns), classify(entry.path, explicit=False)
                )
        stack.extend(reversed(folders))


def _local_entry(path: str, *, explicit: bool) -> SourceEntry:
    absolute = os.path.abspath(path)
    stat = os.stat(absolute)
    return SourceEntry(absolute, stat.st_size, str(stat.st_mtime_ns), classify(absolute, explicit=explicit))


def read(entry: SourceEntry) -> bytes:
    """The bytes of one local file (S3 objects are fetched by :mod:`trailsmith.ingestion.s3`)."""
    with open(entry.uri, "rb") as handle:
        return handle.read()
