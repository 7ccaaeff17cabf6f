"""How much of AWS's API policies scope to the right ARN: ``python -m benchmarks.coverage``.

For every botocore operation whose mapped IAM action has a required resource type with variables beyond
partition, region and account, a request is synthesised from the operation's input shape and resolved
(:mod:`trailsmith.policy.extract.resolver_coverage`), as policy generation does: through a service's
hand-written extractor where it has one, with the resolver filling in (``--generated``: the resolver
alone). Prints one row per service (``--all``: every one, else those with something unresolved), the
unresolved by kind of operation, the overall shares and the time it took; ``--json PATH`` writes the cases.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

from trailsmith.policy.extract.resolver_coverage import Report, run

#: Kinds of operation by their verb: those that name no resource yet (the service assigns its id) or
#: list many rarely name the one resource the reference requires.
_KINDS = (
    ("list/describe", re.compile(r"^(List|Describe|Search|BatchGet|Get\w+s$)")),
    ("create/start", re.compile(r"^(Create|Start|Import|Register|Put|Run|Copy|Restore)")),
)


def kind(operation: str) -> str:
    """The kind of an operation by its verb."""
    for name, pattern in _KINDS:
        if pattern.match(operation):
            return name
    return "other"


_COLUMNS = ("right", "scoped", "waived", "extractor", "loose", "wrong", "unresolved")


def table(report: Report, every: bool) -> list[str]:
    lines = [f"{'service':36} {'cases':>6} " + " ".join(f"{c[:9]:>9}" for c in _COLUMNS) + f" {'share':>7}"]
    hosts = sorted({c.host for c in report.cases}, key=lambda h: (-report.counts(h)["unresolved"], h))
    for host in hosts:
        counts = report.counts(host)
        if not every and not counts["unresolved"] and not counts["wrong"]:
            continue
        total = sum(counts.values())
        cells = " ".join(f"{counts[c]:9}" for c in _COLUMNS)
        lines.append(f"{host:36} {total:6} {cells} {report.share(host):7.1%}")
    return lines


def summary(report: Report, wall: float) -> str:
    counts = report.counts()
    total = sum(counts.values())
    resolved = counts["right"] + counts["scoped"] + counts["waived"] + counts["extractor"]
    right_ops, ops = report.operations()
    return (
        f"{total} cases (operation, action, required type) in {len({c.host for c in report.cases})} "
        f"services: {resolved} resolved ({report.share():.1%}): {counts['right']} exactly by the resolver, "
        f"{counts['extractor']} by hand-written extractors, {counts['scoped']} scoped to what the request "
        f"named with * for ids it cannot carry ({report.share(exact=True):.1%} without these), "
        f"{counts['waived']} not needed (the request named an alternative or a finer type); "
        f"{counts['loose']} loose (safe, with * where a member seems to name the variable), "
        f"{counts['wrong']} wrong, {counts['unresolved']} unresolved; operations with every case resolved: "
        f"{right_ops}/{ops} ({right_ops / max(ops, 1):.1%}); resolving took {report.seconds:.1f}s "
        f"({wall:.1f}s with model loading)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="a row for every service")
    parser.add_argument("--generated", action="store_true", help="the resolver alone, for every service")
    parser.add_argument("--json", type=Path, help="write every case here")
    args = parser.parse_args()
    start = time.perf_counter()
    report = run(generated=args.generated)
    wall = time.perf_counter() - start
    print("\n".join(table(report, args.all)))
    by_kind = Counter(kind(c.operation) for c in report.cases if c.outcome == "unresolved")
    all_kind = Counter(kind(c.operation) for c in report.cases)
    print()
    for name in sorted(all_kind):
        print(f"unresolved {name:14} {by_kind[name]:6} of {all_kind[name]:6}")
    print("\n" + summary(report, wall))
    if args.json:
        args.json.write_text(json.dumps([c.__dict__ for c in report.cases], indent=1))


if __name__ == "__main__":
    main()
