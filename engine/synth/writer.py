"""Bytes on disk: log file names, gzip, and what a digest needs to know of each file.

Gzip output is reproducible: the header's mtime is fixed to 0 and ``igzip.compress`` writes no file name,
so the same records always give the same bytes. ISA-L's level 1 compresses CloudTrail JSON about 10:1 at
several hundred MB/s, which keeps compression a small share of generation time.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass

from isal import igzip

from trailsmith.synth.ids import alnum, compact_minutes, compact_seconds, date_path

GZIP_LEVEL = 1


@dataclass(frozen=True, slots=True)
class LogFileMeta:
    """One delivered log file as its digest lists it."""

    key: str
    sha256: str
    oldest: int
    newest: int
    delivered: int


def gzip_bytes(data: bytes) -> bytes:
    return igzip.compress(data, GZIP_LEVEL, mtime=0)


def log_key(org: str, account: str, region: str, delivered: int, rng: random.Random) -> str:
    """``AWSLogs/o-.../<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<16>.json.gz``."""
    name = f"{account}_CloudTrail_{region}_{compact_minutes(delivered)}_{alnum(rng, 16)}.json.gz"
    return f"AWSLogs/{org}/{account}/CloudTrail/{region}/{date_path(delivered)}/{name}"


def digest_key(org: str, account: str, region: str, trail: str, home_region: str, end: int) -> str:
    """The S3 key of the digest that closes at ``end`` (named by its end time, to the second)."""
    name = f"{account}_CloudTrail-Digest_{region}_{trail}_{home_region}_{compact_seconds(end)}.json.gz"
    return f"AWSLogs/{org}/{account}/CloudTrail-Digest/{region}/{date_path(end)}/{name}"


class Writer:
    """Writes files under ``root``, creating each directory once."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._made: set[str] = set()

    def write(self, key: str, data: bytes) -> None:
        path = os.path.join(self.root, key)
        folder = os.path.dirname(path)
        if folder not in self._made:
            os.makedirs(folder, exist_ok=True)
            self._made.add(folder)
        with open(path, "wb") as handle:
            handle.write(data)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
