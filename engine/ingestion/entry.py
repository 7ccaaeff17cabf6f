"""One input file (:class:`SourceEntry`), and what a file is, judged by its name before it is read.

CloudTrail digest and Insights files are not API events; inside directories, only names that look like log
files are read (``.json``, ``.json.gz``, ``.jsonl``, ``.ndjson``, ``.gz``, ``.parquet`` ..., and the names
Firehose gives what it delivers, without an extension), the rest are counted as skipped. A file named
explicitly is always read. What a file holds is decided by its content, never by its name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: What a file is, judged by its name.
LOG, DIGEST, INSIGHT, OTHER = "log", "digest", "insight", "other"

_LOG_SUFFIXES = (
    ".json",
    ".json.gz",
    ".jsonl",
    ".jsonl.gz",
    ".ndjson",
    ".ndjson.gz",
    ".gz",
    ".log",
    ".log.gz",
    ".parquet",  # Amazon Security Lake's OCSF copy (``<file>.gz.parquet``)
)
#: Firehose names what it delivers ``<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<random>``, without an extension
_FIREHOSE_NAME = re.compile(r"-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-Za-z-]+$")
_DATE_IN_PATH = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/|/eventDay=(\d{4})(\d{2})(\d{2})/")


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
        """``YYYY-MM-DD`` from an S3-export-style path (``.../2024/08/01/...``) or a Security Lake one
        (``.../eventDay=20240801/...``), or ``""``."""
        match = _DATE_IN_PATH.search(self.uri)
        return "-".join(part for part in match.groups() if part) if match else ""


def classify(name: str, *, explicit: bool = False) -> str:
    """What a file is, from its path: ``log``, ``digest``, ``insight`` or ``other``.

    >>> classify("AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/01/1_CloudTrail-Digest_us-east-1_t_x.json.gz")
    'digest'
    >>> classify("notes.txt"), classify("notes.txt", explicit=True)
    ('other', 'log')
    >>> classify("firehose/2024/08/01/12/trail-stream-1-2024-08-01-12-00-00-5f1c2e")
    'log'
    >>> classify("LICENSE")
    'other'
    """
    if "CloudTrail-Digest" in name:
        return DIGEST
    if "CloudTrail-Insight" in name:
        return INSIGHT
    base = name.rsplit("/", 1)[-1]
    if explicit or base.lower().endswith(_LOG_SUFFIXES) or _FIREHOSE_NAME.search(base):
        return LOG
    return OTHER


def is_s3(source: str) -> bool:
    return source.startswith("s3://")
