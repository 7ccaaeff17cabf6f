"""``--resources generalize``: fewer, wider resources, by two rules with fixed bounds, never across scopes.

Exact ARNs are the tightest policy, but a pipeline that touched 700 objects gets 700 ARNs and a policy
IAM refuses (6,144 characters). Generalising is a trade of tightness for size, so it is deliberate:

1. **Directories** (resource types whose last part is a path: S3 object keys, SSM parameter names, log
   groups, secrets): when ``DIRECTORY_MIN`` or more resources share a parent directory, they become
   ``parent/*``. Applied bottom-up, so ``raw/orders/part-1 ... part-8`` becomes ``raw/orders/*``, and
   ``raw/orders/*``, ``raw/clicks/*``, ``raw/items/*`` then become ``raw/*``. If more than ``NAME_CAP``
   resources of one bucket (or other scope) remain, they become their deepest common directory + ``*``.
2. **Names** (every other type): when more than ``NAME_CAP`` resources of one type share everything but
   their last name (same service, account, region, parent), they become ``<common prefix>*``.

A generalised pattern never crosses a bucket, account, region or resource type, and every rule that fired
is returned as a note, so ``--explain`` can show what was widened and why. ``iam:PassRole`` is never
generalised: passing any role of a path is a privilege escalation path, not a size optimisation.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable

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


def generalize(resources: Iterable[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Generalise ``(resource, fmt)`` pairs of one action; returns the resources and the rules applied."""
    out: set[str] = set()
    notes: list[str] = []
    by_format: dict[str, list[str]] = defaultdict(list)
    for resource, fmt in resources:
        if resource == "*" or not fmt:
            out.add(resource)
        else:
            by_format[fmt].append(resource)
    for fmt, arns in sorted(by_format.items()):
        shape = _last_variable(fmt)
        if shape is None:
            out.update(arns)
            continue
        regex, name = shape
        split: dict[str, list[str]] = defaultdict(list)
        for arn in sorted(set(arns)):
            match = regex.match(arn)
            if match is None:
                out.add(arn)
            else:
                split[arn[: match.start("last")]].append(match.group("last"))
        for head, values in sorted(split.items()):
            if _SLASHED.search(name):
                kept, fired = _directories(values)
                if len(kept) > NAME_CAP:
                    kept, more = _common_directory(kept)
                    fired += more
            else:
                kept, fired = _names(values)
            out.update(head + v for v in kept)
            notes.extend(f"{rule} under {head}" for rule in fired)
    return _drop_covered(sorted(out)), notes


def _directories(values: list[str]) -> tuple[list[str], list[str]]:
    current = set(values)
    fired: list[str] = []
    while True:
        parents: dict[str, set[str]] = defaultdict(set)
        for value in current:
            base = value[:-2] if value.endswith("/*") else value
            if "/" in base:
                parents[base.rsplit("/", 1)[0] + "/"].add(value)
        crowded = {p: members for p, members in parents.items() if len(members) >= DIRECTORY_MIN}
        if not crowded:
            return sorted(current), fired
        for parent, members in sorted(crowded.items()):
            current -= members
            current.add(parent + "*")
            fired.append(
                f"{len(members)} resources in {parent} -> {parent}* (directory rule, {DIRECTORY_MIN} or more)"
            )


def _common_directory(values: list[str]) -> tuple[list[str], list[str]]:
    prefix = _common_prefix(values)
    directory = prefix[: prefix.rfind("/") + 1] if "/" in prefix else ""
    return [directory + "*"], [
        f"{len(values)} resources -> {directory}* (common directory, more than {NAME_CAP})"
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


def _names(values: list[str]) -> tuple[list[str], list[str]]:
    if len(values) <= NAME_CAP:
        return sorted(values), []
    prefix = _common_prefix(values)
    prefix = prefix if len(prefix) >= PREFIX_MIN else ""
    return [prefix + "*"], [f"{len(values)} names -> {prefix}* (name rule, more than {NAME_CAP})"]


def _drop_covered(resources: list[str]) -> list[str]:
    """Resources without those another (wildcard) resource of the list already allows."""
    if "*" in resources:
        return ["*"]
    wild = [r for r in resources if "*" in r.replace("${*}", "")]
    return [r for r in resources if not any(w != r and covers(w, r) for w in wild)]
