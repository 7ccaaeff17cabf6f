"""Hourly digest files: the signed manifests CloudTrail writes beside the logs (log file validation).

Each digest lists the log files *delivered* during its hour with the SHA-256 of their uncompressed bytes,
and chains to the previous digest by key, hash and signature; the first digest of a chain has those fields
``null`` ("starting digest"). Hours run from a per-(account, region) offset in seconds, as in real digests
(``...T150131Z``), and an hour with no delivery still gets an (empty) digest.

Real signatures are RSA over the digest and live in S3 object metadata, which a file tree cannot hold; the
``previousDigestSignature`` values here are stable hex of the right length, good for shape, not for
cryptographic validation.

A :class:`DigestChain` is fed the log files of one (account, region) day by day, in day order, and writes
every hour that can no longer receive files: the files of unit *d* are delivered before the end of its
last slot plus a few minutes, so hours ending at midnight of day *d+1* are complete once unit *d* is in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from trailsmith.synth.ids import derive, iso_seconds, stable_hex
from trailsmith.synth.writer import LogFileMeta, Writer, digest_key, gzip_bytes, sha256_hex

HOUR = 3600


class DigestChain:
    """The digest files of one account in one region."""

    def __init__(
        self,
        *,
        seed: int,
        org: str,
        bucket: str,
        trail: str,
        home_region: str,
        account: str,
        region: str,
        start: int,
        writer: Writer,
    ) -> None:
        self.seed, self.org, self.bucket, self.trail, self.home = seed, org, bucket, trail, home_region
        self.account, self.region, self.writer = account, region, writer
        self.anchor = start + derive(seed, "digest-offset", account, region) % HOUR
        self.fingerprint = stable_hex(32, seed, "public-key", region)
        #: window index -> files delivered in it; window k covers [anchor + k h, anchor + (k+1) h)
        self.pending: dict[int, list[LogFileMeta]] = {}
        self.next_window = -1 if self.anchor > start else 0
        self.previous: tuple[str, str, str] | None = None
        self.written = 0
        self.bytes = 0

    def add(self, files: Iterable[LogFileMeta]) -> None:
        for meta in files:
            self.pending.setdefault((meta.delivered - self.anchor) // HOUR, []).append(meta)

    def flush(self, until: int) -> None:
        """Write every window that ends at or before ``until``."""
        while self.anchor + (self.next_window + 1) * HOUR <= until:
            self._write(self.next_window)
            self.next_window += 1

    def finish(self, end: int) -> None:
        """Write the remaining windows: up to ``end`` and up to the last delivered file."""
        last = max(self.pending, default=self.next_window - 1)
        while self.next_window <= last or self.anchor + self.next_window * HOUR < end:
            self._write(self.next_window)
            self.next_window += 1

    def _write(self, window: int) -> None:
        start = self.anchor + window * HOUR
        end = start + HOUR
        files = sorted(self.pending.pop(window, []), key=lambda m: (m.delivered, m.key))
        key = digest_key(self.org, self.account, self.region, self.trail, self.home, end)
        previous = self.previous
        body: dict[str, Any] = {
            "awsAccountId": self.account,
            "digestStartTime": iso_seconds(start),
            "digestEndTime": iso_seconds(end),
            "digestS3Bucket": self.bucket,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": self.fingerprint,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": iso_seconds(max(m.newest for m in files)) if files else None,
            "oldestEventTime": iso_seconds(min(m.oldest for m in files)) if files else None,
            "previousDigestS3Bucket": self.bucket if previous else None,
            "previousDigestS3Object": previous[0] if previous else None,
            "previousDigestHashValue": previous[1] if previous else None,
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": previous[2] if previous else None,
            "logFiles": [
                {
                    "s3Bucket": self.bucket,
                    "s3Object": m.key,
                    "hashValue": m.sha256,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": iso_seconds(m.newest),
                    "oldestEventTime": iso_seconds(m.oldest),
                }
                for m in files
            ],
        }
        text = orjson.dumps(body)
        data = gzip_bytes(text)
        self.writer.write(key, data)
        digest_hash = sha256_hex(text)
        self.previous = (key, digest_hash, stable_hex(512, self.seed, "signature", key, digest_hash))
        self.written += 1
        self.bytes += len(data)
