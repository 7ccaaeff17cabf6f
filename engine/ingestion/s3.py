"""``s3://bucket/prefix`` sources: list the objects, then download them many at a time, read-only.

Credentials, region and endpoint come from the standard AWS chain (environment, profiles, SSO, instance and
task roles, ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``); only ``ListObjectsV2`` and ``GetObject`` are
ever called. A prefix is read like a path: ``s3://b/logs`` means the object ``logs`` and everything under
``logs/``, never ``logs-old/`` (a raw string prefix would silently pull in a neighbour's files).

Keys are untrusted and kept exact: ``s3://b/../x`` names the key ``../x``. Nothing here turns a key into a
local path.
"""

from __future__ import annotations

import os
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    CredentialRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    TokenRetrievalError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from trailsmith._version import __version__
from trailsmith.errors import SourceError
from trailsmith.ingestion.entry import SourceEntry, classify

#: boto3 builds client classes at run time, so there is no static type to name here.
S3Client = Any

_SCHEME = "s3://"
# Current rules (3-63 chars) plus legacy us-east-1 names (upper case, underscores, up to 255 chars).
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]")
_CREDENTIALS_HINT = (
    "Set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an instance or task role "
    "is available"
)
_ENDPOINT_HINT = (
    "Check the network, and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 if you use an S3-compatible server"
)

# Server error codes that concern the whole source, not one object: fetch_many stops on them instead of
# quarantining every remaining file as if each were bad.
_FATAL_CODES = {
    "NoSuchBucket": ("bucket {bucket} does not exist", "Check the bucket name after s3://"),
    "InvalidAccessKeyId": (
        "the AWS access key id was not recognised",
        "Check AWS_ACCESS_KEY_ID or AWS_PROFILE: the key may be deleted, mistyped or from another account",
    ),
    "SignatureDoesNotMatch": (
        "the AWS secret access key does not match the access key id",
        "Check AWS_SECRET_ACCESS_KEY or the profile's aws_secret_access_key",
    ),
    "ExpiredToken": ("the AWS session credentials have expired", "Refresh them (for example aws sso login)"),
    "InvalidToken": ("the AWS session token is not valid", "Refresh it (for example aws sso login)"),
    "RequestTimeTooSkewed": ("the local clock is too far from the server's", "Synchronise the system clock"),
}
_OBJECT_CODES = {
    "NoSuchKey": ("the object no longer exists", "It was deleted after listing; run again to list afresh"),
    "PreconditionFailed": (
        "the object changed after it was listed (its ETag differs)",
        "Run again to read the new version",
    ),
    "InvalidObjectState": (
        "the object is archived (Glacier or Deep Archive)",
        "Restore it first (aws s3api restore-object) or leave its prefix out",
    ),
}


def parse_uri(uri: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of an ``s3://`` URI, the prefix kept byte for byte.

    >>> parse_uri("s3://trail-logs/AWSLogs/../x")
    ('trail-logs', 'AWSLogs/../x')
    >>> parse_uri("s3://trail-logs")
    ('trail-logs', '')
    """
    if not uri.startswith(_SCHEME):
        raise SourceError(uri, "is not an s3:// URI", hint="Write it as s3://bucket/prefix")
    bucket, _, prefix = uri[len(_SCHEME) :].partition("/")
    if not bucket:
        raise SourceError(uri, "names no bucket", hint="Write it as s3://bucket/prefix")
    if not _BUCKET.fullmatch(bucket):
        raise SourceError(
            uri,
            f"{bucket!r} is not a valid bucket name",
            hint="Bucket names are 3 to 63 lower-case letters, digits, dots and hyphens",
        )
    return bucket, prefix


def list_entries(uri: str, *, client: S3Client | None = None) -> Iterator[SourceEntry]:
    """Every object under ``uri``, in S3's key order, streamed one listing page at a time.

    The URI is checked at once; the listing (and its errors) happen as the iterator is consumed. Folder
    markers (keys ending in ``/``) are skipped; no objects at all is an error, not an empty source.
    """
    bucket, prefix = parse_uri(uri)
    return _list(uri, bucket, prefix, client)


def _list(uri: str, bucket: str, prefix: str, client: S3Client | None) -> Iterator[SourceEntry]:
    client = client if client is not None else _new_client(uri, pool_size=10)
    found = markers = 0
    try:
        if prefix and not prefix.endswith("/"):
            # The object named exactly, if any, sorts first among the keys that start with the prefix.
            first = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("Contents", [])
            if first and first[0]["Key"] == prefix:
                found += 1
                yield _entry(bucket, first[0])
            prefix += "/"
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/"):
                    markers += 1
                    continue
                found += 1
                yield _entry(bucket, item)
    except (BotoCoreError, ClientError) as error:
        problem, _ = _explain(error, uri, bucket=bucket, action="s3:ListBucket", endpoint=_endpoint(client))
        raise problem from error
    if not found:
        only = f", only {markers} folder marker{'s' if markers > 1 else ''}" if markers else ""
        raise SourceError(
            uri,
            f"no objects under this prefix{only}",
            hint="Check the bucket and prefix: a prefix names a folder or an object, not the start of a name",
        )


def _entry(bucket: str, item: dict[str, Any]) -> SourceEntry:
    key: str = item["Key"]
    etag = str(item.get("ETag", "")).strip('"')
    return SourceEntry(f"{_SCHEME}{bucket}/{key}", int(item["Size"]), etag, classify(key))


class Fetcher:
    """Downloads S3 objects for one process, many requests in flight to hide per-request latency.

    The boto3 client is made on first use and again after a fork or unpickling: clients hold sockets and
    must not cross processes. Within a process the client is shared by threads, which boto3 allows.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: S3Client | None = None
        self._owner_pid = 0
        self._pool_size = 0

    def __reduce__(self) -> tuple[type[Fetcher], tuple[()]]:
        return Fetcher, ()  # the client stays behind; the receiving process makes its own

    def client(self, concurrency: int = 16) -> S3Client:
        """This process's client, with a connection pool large enough for ``concurrency`` requests."""
        with self._lock:
            if self._client is None or self._owner_pid != os.getpid() or self._pool_size < concurrency:
                self._pool_size = max(concurrency, 10)
                self._client = _new_client("S3", pool_size=self._pool_size)
                self._owner_pid = os.getpid()
            return self._client

    def fetch(self, entry: SourceEntry) -> bytes:
        """The bytes of one object, exactly the version listed; raises :class:`SourceError`."""
        client = self.client(1)
        try:
            return _download(client, entry)
        except (BotoCoreError, ClientError) as error:
            raise _explain_object(entry, error, _endpoint(client))[0] from error

    def fetch_many(
        self, entries: Iterable[SourceEntry], concurrency: int = 16
    ) -> Iterator[tuple[SourceEntry, bytes | Exception]]:
        """``(entry, bytes or the reason it could not be read)`` for each entry, in input order.

        At most ``concurrency`` requests are in flight and ``entries`` is consumed only that far ahead, so
        hundreds of thousands of objects stream in bounded memory. A failure of one object (deleted,
        changed, archived, access denied) comes back as a :class:`SourceError` so the caller can quarantine
        it and go on; a failure that concerns every object (credentials, endpoint, bucket) is raised.
        """
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        return self._stream(iter(entries), concurrency)

    def _stream(
        self, entries: Iterator[SourceEntry], concurrency: int
    ) -> Iterator[tuple[SourceEntry, bytes | Exception]]:
        client = self.client(concurrency)
        endpoint = _endpoint(client)
        pending: deque[tuple[SourceEntry, Future[bytes]]] = deque()
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="trailsmith-s3")
        try:
            for entry in entries:
                if len(pending) == concurrency:
                    yield _settle(*pending.popleft(), endpoint=endpoint)
                pending.append((entry, pool.submit(_download, client, entry)))
            while pending:
                yield _settle(*pending.popleft(), endpoint=endpoint)
        finally:
            # Also runs when the consumer stops early: queued downloads are dropped, running ones finish.
            pool.shutdown(wait=True, cancel_futures=True)


def _download(client: S3Client, entry: SourceEntry) -> bytes:
    bucket, key = parse_uri(entry.uri)
    request: dict[str, str] = {"Bucket": bucket, "Key": key}
    if entry.fingerprint:
        # Read the version that was listed, so the bytes always match the identity the warehouse records.
        request["IfMatch"] = f'"{entry.fingerprint}"'
    body = client.get_object(**request)["Body"]
    with body:
        data: bytes = body.read()
    if len(data) != entry.size:
        problem = f"read {len(data)} bytes where the listing said {entry.size}"
        raise SourceError(entry.uri, problem, hint="Run again to list afresh")
    return data


def _settle(
    entry: SourceEntry, future: Future[bytes], *, endpoint: str
) -> tuple[SourceEntry, bytes | Exception]:
    try:
        return entry, future.result()
    except SourceError as error:
        return entry, error
    except (BotoCoreError, ClientError) as error:
        problem, fatal = _explain_object(entry, error, endpoint)
        if fatal:
            raise problem from error
        problem.__cause__ = error
        return entry, problem


def _explain_object(
    entry: SourceEntry, error: BotoCoreError | ClientError, endpoint: str
) -> tuple[SourceError, bool]:
    bucket = entry.uri[len(_SCHEME) :].partition("/")[0]
    return _explain(error, entry.uri, bucket=bucket, action="s3:GetObject", endpoint=endpoint)


def _new_client(uri: str, *, pool_size: int) -> S3Client:
    config = Config(
        retries={"mode": "standard"},  # attempts still follow AWS_MAX_ATTEMPTS / the profile's max_attempts
        max_pool_connections=pool_size,
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra=f"trailsmith/{__version__}",
    )
    try:
        # A session of our own: boto3's default session is global and not safe to share between threads.
        return boto3.session.Session().client("s3", config=config)
    except ProfileNotFound as error:
        profile = error.kwargs.get("profile")
        raise SourceError(
            uri, f"the AWS profile {profile!r} does not exist", hint="Check AWS_PROFILE and ~/.aws/config"
        ) from error
    except BotoCoreError as error:
        problem = f"cannot set up the S3 client: {_one_line(error)}"
        raise SourceError(uri, problem, hint=_CREDENTIALS_HINT) from error


def _endpoint(client: S3Client) -> str:
    return str(client.meta.endpoint_url)


def _explain(
    error: BotoCoreError | ClientError, uri: str, *, bucket: str, action: str, endpoint: str
) -> tuple[SourceError, bool]:
    """One clear line for a boto error, and whether it concerns the whole source rather than one object."""
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return SourceError(uri, "no AWS credentials found", hint=_CREDENTIALS_HINT), True
    if isinstance(error, (CredentialRetrievalError, TokenRetrievalError)):
        problem = f"cannot get AWS credentials: {_one_line(error)}"
        return SourceError(uri, problem, hint=_CREDENTIALS_HINT), True
    if isinstance(error, (BotoConnectionError, ConnectionClosedError, ReadTimeoutError)):
        return SourceError(uri, f"cannot reach the S3 endpoint {endpoint}", hint=_ENDPOINT_HINT), True
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        if code in _FATAL_CODES:
            problem, hint = _FATAL_CODES[code]
            return SourceError(uri, problem.format(bucket=bucket), hint=hint), True
        if code in _OBJECT_CODES:
            problem, hint = _OBJECT_CODES[code]
            return SourceError(uri, problem, hint=hint), False
        if code in ("AccessDenied", "AllAccessDisabled", "403"):
            hint = f"The credentials in use need {action} on bucket {bucket}"
            if action == "s3:GetObject":
                hint += ", and kms:Decrypt on the key of SSE-KMS encrypted objects"
            return SourceError(uri, f"access denied ({action})", hint=hint), False
        message = _one_line(details.get("Message", "")) or "no message"
        return SourceError(uri, f"S3 refused the request: {code or 'error'} ({message})"), False
    return SourceError(uri, f"S3 request failed: {_one_line(error)}"), False


def _one_line(text: object) -> str:
    return " ".join(str(text).split())
