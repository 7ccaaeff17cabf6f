"""From one group of identical calls to (action, resource) grants, each with the reason for its scope.

For every action a call needed, the reference data lists the resource types the action can be scoped to,
with their ARN formats. The extractors (:mod:`trailsmith.policy.extract`) say which resources the call
named; a candidate applies to an action when it was built for one of the action's formats or, for ARNs AWS
wrote (``resources[]``, ARN-valued fields), when it has the shape of one. Then, per action:

- no resource types in the reference: ``"*"`` is the only possible resource;
- a required type the call did not name, of a service whose naming fields we know (``covers``): the call
  created one (``RunInstances`` makes an instance and its network interface) or acted on all of them
  (``DescribeAlarms`` without names), so the type's ARN in the call's account and region with ``*`` for
  the rest: bounded, and said so;
- a required type that is one of several alternatives (Bedrock's kinds of model, the listener of each
  kind of load balancer), when the call named another of them: not needed;
- a required type the call may have named in a way we cannot read: ``"*"`` for that action alone, with
  the reason, because a policy narrower than what was used breaks the workload that used it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from trailsmith.actions.reference import ActionInfo, ResourceType, action_info
from trailsmith.policy.arns import build
from trailsmith.policy.extract.base import Call, Ref, from_resources, type_of
from trailsmith.policy.extract.registry import spec_for

#: Resource types an action creates with an identifier the service assigns, so no request can name them.
#: Facts from the EC2 documentation's RunInstances example policies (instance, volume and network
#: interface are created) and the Service Authorization Reference.
CREATES: dict[str, tuple[str, ...]] = {
    "ec2:RunInstances": ("instance", "network-interface", "volume"),
    "ec2:CreateVolume": ("volume",),
    "ec2:CreateSnapshot": ("snapshot",),
    "ec2:CreateSnapshots": ("snapshot",),
    "ec2:CopySnapshot": ("snapshot",),
    "ec2:CreateImage": ("image", "snapshot"),
    "ec2:CopyImage": ("image",),
    "ec2:CreateNetworkInterface": ("network-interface",),
    "ec2:CreateSecurityGroup": ("security-group",),
    "ec2:CreateLaunchTemplate": ("launch-template",),
}

Kind = str  # "resource", "pattern", "created", "implied", "fallback", "any"


@dataclass(frozen=True)
class Grant:
    """One action on one resource (an ARN or a pattern), and how that resource was chosen."""

    action: str
    resource: str
    #: ``resource`` (named by the call), ``created``, ``implied``, ``fallback`` (``"*"`` for lack of a
    #: resource) or ``any`` (the action has no resource-level permissions)
    kind: Kind
    #: the reference-data ARN format of ``resource`` ("" for ``"*"``)
    fmt: str = ""
    note: str = ""


def candidates(call: Call) -> list[Ref]:
    """Every resource the call named, from its service's extractor or, without one, ``resources[]``."""
    spec = spec_for(call.source)
    found = list(spec.extract(call)) if spec is not None else list(from_resources(call))
    return sorted(set(found), key=lambda r: (r.arn, r.fmt, sorted(r.actions), r.note))


def covered(call: Call, action: str, resource_type: ResourceType) -> bool:
    """Whether the call's service extractor reads every field that names this type of resource."""
    spec = spec_for(call.source)
    if spec is None:
        return False
    key = f"{action.split(':', 1)[0]}:{resource_type.name}".lower()
    return key in _lowered(spec.covers)


def grants_for(call: Call, actions: Iterable[str], refs: list[Ref] | None = None) -> list[Grant]:
    """The grants of every action of one call."""
    found = candidates(call) if refs is None else refs
    out: list[Grant] = []
    for action in actions:
        out.extend(_action_grants(call, action_info(action), found))
    return out


def _extends(resource_type: ResourceType, matched: set[str], types: tuple[ResourceType, ...]) -> bool:
    """Whether a matched type's ARN extends this one's (an index ARN stands in for its table)."""
    base = resource_type.arn
    return any(t.name in matched and t.arn != base and t.arn.startswith(base + "/") for t in types)


def _action_grants(call: Call, info: ActionInfo, refs: list[Ref]) -> list[Grant]:
    action = info.action
    types = info.resource_types
    if not types:
        return [Grant(action, "*", "any", note=f"{action} has no resource-level permissions")]
    out: list[Grant] = []
    matched: set[str] = set()
    for found in refs:
        if found.actions and action not in found.actions:
            continue
        resource_type = type_of(found, types)
        if resource_type is not None:
            matched.add(resource_type.name)
            kind = "pattern" if "*" in found.arn.replace("${*}", "") else "resource"
            out.append(Grant(action, found.arn, kind, resource_type.arn, found.note))
    creates = set(CREATES.get(action, ()))
    waived = _waived(call, action, types, matched)
    unknown: list[str] = []
    for resource_type in types:
        if resource_type.name in matched or resource_type.name in waived:
            continue
        if resource_type.name in creates:
            out.append(
                _scoped(
                    call,
                    action,
                    resource_type,
                    "created",
                    f"{action} creates the {resource_type.name}: any in {_where(call, resource_type)}",
                )
            )
        elif resource_type.required and not _extends(resource_type, matched, types):
            if covered(call, action, resource_type):
                out.append(
                    _scoped(
                        call,
                        action,
                        resource_type,
                        "implied",
                        f"the call named no {resource_type.name}: any in {_where(call, resource_type)}",
                    )
                )
            else:
                unknown.append(resource_type.name)
    if not matched and not out and not unknown:
        if all(covered(call, action, t) for t in types):
            # Every type is optional and the call named none (DescribeDBInstances without an identifier):
            # the request concerns no particular resource, which IAM authorises on "*".
            names = ", ".join(sorted(t.name for t in types))
            return [
                Grant(action, "*", "any", note=f"{action}: the call named no {names}, which it does not need")
            ]
        unknown = [t.name for t in types]
    if unknown:
        reason = (
            f"{action}: no resource of type {', '.join(sorted(set(unknown)))} could be read from "
            f'{call.source} {call.name}; allowed on "*"'
        )
        return [Grant(action, "*", "fallback", note=reason)]
    return out


def unneeded(call: Call, action: str, types: tuple[ResourceType, ...], matched: set[str]) -> set[str]:
    """The action's resource types this call did not need, given the types it named (``matched``): those
    waived as alternatives of a named one, and those a named type's ARN extends."""
    extended = {t.name for t in types if _extends(t, matched, types)}
    return _waived(call, action, types, matched) | extended


def _waived(call: Call, action: str, types: tuple[ResourceType, ...], matched: set[str]) -> set[str]:
    """The action's resource types that are alternatives of a type the call named (see
    ``ServiceSpec.alternatives`` and ``ServiceSpec.waive``): not needed."""
    spec = spec_for(call.source)
    if spec is None or not matched:
        return set()
    prefix = action.split(":", 1)[0]
    waived: set[str] = set()
    for group in spec.alternatives:
        members = {t.name for t in types if f"{prefix}:{t.name}".lower() in _lowered(group)}
        if members & matched:
            waived |= members
    if spec.waive is not None:
        waived |= spec.waive(call, action, matched)
    return waived


@functools.cache
def _lowered(names: frozenset[str]) -> frozenset[str]:
    """``prefix:type`` names in lower case: the reference spells some types in camel case."""
    return frozenset(name.lower() for name in names)


def _scoped(call: Call, action: str, resource_type: ResourceType, kind: Kind, note: str) -> Grant:
    return Grant(action, build(resource_type.arn, call.context()), kind, resource_type.arn, note)


def _where(call: Call, resource_type: ResourceType) -> str:
    parts = []
    if "${Account}" in resource_type.arn:
        parts.append(f"account {call.account}")
    if "${Region}" in resource_type.arn:
        parts.append(f"region {call.region}")
    return " and ".join(parts) if parts else "the partition"
