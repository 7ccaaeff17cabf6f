"""Files written so that no reader ever sees half of one.

Every file trailsmith writes for someone else to read (query results, policies, suggestions, synthetic
archives, quarantined input, warehouse snapshots) is written under a temporary name beside its final one and
renamed over it once complete: a crash or a full disk leaves the old file or none, never a truncated one.
The replacement keeps the permissions of the file it replaces, so a private result stays private.

A path a user names for output (:func:`writing`) may also be something that is not a file to replace: a
device (``/dev/null``), a FIFO, or a symlink. Those are written into, as a shell's ``>`` would, never
replaced by a regular file.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_atomically(folder / "a.txt", "complete")
>>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
('complete', ['a.txt'])
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
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
    temporary = final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # a new name, created here or not at all: never written through a link someone planted at that name
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(descriptor, "wb") as handle:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(handle.fileno(), stat.S_IMODE(os.stat(final).st_mode))
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


@contextlib.contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A file to write a user's output ``path`` with: written into, or replaced once complete.

    - a device, a FIFO (anything that exists and is neither a file nor a directory): opened and written
      into, as ``> path`` would (``/dev/null``, a named pipe another program reads);
    - a symlink: followed, and its target written as below, so the link stays a link;
    - a regular file, or nothing yet: replaced through :func:`replacing`;
    - a directory, or a read-only file: ``OSError`` before anything is written.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / "data.csv").write_text("old")
    3
    >>> (folder / "link.csv").symlink_to(folder / "data.csv")
    >>> with writing(folder / "link.csv") as handle:
    ...     _ = handle.write(b"new")
    >>> (folder / "link.csv").is_symlink(), (folder / "data.csv").read_text()
    (True, 'new')
    """
    target = Path(os.path.realpath(path))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if mode is not None and not stat.S_ISREG(mode):
        with open(target, "wb") as handle:
            yield handle
        return
    if mode is not None and not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    with replacing(target) as handle:
        yield handle


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
