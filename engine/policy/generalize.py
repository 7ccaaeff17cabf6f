"""Bounded generalisation: fewer, wider resources, by two rules with fixed bounds, never across scopes.

Exact ARNs are the tightest policy, but a pipeline that touched 700 objects gets 700 ARNs and a policy
IAM refuses (6,144 characters). Generalising is a trade of tightness for size, so it is deliberate:

1. **Directories** (resource types whose last part is a path: S3 object keys, SSM parameter names, log
   groups, secrets): when ``DIRECTORY_MIN`` or more resources share a parent directory, they become
   ``parent/*``. Applied bottom-up, so ``raw/orders/part-1 ... part-8`` becomes ``raw/orders/*``, and
   ``raw/orders/*``, ``raw/clicks/*``, ``raw/items/*`` then become ``raw/*``. If more than ``NAME_CAP``
   resources of one bucket (or other scope) remain, they become their deepest common directory + ``*``.
2. **Names** (every other type): when more than ``NAME_CAP`` resources of one type share everything but
   their last name (same service, account, region, parent), they become ``<common prefix>*``.

The rules run in rounds (:func:`widenings` lists what one round may do, each a :class:`Step`), and two
modes use the same rounds: ``--resources generalize`` (:func:`generalize`) applies every round in full;
``--resources fit`` (:func:`fit`) applies steps only while the policy does not fit, the steps that replace
the most resources first. A generalised pattern never crosses a bucket, account, region or resource type,
and every rule that fired is returned as a note, so ``--explain`` can show what was widened and why.
``iam:PassRole`` is never generalised: passing any role of a path is a privilege escalation path, not a
size optimisation.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from trailsmith.policy.arns import _SLASHED, _VARIABLE, CONTEXT_VARIABLES, covers

#: Resources sharing one directory that make it ``directory/*``.
DIRECTORY_MIN = 3
#: Names of one type and scope above which they become ``prefix*``.
NAME_CAP = 10
#: Shortest common prefix worth keeping in a generalised name (shorter gives ``*``).
PREFIX_MIN = 3


@functools.lru_cache(maxsize=4096)
def _last_variable(fmt: str) -> tuple[re.Pattern[str], str] | None:
    """A regex with the format's last placeholder as group ``last``, and that placeholder's name."""
    found = list(_VARIABLE.finditer(fmt))
    if not found or found[-1].end() != len(fmt) or found[-1].group(1) in CONTEXT_VARIABLES:
        return None
    head = fmt[: found[-1].start()]
    parts, position = ["^"], 0
    for match in _VARIABLE.finditer(head):
        parts.append(re.escape(head[position : match.start()]))
        parts.append("[^:]*" if match.group(1) in CONTEXT_VARIABLES else "[^:/]*")
        position = match.end()
    parts.append(re.escape(head[position:]))
    parts.append("(?P<last>.+)$")
    return re.compile("".join(parts), re.DOTALL), found[-1].group(1)


@dataclass(frozen=True)
class Step:
    """One rule firing once: ``replaced`` resources (ARNs or narrower patterns) become ``pattern``."""

    pattern: str
    replaced: tuple[str, ...]
    #: what fired, for ``--explain``: ``3 resources in raw/ -> raw/* (directory rule, 3 or more) under ...``
    note: str
    #: the rule alone: ``directory rule, 3 or more``
    rule: str


def widenings(resources: Mapping[str, str]) -> list[Step]:
    """What one round of the rules does to ``resources`` (resource -> its ARN format), in a stable order.

    The steps of one round never share a resource, so any of them can be applied without the others.

    >>> fmt = "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    >>> [s.pattern for s in widenings({f"arn:aws:s3:::b/raw/{n}": fmt for n in "xyz"})]
    ['arn:aws:s3:::b/raw/*']
    """
    by_format: dict[str, list[str]] = defaultdict(list)
    for resource, fmt in resources.items():
        if resource != "*" and fmt:
            by_format[fmt].append(resource)
    steps: list[Step] = []
    for fmt, arns in sorted(by_format.items()):
        shape = _last_variable(fmt)
        if shape is None:
            continue
        regex, name = shape
        split: dict[str, list[str]] = defaultdict(list)
        for arn in sorted(arns):
            match = regex.match(arn)
            if match is not None:
                split[arn[: match.start("last")]].append(match.group("last"))
        for head, values in sorted(split.items()):
            if _SLASHED.search(name):
                found = _directories(values) or _common_directory(values)
            else:
                found = _names(values)
            steps.extend(
                Step(head + pattern, tuple(head + v for v in members), f"{note} under {head}", rule)
                for pattern, members, note, rule in found
            )
    return steps


#: (pattern, members, note, rule) found in the values of one scope
_Found = list[tuple[str, list[str], str, str]]


def _directories(values: list[str]) -> _Found:
    parents: dict[str, list[str]] = defaultdict(list)
    for value in values:
        base = value[:-2] if value.endswith("/*") else value
        if "/" in base:
            parents[base.rsplit("/", 1)[0] + "/"].append(value)
    return [
        (
            parent + "*",
            members,
            f"{len(members)} resources in {parent} -> {parent}* (directory rule, {DIRECTORY_MIN} or more)",
            f"directory rule, {DIRECTORY_MIN} or more",
        )
        for parent, members in sorted(parents.items())
        if len(members) >= DIRECTORY_MIN
    ]


def _common_directory(values: list[str]) -> _Found:
    if len(values) <= NAME_CAP:
        return []
    prefix = _common_prefix(values)
    directory = prefix[: prefix.rfind("/") + 1] if "/" in prefix else ""
    return [
        (
            directory + "*",
            values,
            f"{len(values)} resources -> {directory}* (common directory, more than {NAME_CAP})",
            f"common directory, more than {NAME_CAP}",
        )
    ]


def _common_prefix(values: list[str]) -> str:
    """The longest string all ``values`` start with, compared character by character.

    What ``os.path.commonprefix`` computes, without treating names and ARNs as file system paths.
    """
    if not values:
        return ""
    low, high = min(values), max(values)
    for i, char in enumerate(low):
        if char != high[i]:
            return low[:i]
    return low


def _names(values: list[str]) -> _Found:
    if len(values) <= NAME_CAP:
        return []
    prefix = _common_prefix(values)
    prefix = prefix if len(prefix) >= PREFIX_MIN else ""
    rule = f"name rule, more than {NAME_CAP}"
    return [(prefix + "*", values, f"{len(values)} names -> {prefix}* ({rule})", rule)]


class Widened:
    """Resources of several keys (actions) as the rules widen them, with the original ARNs behind each."""

    def __init__(self, resources: Mapping[str, Iterable[tuple[str, str]]]) -> None:
        self.formats: dict[str, dict[str, str]] = {}
        self.origins: dict[str, dict[str, frozenset[str]]] = {}
        self.notes: dict[str, list[str]] = {}
        #: per key, pattern -> the step that last made it
        self.made: dict[str, dict[str, Step]] = {}
        for key, pairs in resources.items():
            formats: dict[str, str] = {}
            for resource, fmt in pairs:
                formats.setdefault(resource, fmt)
            self.formats[key] = formats
            self.origins[key] = {r: frozenset((r,)) for r in formats}
            self.notes[key] = []
            self.made[key] = {}

    def current(self) -> dict[str, list[str]]:
        """Every key's resources now, sorted."""
        return {key: sorted(formats) for key, formats in self.formats.items()}

    def candidates(self) -> list[tuple[str, list[tuple[str, Step]]]]:
        """The next round's steps, grouped by pattern across keys, those replacing the most ARNs first."""
        grouped: dict[str, list[tuple[str, Step]]] = defaultdict(list)
        for key, formats in self.formats.items():
            for step in widenings(formats):
                grouped[step.pattern].append((key, step))

        def weight(item: tuple[str, list[tuple[str, Step]]]) -> tuple[int, str]:
            replaced = {o for key, step in item[1] for r in step.replaced for o in self.origins[key][r]}
            return -len(replaced), item[0]

        return sorted(grouped.items(), key=weight)

    def apply(self, key: str, step: Step) -> None:
        formats, origins = self.formats[key], self.origins[key]
        fmt = formats[step.replaced[0]]
        merged = origins.get(step.pattern, frozenset()).union(*(origins[r] for r in step.replaced))
        for resource in step.replaced:
            del formats[resource]
            del origins[resource]
        formats[step.pattern] = fmt
        origins[step.pattern] = merged
        self.notes[key].append(step.note)
        self.made[key][step.pattern] = step

    def apply_all(self) -> Widened:
        """Every round of the rules, in full: the widest result they allow (``--resources generalize``)."""
        while groups := self.candidates():
            for _, steps in groups:
                for key, step in steps:
                    self.apply(key, step)
        return self

    @classmethod
    def everything(cls, resources: Mapping[str, Iterable[tuple[str, str]]]) -> Widened:
        """``resources`` (per key, ``(resource, fmt)`` pairs) widened by every round of the rules."""
        return cls(resources).apply_all()

    def copy(self) -> Widened:
        other = Widened({})
        other.formats = {k: dict(v) for k, v in self.formats.items()}
        other.origins = {k: dict(v) for k, v in self.origins.items()}
        other.notes = {k: list(v) for k, v in self.notes.items()}
        other.made = {k: dict(v) for k, v in self.made.items()}
        return other


def generalize(resources: Iterable[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Generalise ``(resource, fmt)`` pairs of one action; returns the resources and the rules applied.

    Every round of the rules, in full: the widest result they allow.
    """
    widened = Widened.everything({"": resources})
    return drop_covered(widened.current()[""]), widened.notes[""]


def fit(
    resources: Mapping[str, Iterable[tuple[str, str]]], fits: Callable[[dict[str, list[str]]], bool]
) -> tuple[Widened, bool]:
    """Widen ``resources`` (per key, ``(resource, fmt)`` pairs) only until ``fits`` accepts them.

    Round by round, the steps that replace the most ARNs first; within a round, the fewest steps that
    fit are found by bisection (each candidate checked with ``fits``). Returns the widened resources and
    whether they fit; when even every round applied does not fit, that widest result is returned.
    """
    widened = Widened(resources)
    if fits(widened.current()):
        return widened, True
    while groups := widened.candidates():
        every = _applied(widened, groups, len(groups))
        if not fits(every.current()):
            widened = every
            continue
        low, high, best = 0, len(groups), every  # applying ``high`` groups fits, applying ``low`` does not
        while high - low > 1:
            middle = (low + high) // 2
            attempt = _applied(widened, groups, middle)
            if fits(attempt.current()):
                high, best = middle, attempt
            else:
                low = middle
        return best, True
    return widened, False


def _applied(widened: Widened, groups: list[tuple[str, list[tuple[str, Step]]]], count: int) -> Widened:
    """A copy of ``widened`` with the first ``count`` groups of steps applied."""
    out = widened.copy()
    for _, steps in groups[:count]:
        for key, step in steps:
            out.apply(key, step)
    return out


def drop_covered(resources: list[str]) -> list[str]:
    """Resources without those another (wildcard) resource of the list already allows.

    A pattern can only allow what starts with its text before the first wildcard, so each resource is
    checked against the patterns of its own prefixes only (thousands of ARNs and patterns stay fast).

    >>> drop_covered(["arn:aws:s3:::b/raw/*", "arn:aws:s3:::b/raw/x", "arn:aws:s3:::b/y"])
    ['arn:aws:s3:::b/raw/*', 'arn:aws:s3:::b/y']
    """
    if "*" in resources:
        return ["*"]
    by_prefix: dict[str, list[str]] = defaultdict(list)
    for resource in resources:
        if "*" in resource.replace("${*}", ""):
            by_prefix[_LITERAL_HEAD.match(resource).group()].append(resource)  # type: ignore[union-attr]
    lengths = sorted({len(p) for p in by_prefix})
    return [
        r
        for r in resources
        if not any(w != r and covers(w, r) for n in lengths if n <= len(r) for w in by_prefix.get(r[:n], ()))
    ]


#: The text of a pattern before its first wildcard or variable.
_LITERAL_HEAD = re.compile(r"[^*?$]*")
