"""Seeded randomness and the identifier formats AWS uses.

Every random choice in the generator comes from a :class:`random.Random` built by :func:`rng_for` from the
seed and a few keys (an account, a region, a day ...). A unit of work can therefore be generated alone, in
any process, in any order, and still produce the same bytes: nothing depends on what was generated before.

The helpers below produce identifiers in AWS's formats (event ids are UUID version 4, access keys are 20
upper-case characters starting ``AKIA``/``ASIA``, S3 request ids are 16 upper-case hex characters ...). They
take the ``Random`` explicitly and avoid :mod:`uuid` objects, which cost more than the bytes they format.
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
from datetime import datetime, timezone

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # access keys and unique ids use base32-like letters


def derive(seed: int, *keys: object) -> int:
    """A 64-bit integer that depends only on ``seed`` and ``keys`` (stable across processes and runs).

    >>> derive(7, "a", 1) == derive(7, "a", 1) != derive(7, "a", 2)
    True
    """
    text = "\x1f".join([str(seed), *(str(key) for key in keys)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def rng_for(seed: int, *keys: object) -> random.Random:
    """A ``Random`` of its own for one unit of work: ``rng_for(seed, account, region, day)``."""
    return random.Random(derive(seed, *keys))


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def uuid4(rng: random.Random) -> str:
    """A version-4 UUID string, as CloudTrail writes ``eventID`` and most ``requestID`` values."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def hex_string(rng: random.Random, length: int) -> str:
    return f"{rng.getrandbits(length * 4):0{length}x}"


def upper_hex(rng: random.Random, length: int) -> str:
    return f"{rng.getrandbits(length * 4):0{length}X}"


def chars(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choices(alphabet, k=length))


_B64_TO_ALNUM = str.maketrans("+/", "Kq")


def b64(rng: random.Random, length: int) -> str:
    """``length`` base64 characters (``x-amz-id-2`` values, code hashes); much faster than :func:`chars`."""
    size = (length * 3 + 3) // 4
    return base64.b64encode(rng.getrandbits(8 * size).to_bytes(size, "big")).decode()[:length]


def alnum(rng: random.Random, length: int) -> str:
    """``length`` characters of ``[A-Za-z0-9]`` (log file name suffixes, upload ids)."""
    return b64(rng, length).translate(_B64_TO_ALNUM)


def access_key(rng: random.Random, prefix: str = "ASIA") -> str:
    """An access key id: ``AKIA...`` for long-term user keys, ``ASIA...`` for session credentials."""
    return prefix + chars(rng, _KEY_CHARS, 16)


def unique_id(rng: random.Random, prefix: str) -> str:
    """An IAM unique id: ``AROA`` (role), ``AIDA`` (user), 21 characters in all."""
    return prefix + chars(rng, _KEY_CHARS, 17)


def account_id(rng: random.Random, *, leading_zero: bool = False) -> str:
    """A 12-digit account id; ``leading_zero`` makes one that an integer column would silently damage."""
    first = "0" if leading_zero else str(rng.randint(1, 9))
    return first + "".join(rng.choices(string.digits, k=11))


def iso_seconds(epoch: int) -> str:
    """``2024-08-01T13:05:09Z``: how CloudTrail writes ``eventTime``."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact_minutes(epoch: int) -> str:
    """``20240801T1305Z``: the delivery time in a log file's name."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y%m%dT%H%MZ")


def compact_seconds(epoch: int) -> str:
    """``20240801T130509Z``: the digest end time in a digest file's name."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def date_path(epoch: int) -> str:
    """``2024/08/01``: the date folders of the S3 layout."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y/%m/%d")


def stable_hex(length: int, *keys: object) -> str:
    """Hex text derived from ``keys`` alone (for fingerprints and signatures that must not vary)."""
    out = ""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256("\x1f".join([str(counter), *(str(k) for k in keys)]).encode()).hexdigest()
        counter += 1
    return out[:length]
