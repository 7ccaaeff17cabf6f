"""How much of AWS's API the generic resolver (:mod:`trailsmith.policy.extract.generic`) resolves.

The universe: every botocore operation (by endpoint host) whose mapped IAM action has a *required*
resource type with an ARN format holding variables beyond partition, region and account. For each, a
request is synthesised from the operation's input shape in which every member holds a distinctive value
(``v_<MemberName>``; members that hold ARNs get an ARN of the resource type when their name says so, in
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
from trailsmith.policy.arns import matches_format
from trailsmith.policy.extract import generic, registry
from trailsmith.policy.extract.base import Call, type_of
from trailsmith.policy.extract.models import Member, endpoint_hosts, find, operations
from trailsmith.policy.extract.synthetic import EVENT, KINDS, OTHER, core, request
from trailsmith.policy.resources import unneeded


@dataclass(frozen=True)
class Case:
    """One (operation, action, required resource type) and what the resolver made of it."""

    host: str
    operation: str
    action: str
    resource_type: str
    #: "right"; "scoped" (right, with ``*`` for ids no member names); "waived" (not needed by the call: the
    #: request named an alternative of the type, such as the inference profile a Bedrock ``modelId`` may
    #: name instead of a foundation model, or a finer type whose ARN extends it, as policy generation
    #: decides); "loose" (safe, with ``*`` where a member seems to name the variable, or for every
    #: variable); "wrong"; "unresolved"; or "extractor" (named by the service's hand-written extractor)
    outcome: str
    arns: tuple[str, ...]
    reason: str


#: The outcomes that count as resolved.
RESOLVED = frozenset({"right", "scoped", "waived", "extractor"})


@dataclass
class Report:
    cases: list[Case] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self, host: str | None = None) -> Counter[str]:
        return Counter(c.outcome for c in self.cases if host is None or c.host == host)

    def share(self, host: str | None = None, *, exact: bool = False) -> float:
        """The share of cases resolved: right, by a hand-written extractor, waived, and (unless ``exact``)
        scoped."""
        counts = self.counts(host)
        total = sum(counts.values())
        good = counts["right"] + counts["extractor"] + counts["waived"] + (0 if exact else counts["scoped"])
        return good / total if total else 0.0

    def operations(self) -> tuple[int, int]:
        """(operations whose every case resolved right or scoped, operations)."""
        by_op: dict[tuple[str, str], bool] = {}
        for case in self.cases:
            key = (case.host, case.operation)
            by_op[key] = by_op.get(key, True) and case.outcome in RESOLVED
        return sum(by_op.values()), len(by_op)


def plausible(variable: str, member: str, operation: str, resource_type: str) -> bool:
    """Whether a member of this name can name this variable: one's meaning is part of the other's
    (``VersionNumber`` of ``LayerVersion``, ``ConnectorDefinitionVersionId`` of ``VersionId``), or the
    member is a bare ``Id``/``Name`` of an operation about the variable's resource."""
    v_core, m_core = core(variable), core(member)
    subject = core(resource_type).removesuffix("resource")
    if v_core in ("", "resource", "resourcepath"):
        # ``${Id}``, ``${ResourceId}``: the member that names the type, or a bare one of its own operation
        about = subject in operation.lower()
        return m_core == subject or (about and (not m_core or subject.endswith(m_core)))
    if not m_core:
        return bool(v_core) and v_core in operation.lower()
    # the member named for the type itself, with the same kind of identifier (``NetworkAclId`` of a
    # ``network-acl`` whose format's one variable is ``${NaclId}``)
    return (
        m_core in v_core or v_core in m_core or (m_core == subject and kind(member) == kind(variable) != "")
    )


def kind(name: str) -> str:
    """The kind of identifier a name is ("name", "id", ... or "").

    >>> kind("DBClusterIdentifier"), kind("StackName"), kind("Bucket")
    ('identifier', 'name', '')
    """
    lowered = name.lower()
    return next((k.removesuffix("s") for k in KINDS if lowered.endswith(k)), "")


def names_same(variable: str, member: str, operation: str, resource_type: str) -> bool:
    """Stricter than :func:`plausible`: whether the member names exactly what the variable holds, the same
    thing and the same kind of identifier (``FrameworkName`` does not name a ``${FrameworkId}``)."""
    v_core, m_core = core(variable), core(member)
    v_kind, m_kind = kind(variable), kind(member)
    kinds = {v_kind, m_kind}
    compatible = len(kinds) == 1 or "identifier" in kinds or "" in kinds
    subject = core(resource_type).removesuffix("resource")
    if v_core in ("", "resource"):
        return m_core == subject and compatible
    return (m_core == v_core or (not m_core and v_core in operation.lower())) and compatible


def _judge(
    arn: str, fmts: tuple[str, ...], planted: set[str], names: dict[str, Member], case: tuple[str, str]
) -> str:
    """ "right" (every variable as the request named it), "scoped" (the same, with ``*`` for variables no
    member could name: ids the service assigns) or "wrong"."""
    if arn in planted:
        return "right"
    for fmt in fmts:
        parsed = generic.parse(arn, fmt)
        if parsed is None:
            continue
        aliases = generic.context_aliases(fmt)
        # values of the planted ARN: it is in another account or region, or the format has neither
        from_arn = (
            OTHER[1] in (parsed.get("Account"), *(parsed[a] for a in aliases))
            or parsed.get("Region") == OTHER[0]
            or not ({"Region", "Account", *aliases} & set(parsed))
        )
        wildcards, missed = 0, False
        for variable, value in parsed.items():
            if variable == "Partition":
                ok = value == EVENT[0]
            elif variable in ("Region", "Account") or variable in aliases:
                ok = value in (EVENT[1], EVENT[2], OTHER[0], OTHER[1], "")
            elif value == "*":
                # safe whatever the variable (``*`` cannot deny), but a resolution only for a variable no
                # member of the operation names: else it is a name the resolver missed
                ok = True
                wildcards += 1
                missed = missed or any(names_same(variable, m.name, *case) for m in names.values())
            elif value.startswith("a_"):
                ok = from_arn and value == f"a_{variable}"
            else:
                # the ARN's spelling of the request's value (WAFv2's ``global`` for ``CLOUDFRONT``)
                requested = {v: k for k, v in generic.SPELLING.get((fmt.split(":")[2], variable), {}).items()}
                member = names.get(requested.get(value, value))
                if member is None and fmt.split(":", 3)[2] in generic.LOWER_CASED:
                    # the lower-case spelling of a name is allowed beside it for these services
                    member = next((m for v, m in names.items() if v.lower() == value), None)
                # a path-shaped ARN follows the request URI, whatever its members are called
                ok = member is not None and (
                    (bool(member.uri) and generic.path_shaped(fmt)) or plausible(variable, member.name, *case)
                )
            if not ok:
                return "wrong"
        if not wildcards:
            return "right"
        # a pattern that names nothing, or leaves out a name the request holds, is safe but not tight
        # (but the id of a resource the operation makes is never in the request: ``internet-gateway/*`` for
        # ``CreateInternetGateway`` is as tight as an ARN can be)
        everything = wildcards >= len(generic.named(fmt)) and not generic.creates(*case)
        return "loose" if missed or everything else "scoped"
    return "wrong"


def cases() -> list[tuple[str, str, str]]:
    """Every (host, operation, action) whose action has a required resource type with named variables."""
    out: list[tuple[str, str, str]] = []
    for host in endpoint_hosts():
        for name in operations(host):
            for action in map_event(host, name).actions:
                if any(t.required and generic.named(t.arn) for t in action_info(action).resource_types):
                    out.append((host, name, action))
    return out


def _extracted(
    host: str, name: str, action: str, target: generic.Target, fields: dict[str, str]
) -> tuple[tuple[str, ...], bool]:
    """What policy generation makes of the request for this target on a service with a hand-written
    extractor, given the fields the SQL pulls for the call: the extractor's resources for the target, and
    whether they are the extractor's (else the resolver's, filling in:
    :mod:`~trailsmith.policy.extract.layered`)."""
    spec = registry.spec_for(host)
    assert spec is not None
    pulled = {
        path: value
        for path, value in fields.items()
        if path in spec.fields and (path not in spec.only or name.startswith(tuple(spec.only[path])))
    }
    call = Call(host, name, EVENT[0], EVENT[2], EVENT[1], "", pulled)
    own = {
        ref.arn
        for ref in registry.specs()[host].extract(call)
        if (not ref.actions or action in ref.actions) and type_of(ref, (target.resource_type,))
    }
    refs = [
        ref.arn
        for ref in spec.extract(call)
        if (not ref.actions or action in ref.actions) and type_of(ref, (target.resource_type,))
    ]
    return tuple(dict.fromkeys(refs)), bool(own)


def _resolved(
    host: str, name: str, action: str, target: generic.Target, fields: dict[str, str], by_extractor: bool
) -> tuple[tuple[str, ...], str, bool]:
    """(ARNs, why, whether the hand-written extractor named them) for one target, as policies are made."""
    if by_extractor:
        arns, own = _extracted(host, name, action, target, fields)
        return arns, "the service's extractor" if own else "the resolver, filling in for the extractor", own
    resolved = generic.resolve_target(target, fields, *EVENT)
    fmts = generic.alternatives(target.resource_type.arn)
    assert all(any(matches_format(a, f) for f in fmts) for a in resolved.arns)
    return resolved.arns, resolved.reason, False


def _unneeded(
    host: str, name: str, action: str, target: generic.Target, fields: dict[str, str], by_extractor: bool
) -> bool:
    """Whether policy generation would not need ``target``'s type for this call: the request named an
    alternative of it or a finer type (:func:`trailsmith.policy.resources.unneeded`)."""
    targets = generic.plan(host, name, (action,))
    matched = {
        t.resource_type.name for t in targets if _resolved(host, name, action, t, fields, by_extractor)[0]
    }
    if not matched:
        return False
    call = Call(host, name, EVENT[0], EVENT[2], EVENT[1], "", fields)
    types = tuple(t.resource_type for t in targets)
    return target.resource_type.name in unneeded(call, action, types, matched)


def run(selection: Iterable[tuple[str, str, str]] | None = None, *, generated: bool = False) -> Report:
    """Resolve a synthesised request of every case (all of botocore by default).

    A service with a hand-written extractor is measured as policies are made: through its extractor (the
    case is then ``"extractor"``: its traps test it), with the resolver filling in (judged here). With
    ``generated``, and for services whose CloudTrail requests do not use botocore's names (EC2, S3: the
    synthesised request would not be theirs), through the resolver alone.
    """
    report = Report()
    start = time.perf_counter()
    hand = registry.specs()
    for host, name, action in cases() if selection is None else selection:
        members = [m for op in find(host, name) for m in op.members]
        # each value the request holds -> its member; an enumeration's value names its member when no other
        # member may hold it too
        allowed = Counter(m.enum for m in members if m.enum)
        names = {m.enum: m for m in members if m.enum and allowed[m.enum] == 1}
        names |= {f"v_{m.name}": m for m in members}
        for target in generic.plan(host, name, (action,)):
            resource_type = target.resource_type
            if not (resource_type.required and generic.named(resource_type.arn)):
                continue
            fmts = generic.alternatives(resource_type.arn)
            fields, planted = request(members, fmts[0], resource_type.name)
            by_extractor = host in hand and hand[host].models_match and not generated
            arns, reason, own = _resolved(host, name, action, target, fields, by_extractor)
            if not arns and _unneeded(host, name, action, target, fields, by_extractor):
                outcome = "waived"
            elif own:
                outcome = "extractor"  # judged by the extractor's own tests, not by the names here
            else:
                judged = {_judge(a, fmts, planted, names, (name, resource_type.name)) for a in arns}
                order = ("wrong", "loose", "scoped", "right")
                outcome = next((o for o in order if o in judged), "unresolved")
            report.cases.append(Case(host, name, action, resource_type.name, outcome, arns, reason))
    report.seconds = time.perf_counter() - start
    return report
