"""Matching one value of a request against a policy: patterns with wildcards and variables, conditions.

:mod:`trailsmith.iam.request` decides requests with it; the rules it implements are listed there. This
module holds the parts that need no notion of a statement: an ``Action``, ``Resource`` or condition value
compiled once (by its text) into a regex, with policy variables resolved per request, and a ``Condition``
block compiled once into :class:`Clause` values.

Every answer is three-valued (:data:`Tri`): ``None`` means "depends on a context key the trail cannot
tell", and the keys responsible are appended to the ``keys`` list each matcher takes.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import ipaddress
import json
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

#: three-valued truth: ``None`` is "depends on a key the trail cannot tell"
Tri = bool | None


class Unknown(enum.Enum):
    """The one value that says "the trail cannot tell": neither a key's values nor its absence."""

    KEY = "unknown"


#: what :meth:`Context.lookup` returns for a key the trail cannot tell
UNKNOWN = Unknown.KEY
Looked = tuple[str, ...] | None | Unknown


class Context(Protocol):
    """What matchers ask of a request: a condition key's values (lower case), its absence, or ignorance."""

    def lookup(self, key: str) -> Looked: ...


# --- patterns --------------------------------------------------------------------------------------------

_TOKENS = re.compile(r"\$\{([^}]*)\}|[*?:]|[^$*?:]+|\$")
_VARIABLE = re.compile(r"^\s*([^,\s]+)\s*(?:,\s*'([^']*)'\s*)?$")
_ESCAPES = frozenset("*?$")
_GLOBS = frozenset({"arn", "like", "action"})


@dataclass(frozen=True)
class _Var:
    key: str
    default: str | None


#: a pattern's parts: ("text", regex), ("one", regex of one character), ("any", regex of a run), or a variable
_Item = tuple[str, str] | _Var


@dataclass(frozen=True)
class _Pattern:
    """A compiled Resource entry or condition value: a regex, or items with variables resolved per request."""

    items: tuple[_Item, ...]
    flags: int
    #: without variables: the items, and their regex
    plain: tuple[tuple[str, str], ...] | None = None
    fixed: re.Pattern[str] | None = None
    variables: tuple[_Var, ...] = ()
    #: with variables: their values -> the regex (the same users and tags come back, request after request)
    _resolved: dict[tuple[str, ...], re.Pattern[str]] = field(default_factory=dict, compare=False, repr=False)

    def match(self, value: str, context: Context, keys: list[str]) -> Tri:
        if self.fixed is not None:
            return self.fixed.fullmatch(value) is not None
        values = []
        for item in self.variables:
            found = context.lookup(item.key)
            if isinstance(found, Unknown):
                keys.append(item.key)
                return None
            if found and len(found) == 1:
                values.append(found[0])
            elif item.default is not None:
                values.append(item.default)
            else:
                return False
        return self._regex(tuple(values)).fullmatch(value) is not None

    def _regex(self, values: tuple[str, ...]) -> re.Pattern[str]:
        regex = self._resolved.get(values)
        if regex is None:
            if len(self._resolved) >= 1 << 10:
                self._resolved.clear()
            given = iter(values)
            items = tuple(("text", re.escape(next(given))) if isinstance(i, _Var) else i for i in self.items)
            regex = self._resolved[values] = re.compile(_glob(items)[0], self.flags)
        return regex


@functools.lru_cache(maxsize=1 << 14)
def _pattern(text: str, kind: str) -> _Pattern:
    """Compile ``text`` as a ``kind``: ``arn`` (wildcards within a part), ``like``, ``action`` (``like``
    ignoring case, no variables), ``equals`` or ``nocase`` (no wildcards).

    >>> _pattern("arn:aws:s3:::${aws:username}/*", "arn").items[-3:]
    (_Var(key='aws:username', default=None), ('text', '/'), ('any', '.*'))
    """
    items: list[_Item] = []
    tokens = list(_TOKENS.finditer(text))
    colons = sum(t.group(0) == ":" for t in tokens) if kind == "arn" else 0
    seen = 0
    for token in tokens:
        whole, inner = token.group(0), token.group(1)
        within = kind == "arn" and seen < min(colons, 5)  # a wildcard that may not cross a colon
        variable = inner if kind != "action" else None  # actions take no variables
        parsed = _VARIABLE.match(variable) if variable is not None else None
        if variable is not None and variable.strip() in _ESCAPES:
            items.append(("text", re.escape(variable.strip())))
        elif parsed:
            items.append(_Var(parsed.group(1).lower(), parsed.group(2)))
        elif whole == "*" and kind in _GLOBS:
            items.append(("any", "[^:]*" if within else ".*"))
        elif whole == "?" and kind in _GLOBS:
            items.append(("one", "[^:]" if within else "."))
        else:
            seen += whole == ":"
            items.append(("text", re.escape(whole)))
    flags = re.IGNORECASE | re.DOTALL if kind in ("nocase", "action") else re.DOTALL
    plain = tuple(item for item in items if not isinstance(item, _Var))
    if len(plain) < len(items):
        return _Pattern(tuple(items), flags, variables=tuple(i for i in items if isinstance(i, _Var)))
    return _Pattern(tuple(items), flags, plain, _assembled(plain, flags))


def _glob(items: Iterable[tuple[str, str]], groups: int = 0) -> tuple[str, int]:
    """The regex of a glob, immune to catastrophic backtracking (policies are hostile input); groups used.

    A plain translation (``*a*a*a*b`` to ``.*a.*a.*a.*b``) takes time exponential in the number of stars
    on a long non-matching resource. Glob matching needs no backtracking: placing the text between two
    stars at its earliest occurrence is always safe. Each such placement is made atomic (a lookahead
    captured, then consumed by a back-reference), so only the last star ever backtracks. ``groups`` is the
    number of groups already used, when the result goes into a larger regex.

    >>> regex, groups = _glob((("text", "a"), ("any", ".*"), ("text", "b"), ("any", ".*")))
    >>> print(regex, groups)
    a(?=(.*?b))\\1.* 1
    """
    out: list[str] = []
    star = ""
    segment: list[str] = []
    for kind, text in items:
        if kind != "any":
            segment.append(text)
            continue
        if not star:
            out += segment
        elif segment:
            groups += 1
            out.append(f"(?=({star}?{''.join(segment)}))\\{groups}")
        star, segment = text, []
    out.append(star + "".join(segment))
    return "".join(out), groups


@functools.lru_cache(maxsize=1 << 14)
def _assembled(items: tuple[tuple[str, str], ...], flags: int) -> re.Pattern[str]:
    return re.compile(_glob(items)[0], flags)


@dataclass(frozen=True)
class Patterns:
    """Several patterns ORed: those that are plain text as a set, the other variable-free ones as one
    alternation, the rest one by one. (A generated policy lists hundreds of exact ARNs: a set lookup, not
    a regex of hundreds of branches to compile and try.)"""

    fixed: re.Pattern[str] | None
    variable: tuple[_Pattern, ...]
    literal: frozenset[str] = frozenset()
    #: whether ``literal`` and ``prefixes`` hold lower-cased text, to be compared with a lower-cased value
    nocase: bool = False
    #: patterns whose one wildcard is a final ``*`` that may match anything (``s3:Get*``, a bucket's
    #: ``prefix/*``): the text before it
    prefixes: tuple[str, ...] = ()

    def plain(self, value: str) -> bool:
        """Whether a pattern without variables matches (all of an ``Action``'s patterns are such)."""
        if self.literal or self.prefixes:
            folded = value.lower() if self.nocase else value
            if folded in self.literal or folded.startswith(self.prefixes):
                return True
        return self.fixed is not None and self.fixed.fullmatch(value) is not None

    def match(self, value: str, context: Context, keys: list[str]) -> Tri:
        if self.plain(value):
            return True
        return any_of(p.match(value, context, keys) for p in self.variable)


def patterns(texts: Iterable[str], kind: str) -> Patterns:
    """Compile ``texts`` (as :func:`_pattern` does) into one matcher that matches when any of them does.

    >>> p = patterns(["arn:aws:s3:::logs/*", "arn:aws:s3:::home/${aws:username}/*"], "arn")
    >>> class Alice:
    ...     def lookup(self, key): return ("alice",) if key == "aws:username" else None
    >>> [p.match(arn, Alice(), []) for arn in ("arn:aws:s3:::logs/a", "arn:aws:s3:::home/alice/b",
    ...     "arn:aws:s3:::home/bob/b")]
    [True, True, False]
    """
    nocase = kind in ("nocase", "action")
    wild = "*?" if kind in _GLOBS else ""
    literal: set[str] = set()
    prefixes: set[str] = set()
    compiled = []
    for text in texts:
        folded = text.lower() if nocase else text
        if "$" not in text and not any(c in text for c in wild):
            literal.add(folded)
        elif _final_star(text, kind):
            prefixes.add(folded[:-1])
        else:
            compiled.append(_pattern(text, kind))
    alternatives = []
    groups = 0
    for pattern in compiled:
        if pattern.plain is not None:
            text, groups = _glob(pattern.plain, groups)
            alternatives.append(f"(?:{text})")
    joined = re.compile("|".join(alternatives), compiled[0].flags) if alternatives else None
    variable = tuple(p for p in compiled if p.plain is None)
    return Patterns(joined, variable, frozenset(literal), nocase, tuple(sorted(prefixes)))


def _final_star(text: str, kind: str) -> bool:
    """Whether ``text``'s one wildcard is a final ``*`` that matches whatever follows: in an ARN, only in its
    resource part (after the fifth colon), where a wildcard runs to the end.

    >>> _final_star("arn:aws:s3:::logs/*", "arn"), _final_star("arn:aws:ec2:*", "arn")
    (True, False)
    >>> _final_star("s3:Get*", "action"), _final_star("s3:*Object*", "action")
    (True, False)
    """
    head = text[:-1]
    if not text.endswith("*") or any(c in head for c in "*?$"):
        return False
    return kind in ("like", "action") or (kind == "arn" and head.count(":") >= 5)


@functools.lru_cache(maxsize=1 << 14)
def entry(text: str, kind: str) -> Patterns:
    """One entry (an ``Action`` pattern, a ``Resource`` ARN) compiled on its own, remembered by its text."""
    return patterns((text.strip() if kind == "action" else text,), kind)


def any_of(results: Iterable[Tri]) -> Tri:
    """Three-valued OR: true if any is, unknown if any is and none is true."""
    undecided = False
    for result in results:
        if result:
            return True
        undecided = undecided or result is None
    return None if undecided else False


def all_of(results: Iterable[Tri]) -> Tri:
    """Three-valued AND."""
    undecided = False
    for result in results:
        if result is False:
            return False
        undecided = undecided or result is None
    return None if undecided else True


def negation(result: Tri) -> Tri:
    return None if result is None else not result


def everything(pattern: str) -> bool:
    return bool(pattern) and set(pattern) <= {"*"}


# --- conditions ------------------------------------------------------------------------------------------

#: one request value against the policy values of a clause: does any of them match
_Check = Callable[[str, Context, list[str]], Tri]


class _Malformed(Exception):
    """A condition block IAM would refuse; its statement matches nothing."""


@dataclass(frozen=True)
class Clause:
    """One key of one operator: ``ForAnyValue:StringLikeIfExists {"aws:TagKeys": [...]}``."""

    key: str
    qualifier: str  # "", "forallvalues" or "foranyvalue"
    negated: bool
    if_exists: bool
    check: _Check
    null: tuple[bool, ...] = ()

    def evaluate(self, context: Context, keys: list[str]) -> Tri:
        values = context.lookup(self.key)
        if isinstance(values, Unknown):
            keys.append(self.key)
            return None
        if self.null:
            return (not values) in self.null
        if not values:
            if self.if_exists or self.qualifier == "forallvalues":
                return True
            return False if self.qualifier == "foranyvalue" else self.negated
        if self.qualifier:
            each = (self.check(v, context, keys) for v in values)
            singles = (negation(r) for r in each) if self.negated else each
            return all_of(singles) if self.qualifier == "forallvalues" else any_of(singles)
        matched = any_of(self.check(v, context, keys) for v in values)
        return negation(matched) if self.negated else matched


def _text(value: Any) -> str:
    """A condition value as IAM reads it: a string, a number or a boolean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise _Malformed(f"has a value that is {type(value).__name__}, not a string, number or boolean")


def _string_check(kind: str) -> Callable[[list[str]], _Check]:
    def build(values: list[str]) -> _Check:
        return patterns(values, kind).match

    return build


def _ordered_check(
    parse: Callable[[str], float | None], compare: Callable[[float, float], bool], what: str
) -> Callable[[list[str]], _Check]:
    def build(values: list[str]) -> _Check:
        wanted = []
        for value in values:
            parsed = parse(value)
            if parsed is None:
                raise _Malformed(f"has {value!r}, which is not {what}")
            wanted.append(parsed)

        def check(value: str, context: Context, keys: list[str]) -> Tri:
            got = parse(value)
            return got is not None and any(compare(got, w) for w in wanted)

        return check

    return build


_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def _number(text: str) -> float | None:
    """A decimal number; not Python's wider spelling (``1_000``, ``nan``, ``infinity``)."""
    return float(text) if _NUMBER.match(text) else None


_EPOCH = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")
#: ISO 8601's basic form, which ``fromisoformat`` reads only from Python 3.11 (after "Z" became "+00:00")
_BASIC = ("%Y%m%dT%H%M%S%z", "%Y%m%dT%H%M%S", "%Y%m%d")


@functools.lru_cache(maxsize=1 << 14)
def _date(text: str) -> float | None:
    """Seconds since the epoch from ISO 8601 (extended or basic form) or epoch seconds; UTC by default.

    >>> _date("2024-06-15T14:00:00+02:00") == _date("20240615T120000Z") == _date("1718452800")
    True
    """
    if _EPOCH.match(text):
        return float(text)
    stamp = text.strip()
    if stamp[-1:] in ("Z", "z"):
        stamp = stamp[:-1] + "+00:00"
    parsed = _timestamp(stamp)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.timestamp()
    except (OverflowError, ValueError):  # year 1 less an offset: before anything a trail records
        return None


def _timestamp(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        pass
    for form in _BASIC:
        try:
            return datetime.strptime(stamp, form)
        except ValueError:
            continue
    return None


def _binary_check(values: list[str]) -> _Check:
    wanted = {_decoded(v) for v in values}

    def check(value: str, context: Context, keys: list[str]) -> Tri:
        return _decoded(value) in wanted

    return check


def _decoded(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8", "surrogatepass")


@functools.lru_cache(maxsize=1 << 14)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text.strip())


def _ip_check(values: list[str]) -> _Check:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise _Malformed(f"has {value!r}, which is not an IPv4 or IPv6 address or CIDR") from None

    def check(value: str, context: Context, keys: list[str]) -> Tri:
        try:
            address = _address(value)
        except ValueError:
            return False
        return any(address.version == n.version and address in n for n in networks)

    return check


_COMPARE = {
    "equals": operator.eq,
    "lessthan": operator.lt,
    "lessthanequals": operator.le,
    "greaterthan": operator.gt,
    "greaterthanequals": operator.ge,
}

#: operator name (lower case, no qualifier or IfExists) -> (negated, builder of the check)
_OPERATORS: dict[str, tuple[bool, Callable[[list[str]], _Check]]] = {
    "stringequals": (False, _string_check("equals")),
    "stringnotequals": (True, _string_check("equals")),
    "stringequalsignorecase": (False, _string_check("nocase")),
    "stringnotequalsignorecase": (True, _string_check("nocase")),
    "stringlike": (False, _string_check("like")),
    "stringnotlike": (True, _string_check("like")),
    "bool": (False, _string_check("nocase")),
    "binaryequals": (False, _binary_check),
    "ipaddress": (False, _ip_check),
    "notipaddress": (True, _ip_check),
    "arnequals": (False, _string_check("arn")),
    "arnlike": (False, _string_check("arn")),
    "arnnotequals": (True, _string_check("arn")),
    "arnnotlike": (True, _string_check("arn")),
    "numericnotequals": (True, _ordered_check(_number, operator.eq, "a number")),
    "datenotequals": (True, _ordered_check(_date, operator.eq, "a date")),
    **{f"numeric{n}": (False, _ordered_check(_number, c, "a number")) for n, c in _COMPARE.items()},
    **{f"date{n}": (False, _ordered_check(_date, c, "a date")) for n, c in _COMPARE.items()},
}


@functools.lru_cache(maxsize=1 << 12)
def condition(text: str) -> tuple[tuple[Clause, ...], str]:
    """The clauses of a Condition block (canonical JSON text), or ``((), why)`` when IAM would refuse it.

    >>> clauses, why = condition('{"ForAnyValue:StringLike": {"aws:TagKeys": ["env*", "team"]}}')
    >>> [(c.key, c.qualifier, c.negated, c.if_exists) for c in clauses], why
    ([('aws:tagkeys', 'foranyvalue', False, False)], '')
    >>> condition('{"StringEqualz": {"aws:username": "a"}}')
    ((), "unknown Condition operator 'StringEqualz'")
    """
    try:
        block = json.loads(text)
        if not isinstance(block, dict):
            raise _Malformed("Condition is not an object")
        return tuple(t for name, keys in block.items() for t in _clauses(name, keys)), ""
    except _Malformed as bad:
        return (), str(bad)
    except (ValueError, RecursionError) as exc:
        return (), f"Condition is not valid JSON: {exc}"


def _clauses(name: str, keys: Any) -> Iterator[Clause]:
    lowered = name.lower()
    qualifier, _, base = lowered.rpartition(":")
    if qualifier not in ("", "forallvalues", "foranyvalue"):
        raise _Malformed(f"Condition operator {name!r}: unknown set qualifier")
    if_exists = base.endswith("ifexists") and base != "ifexists"
    base = base.removesuffix("ifexists") if if_exists else base
    if base != "null" and base not in _OPERATORS:
        raise _Malformed(f"unknown Condition operator {name!r}")
    if base == "null" and (if_exists or qualifier):
        raise _Malformed(f"unknown Condition operator {name!r}")
    if not isinstance(keys, dict) or not keys:
        raise _Malformed(f"Condition operator {name!r} does not hold an object of keys")
    for key, raw in keys.items():
        listed = raw if isinstance(raw, list) else [raw]
        if not listed:
            raise _Malformed(f"{name} {key!r} has an empty list of values")
        try:
            values = [_text(v) for v in listed]
        except _Malformed as bad:
            raise _Malformed(f"{name} {key!r} {bad}") from None
        if base == "null":
            if any(v.lower() not in ("true", "false") for v in values):
                raise _Malformed(f"Null {key!r} takes only true or false")
            null = tuple(v.lower() == "true" for v in values)
            yield Clause(key.lower(), "", False, False, _never, null)
            continue
        negated, build = _OPERATORS[base]
        try:
            check = build(values)
        except _Malformed as bad:
            raise _Malformed(f"{name} {key!r} {bad}") from None
        yield Clause(key.lower(), qualifier, negated, if_exists, check)


def _never(value: str, context: Context, keys: list[str]) -> Tri:
    return False
