"""Files written so that no reader ever sees half of one.

Every file trailsmith writes for someone else to read (query results, policies, suggestions, synthetic
archives, quarantined input, warehouse snapshots) is written under a temporary name beside its final one and
renamed over it once complete: a crash or a full disk leaves the old file or none, never a truncated one.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_atomically(folder / "a.txt", "complete")
>>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
('complete', ['a.txt'])
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str], *, durable: bool = False) -> Iterator[IO[bytes]]:
    """A file to write ``path``'s new content to; it becomes ``path`` when the block ends without error.

    ``durable``: flushed to disk, and the rename made durable too, before returning (warehouse metadata,
    where a power cut must not lose a commit that was reported done). On error the temporary file is removed
    and ``path`` is left as it was.
    """
    final = Path(path)
    temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, final)
        if durable:
            sync_directory(final.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def write_atomically(path: str | os.PathLike[str], data: bytes | str, *, durable: bool = False) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through :func:`replacing`."""
    with replacing(path, durable=durable) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)


def sync_directory(directory: str | os.PathLike[str]) -> None:
    """Make the entries of ``directory`` (a rename into it) durable (POSIX, like the warehouse's lock)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
