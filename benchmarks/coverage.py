"""How much of AWS's API the generic resolver names to the right ARN: ``python -m benchmarks.coverage``.

For every botocore operation whose mapped IAM action has a required resource type with variables beyond
partition, region and account, a request is synthesised from the operation's input shape and resolved
(:mod:`trailsmith.policy.extract.resolver_coverage`). Prints one row per service (``--all``: every one,
else those with something unresolved), the unresolved by kind of operation, the overall share and the
time it took; ``--json PATH`` writes the cases.
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


def table(report: Report, every: bool) -> list[str]:
    lines = [f"{'service':40} {'cases':>6} {'right':>6} {'wrong':>6} {'unres.':>6} {'share':>7}"]
    hosts = sorted({c.host for c in report.cases}, key=lambda h: (-report.counts(h)["unresolved"], h))
    for host in hosts:
        counts = report.counts(host)
        if not every and not counts["unresolved"] and not counts["wrong"]:
            continue
        total = sum(counts.values())
        lines.append(
            f"{host:40} {total:6} {counts['right']:6} {counts['wrong']:6} {counts['unresolved']:6} "
            f"{report.share(host):7.1%}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="a row for every service")
    parser.add_argument("--json", type=Path, help="write every case here")
    args = parser.parse_args()
    start = time.perf_counter()
    report = run()
    wall = time.perf_counter() - start
    print("\n".join(table(report, args.all)))
    counts = report.counts()
    total = sum(counts.values())
    by_kind = Counter(kind(c.operation) for c in report.cases if c.outcome == "unresolved")
    all_kind = Counter(kind(c.operation) for c in report.cases)
    print()
    for name in sorted(all_kind):
        print(f"unresolved {name:14} {by_kind[name]:6} of {all_kind[name]:6}")
    right_ops, ops = report.operations()
    print(
        f"\n{total} cases (operation, action, required type) in {len({c.host for c in report.cases})} "
        f"services: {counts['right']} right ({report.share():.1%}), {counts['wrong']} wrong, "
        f"{counts['unresolved']} unresolved; operations with every case right: {right_ops}/{ops} "
        f"({right_ops / max(ops, 1):.1%}); resolving took {report.seconds:.1f}s "
        f"({wall:.1f}s with model loading)"
    )
    if args.json:
        args.json.write_text(json.dumps([c.__dict__ for c in report.cases], indent=1))


if __name__ == "__main__":
    main()
