"""ARN patterns: build them from the IAM reference's ARN formats, match them, and test IAM-style coverage.

The reference data gives each resource type an ARN format such as
``arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}/index/${IndexName}``. A policy names
resources with the same shape, where ``*`` and ``?`` are wildcards. This module is the one place that knows
how those strings behave:

- :func:`build` fills a format with what a call told us and puts ``*`` where it told us nothing, so a
  partial answer stays a *bounded* pattern (``arn:aws:s3:::bucket/*``) instead of becoming ``"*"``;
- :func:`literal` escapes what AWS wrote: an S3 key may contain ``*``, ``?`` or ``$``, which a policy would
  read as wildcards or variables, so they become the IAM special-character variables ``${*}``, ``${?}``,
  ``${$}`` (valid with policy Version 2012-10-17);
- :func:`matches_format` decides which resource type an ARN is, by the format's shape;
- :func:`covers` answers "does this policy resource allow that ARN" the way IAM evaluates it, for tests and
  for the generaliser's self-check.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from trailsmith.actions import reference as iamref

_VARIABLE = re.compile(r"\$\{([^}]+)\}")

#: Variables that fill the start of every regional ARN; the event supplies them.
CONTEXT_VARIABLES = ("Partition", "Region", "Account")

#: Last-position variables whose values may contain ``/`` (paths, object keys, log group names ...).
#: Every other trailing variable stops at ``/`` and ``:`` so that an object ARN is never taken for a bucket.
_SLASHED = re.compile(
    r"Path|ObjectName|ObjectPath|LogGroupName|LogStreamName|SecretId|ParameterName|EntityPath"
)

#: Characters IAM accepts in a policy: tab, LF, CR and U+0020 to U+00FF.
_DISALLOWED = re.compile(r"[^\t\n\r\u0020-\u00ff]+")


def arn_format(prefix: str, resource_type: str) -> str:
    """The reference's ARN format of ``resource_type`` in service ``prefix`` ("" when unknown)."""
    return iamref.arn_formats(prefix.lower()).get(resource_type.lower(), "")


def variables(fmt: str) -> tuple[str, ...]:
    """Placeholder names of a format, in order."""
    return tuple(_VARIABLE.findall(fmt))


def literal(value: str) -> str:
    """``value`` as a policy must spell it to mean exactly that text.

    >>> literal("reports/2024*final?.csv")
    'reports/2024${*}final${?}.csv'
    """
    if not any(c in value for c in "*?$"):
        return value
    out = []
    for char in value:
        out.append("${" + char + "}" if char in "*?$" else char)
    return "".join(out)


def plain(text: str) -> str:
    """The text a policy's ``text`` spells where it escapes ``*``, ``?`` and ``$`` (:func:`literal`'s inverse;
    real wildcards stay).

    >>> plain("log-stream:2024/08/02/[${$}LATEST]*")
    'log-stream:2024/08/02/[$LATEST]*'
    """
    if "${" not in text:
        return text
    return text.replace("${*}", "*").replace("${?}", "?").replace("${$}", "$")


def allowed_characters(pattern: str) -> tuple[str, bool]:
    """``pattern`` with every run of characters IAM refuses replaced by ``*`` (which matches them).

    Returns the pattern and whether it had to change; the change widens it by the least IAM allows.
    """
    fixed = _DISALLOWED.sub("*", pattern)
    return fixed, fixed != pattern


def build(fmt: str, values: Mapping[str, str]) -> str:
    """Fill ``fmt``; a placeholder without a value becomes ``*``.

    Values must already be policy text (see :func:`literal`); ``Account`` and ``Region`` may be "" for
    resources that have none (AWS-owned SSM documents, public AMIs keep the format's own empty fields).

    >>> build("arn:${Partition}:s3:::${BucketName}/${ObjectName}", {"Partition": "aws", "BucketName": "b"})
    'arn:aws:s3:::b/*'
    """

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return "*" if value is None else value

    return _VARIABLE.sub(fill, fmt)


@functools.lru_cache(maxsize=8192)
def format_regex(fmt: str) -> re.Pattern[str]:
    """A regex that accepts ARNs (or ARN patterns) of this format.

    Context fields accept anything but ``:`` (and may be empty); a placeholder followed by literal text
    stops at that text's first character; a trailing placeholder stops at ``/`` and ``:`` unless its name
    says it holds a path.
    """
    return format_groups(fmt)[0]


@functools.lru_cache(maxsize=8192)
def format_groups(fmt: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """:func:`format_regex` with one group per placeholder (``v0``, ``v1`` ...), and the placeholders' names.

    >>> pattern, names = format_groups("arn:${Partition}:s3:::${BucketName}/${ObjectName}")
    >>> names, pattern.match("arn:aws:s3:::b/raw/x.csv").group("v2")
    (('Partition', 'BucketName', 'ObjectName'), 'raw/x.csv')
    """
    parts: list[str] = ["^"]
    names: list[str] = []
    position = 0
    for match in _VARIABLE.finditer(fmt):
        parts.append(re.escape(fmt[position : match.start()]))
        name = match.group(1)
        following = fmt[match.end() : match.end() + 1]
        if name in CONTEXT_VARIABLES:
            body = "[^:]*"
        elif following:
            body = "[^" + re.escape(following) + "]+"
        elif _SLASHED.search(name):
            body = ".+"
        else:
            body = "[^/:]+"
        parts.append(f"(?P<v{len(names)}>{body})")
        names.append(name)
        position = match.end()
    parts.append(re.escape(fmt[position:]) + "$")
    return re.compile("".join(parts), re.DOTALL), tuple(names)


def matches_format(arn: str, fmt: str) -> bool:
    """Whether ``arn`` has the shape of ``fmt``."""
    return bool(fmt) and format_regex(fmt).match(arn) is not None


_SPECIAL = re.compile(r"\$\{([*?$])\}")


@functools.lru_cache(maxsize=65536)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    position = 0
    for match in _SPECIAL.finditer(pattern):
        parts.append(_glob_part(pattern[position : match.start()]))
        parts.append(re.escape(match.group(1)))
        position = match.end()
    parts.append(_glob_part(pattern[position:]))
    return re.compile("^" + "".join(parts) + "$", re.DOTALL)


def _glob_part(text: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def covers(pattern: str, arn: str) -> bool:
    """Whether a policy ``Resource`` entry ``pattern`` allows ``arn`` (IAM's ``*``/``?`` and ``${*}``...).

    ``arn`` is taken as written; to ask whether one pattern covers another, pass the other pattern in its
    escaped form: its ``*`` then has to be matched by a ``*`` of ``pattern``.

    >>> covers("arn:aws:s3:::b/raw/*", "arn:aws:s3:::b/raw/x.csv")
    True
    >>> covers("arn:aws:s3:::b/raw/*", "arn:aws:s3:::c/x")
    False
    """
    return pattern == "*" or _glob_regex(pattern).match(arn) is not None


def split_arn(arn: str) -> tuple[str, str, str, str, str] | None:
    """``(partition, service, region, account, resource)`` of an ARN, or None for anything else."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[1], parts[2], parts[3], parts[4], parts[5]
