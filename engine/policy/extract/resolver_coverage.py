"""How much of AWS's API the generic resolver (:mod:`trailsmith.policy.extract.generic`) resolves.

The universe: every botocore operation (by endpoint host) whose mapped IAM action has a *required*
resource type with an ARN format holding variables beyond partition, region and account. For each, a
request is synthesised from the operation's input shape in which every member holds a distinctive value
(``v-<MemberName>``; members that hold ARNs get an ARN of the resource type when their name says so, in
another account, else an ARN of something unrelated), the resolver runs, and each ARN it returns is
checked: it must have the action's format and each variable must hold the value of a member whose name
says it names that variable (checked here with word sets, independently of the resolver's scoring), or
be the synthesised ARN itself.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from trailsmith.actions.mapping import map_event
from trailsmith.actions.reference import action_info
from trailsmith.policy.arns import build, matches_format
from trailsmith.policy.extract import generic
from trailsmith.policy.extract.models import Member, endpoint_hosts, find, operations

#: The event the synthesised calls come from, and the other account and region their ARNs point to.
EVENT = ("aws", "us-east-1", "111122223333")
OTHER = ("eu-west-3", "444455556666")

#: Endings that say what kind of identifier a name is, not what it identifies.
_KINDS = ("identifiers", "identifier", "names", "name", "ids", "id", "arns", "arn", "numbers", "number")


@dataclass(frozen=True)
class Case:
    """One (operation, action, required resource type) and what the resolver made of it."""

    host: str
    operation: str
    action: str
    resource_type: str
    #: "right", "wrong" or "unresolved"
    outcome: str
    arns: tuple[str, ...]
    reason: str


@dataclass
class Report:
    cases: list[Case] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self, host: str | None = None) -> Counter[str]:
        return Counter(c.outcome for c in self.cases if host is None or c.host == host)

    def share(self, host: str | None = None) -> float:
        counts = self.counts(host)
        total = sum(counts.values())
        return counts["right"] / total if total else 0.0

    def operations(self) -> tuple[int, int]:
        """(operations whose every case resolved right, operations)."""
        by_op: dict[tuple[str, str], bool] = {}
        for case in self.cases:
            key = (case.host, case.operation)
            by_op[key] = by_op.get(key, True) and case.outcome == "right"
        return sum(by_op.values()), len(by_op)


def core(name: str) -> str:
    """What a name identifies, lower-cased, without its kind of identifier.

    >>> core("DBClusterIdentifier"), core("sourceServerIDs"), core("Id")
    ('dbcluster', 'sourceserver', '')
    """
    lowered = name.lower().replace("-", "").replace("_", "").replace(" ", "").replace("application", "app")
    for kind in _KINDS:
        if lowered.endswith(kind):
            return lowered[: -len(kind)]
    return lowered


def plausible(variable: str, member: str, operation: str, resource_type: str) -> bool:
    """Whether a member of this name can name this variable: one's meaning is part of the other's
    (``VersionNumber`` of ``LayerVersion``, ``ConnectorDefinitionVersionId`` of ``VersionId``), or the
    member is a bare ``Id``/``Name`` of an operation about the variable's resource."""
    v_core, m_core = core(variable), core(member)
    subject = core(resource_type).removesuffix("resource")
    if v_core in ("", "resource"):
        # ``${Id}``, ``${ResourceId}``: the member that names the type, or a bare one of its own operation
        about = subject in operation.lower()
        return m_core == subject or (about and (not m_core or subject.endswith(m_core)))
    if not m_core:
        return bool(v_core) and v_core in operation.lower()
    return m_core in v_core or v_core in m_core


def _request(members: Iterable[Member], fmt: str, resource_type: str) -> tuple[dict[str, str], set[str]]:
    """Distinctive values for every member; also the ARNs of the type put in ARN-valued members."""
    fields: dict[str, str] = {}
    planted: set[str] = set()
    type_core = core(resource_type)
    arn = build(
        fmt,
        {"Partition": EVENT[0], "Region": OTHER[0], "Account": OTHER[1]}
        | {
            alias: OTHER[1] if where == "Account" else OTHER[0]
            for alias, where in generic.context_aliases(fmt).items()
        }
        | {v: f"a-{v}" for v in generic.named(fmt)},
    )
    for member in members:
        stem = core(member.name)
        if member.name.lower().endswith(("arn", "arns")):
            value = (
                arn if stem in ("", "resource") or stem in type_core else f"arn:aws:other:::x/{member.name}"
            )
            if value == arn:
                planted.add(arn)
        else:
            value = f"v-{member.name}"
        fields[member.path] = f'["{value}"]' if member.is_list else value
    return fields, planted


def _right(
    arn: str, fmts: tuple[str, ...], planted: set[str], names: dict[str, Member], case: tuple[str, str]
) -> bool:
    if arn in planted:
        return True
    for fmt in fmts:
        parsed = generic.parse(arn, fmt)
        if parsed is None:
            continue
        aliases = generic.context_aliases(fmt)
        from_arn = OTHER[1] in (parsed.get("Account"), *(parsed[a] for a in aliases))
        for variable, value in parsed.items():
            if variable == "Partition":
                ok = value == EVENT[0]
            elif variable in ("Region", "Account") or variable in aliases:
                ok = value in (EVENT[1], EVENT[2], OTHER[0], OTHER[1], "")
            elif value.startswith("a-"):
                ok = from_arn and value == f"a-{variable}"
            else:
                member = names.get(value)
                if member is None and fmt.split(":", 3)[2] in generic.LOWER_CASED:
                    # the lower-case spelling of a name is allowed beside it for these services
                    member = next((m for v, m in names.items() if v.lower() == value), None)
                # a path-shaped ARN follows the request URI, whatever its members are called
                ok = member is not None and (
                    (bool(member.uri) and generic.path_shaped(fmt)) or plausible(variable, member.name, *case)
                )
            if not ok:
                return False
        return True
    return False


def cases() -> list[tuple[str, str, str]]:
    """Every (host, operation, action) whose action has a required resource type with named variables."""
    out: list[tuple[str, str, str]] = []
    for host in endpoint_hosts():
        for name in operations(host):
            for action in map_event(host, name).actions:
                if any(t.required and generic.named(t.arn) for t in action_info(action).resource_types):
                    out.append((host, name, action))
    return out


def run(selection: Iterable[tuple[str, str, str]] | None = None) -> Report:
    """Resolve a synthesised request of every case (all of botocore by default)."""
    report = Report()
    start = time.perf_counter()
    for host, name, action in cases() if selection is None else selection:
        members = [m for op in find(host, name) for m in op.members]
        names = {f"v-{m.name}": m for m in members}
        for target in generic.plan(host, name, (action,)):
            resource_type = target.resource_type
            if not (resource_type.required and generic.named(resource_type.arn)):
                continue
            fmts = generic.alternatives(resource_type.arn)
            fields, planted = _request(members, fmts[0], resource_type.name)
            resolved = generic.resolve_target(target, fields, *EVENT)
            assert all(any(matches_format(a, f) for f in fmts) for a in resolved.arns)
            if not resolved.arns:
                outcome = "unresolved"
            elif all(_right(a, fmts, planted, names, (name, resource_type.name)) for a in resolved.arns):
                outcome = "right"
            else:
                outcome = "wrong"
            report.cases.append(
                Case(host, name, action, resource_type.name, outcome, resolved.arns, resolved.reason)
            )
    report.seconds = time.perf_counter() - start
    return report
