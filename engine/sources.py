"""SOURCE arguments -> the input files they name, and the bytes of each.

A SOURCE is a file, a directory (walked recursively in sorted order, whatever its layout), a glob
(``logs/**/*.json.gz``) or ``s3://bucket/prefix``. Each file becomes a :class:`SourceEntry` with an identity
(URI + fingerprint) that the warehouse remembers, so a re-run skips what it has already read.

Files are classified by name before anything is read: CloudTrail digest and Insights files are not API
events; inside directories, only names that look like log files are read (``.json``, ``.json.gz``,
``.jsonl``, ``.ndjson``, ``.gz`` ...), the rest are counted as skipped. A file named explicitly is always read.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from trailsmith.errors import SourceError

#: What a file is, judged by its name.
LOG, DIGEST, INSIGHT, OTHER = "log", "digest", "insight", "other"

_LOG_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz", ".log", ".log.gz")
_DATE_IN_PATH = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/")


@dataclass(frozen=True)
class SourceEntry:
    """One input file: where it is, how big, and what identifies this version of it."""

    uri: str
    size: int
    #: changes when the file changes: ``mtime_ns`` locally, the ETag on S3
    fingerprint: str
    kind: str = LOG

    @property
    def path_date(self) -> str:
        """``YYYY-MM-DD`` from an S3-export-style path (``.../2024/08/01/...``), or ``""``."""
        match = _DATE_IN_PATH.search(self.uri)
        return "-".join(match.groups()) if match else ""


def classify(name: str, *, explicit: bool = False) -> str:
    """What a file is, from its path: ``log``, ``digest``, ``insight`` or ``other``.

    >>> classify("AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/01/1_CloudTrail-Digest_us-east-1_t_x.json.gz")
    'digest'
    >>> classify("notes.txt"), classify("notes.txt", explicit=True)
    ('other', 'log')
    """
    if "CloudTrail-Digest" in name:
        return DIGEST
    if "CloudTrail-Insight" in name:
        return INSIGHT
    base = name.rsplit("/", 1)[-1]
    if explicit or base.lower().endswith(_LOG_SUFFIXES):
        return LOG
    return OTHER


def is_s3(source: str) -> bool:
    return source.startswith("s3://")


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
        from trailsmith.s3 import list_entries

        yield from list_entries(source)
        return
    if glob.has_magic(source):
        matches = sorted(glob.glob(source, recursive=True))
        if not matches:
            raise SourceError(source, "the pattern matches no files", hint="Check the pattern; quote it so the shell does not expand it")
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
    for root, dirs, files in os.walk(directory, onerror=_raise_walk_error, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.isfile(path):
                yield _local_entry(path, explicit=False)


def _raise_walk_error(error: OSError) -> None:
    raise SourceError(str(error.filename), f"cannot be listed ({error.strerror})")


def _local_entry(path: str, *, explicit: bool) -> SourceEntry:
    absolute = os.path.abspath(path)
    stat = os.stat(absolute)
    return SourceEntry(absolute, stat.st_size, str(stat.st_mtime_ns), classify(absolute, explicit=explicit))


def read(entry: SourceEntry) -> bytes:
    """The bytes of one local file (S3 objects are fetched by :mod:`trailsmith.s3`)."""
    with open(entry.uri, "rb") as handle:
        return handle.read()
