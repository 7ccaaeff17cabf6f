"""Hand-written extractors as overrides of the generic resolver, not instead of it.

A hand-written extractor (:mod:`~trailsmith.policy.extract.data`, ``infra``, ``platform``) knows what is
irregular about its service: S3 keys, IAM paths, KMS aliases, RDS's lower-casing. It was written for the
calls its authors saw, though, and a service has many more operations. For every operation whose request
names a resource of a type the extractor does not read, the generic resolver
(:mod:`~trailsmith.policy.extract.generic`) fills in:

- *which operations*: found once per service by a probe, not declared by hand. For each operation, a
  request made up from botocore's input shape names every resource of each required type
  (:mod:`~trailsmith.policy.extract.synthetic`); the operation needs the resolver when the extractor,
  given only the fields it reads, names no resource of one of those types and the resolver could.
- *which fields*: the SQL pulls the resolver's extra request fields for those operations only (their
  names go in the spec's ``only``), after the extractor's own, so the calls the extractor covers cost
  nothing more.
- *which resources*: per call, the resolver's ARNs only for the actions the extractor named no resource
  for. Where the extractor named one, it decided what the action needs (a DynamoDB index's ARN stands in
  for its table's), and the resolver adds nothing.

Services whose CloudTrail requests do not use botocore's member names (``ServiceSpec.models_match``:
EC2's item sets, S3's ``bucketName``) keep their extractor alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

from trailsmith.actions.mapping import map_event
from trailsmith.policy.extract import generic, synthetic
from trailsmith.policy.extract.base import Call, Ref, ServiceSpec, type_of
from trailsmith.policy.extract.models import find, operation_name, operations


def _named(refs: list[Ref], action: str, targets: tuple[generic.Target, ...]) -> bool:
    """Whether ``refs`` hold a resource of one of ``action``'s types: then the extractor decided what the
    action needs (a DynamoDB index's ARN stands in for its table's), and the resolver adds nothing to it."""
    types = tuple(t.resource_type for t in targets if t.action == action)
    return any((not ref.actions or action in ref.actions) and type_of(ref, types) for ref in refs)


def _probe_call(host: str, name: str, target: generic.Target, read: frozenset[str]) -> Call:
    members = [m for op in find(host, name) for m in op.members]
    fmt = generic.alternatives(target.resource_type.arn)[0]
    fields, _ = synthetic.request(members, fmt, target.resource_type.name)
    partition, region, account = synthetic.EVENT
    return Call(host, name, partition, account, region, "", {k: v for k, v in fields.items() if k in read})


def fallback_operations(host: str, hand: ServiceSpec) -> Mapping[str, tuple[str, ...]]:
    """Operation -> the request fields the resolver needs for it, for the operations of ``host`` whose
    requests name a resource the extractor ``hand`` leaves unnamed and the resolver names."""
    if not hand.models_match:
        return {}
    found = ((name, fallback_paths(host, name, hand)) for name in operations(host))
    return {name: paths for name, paths in found if paths}


#: (host, operation, id of the hand-written spec) -> :func:`fallback_paths` (specs hold dicts: not hashable)
_PATHS: dict[tuple[str, str, int], tuple[str, ...]] = {}


def fallback_paths(host: str, name: str, hand: ServiceSpec) -> tuple[str, ...]:
    """The request fields the resolver needs for operation ``name`` of ``host``, when its requests name a
    resource the extractor ``hand`` leaves unnamed and the resolver names; () otherwise. One operation at a
    time, so that asking about the operations a warehouse holds does not probe a service's every one."""
    key = (host, name, id(hand))
    found = _PATHS.get(key)
    if found is None:
        found = _PATHS[key] = _probe(host, name, hand)
    return found


def _probe(host: str, name: str, hand: ServiceSpec) -> tuple[str, ...]:
    if not hand.models_match:
        return ()
    read = frozenset(hand.fields)
    out: set[str] = set()
    targets = generic.plan(host, name, map_event(host, name).actions)
    for target in targets:
        resource_type = target.resource_type
        if not (resource_type.required and generic.named(resource_type.arn)):
            continue
        call = _probe_call(host, name, target, read)
        if _named(list(hand.extract(call)), target.action, targets):
            continue
        whole = _probe_call(host, name, target, frozenset(target.paths()))
        if generic.resolve_target(target, whole.fields, *synthetic.EVENT).arns:
            out |= target.paths()
    return tuple(sorted(out))


def layered(host: str, hand: ServiceSpec) -> ServiceSpec:
    """``hand`` with the generic resolver filling in for the operations it leaves (see the module's doc);
    ``hand`` itself when there are none.

    >>> from trailsmith.policy.extract.registry import specs
    >>> spec = layered("lambda", specs()["lambda"])
    >>> "layerName" in spec.fields, spec.fields[:3] == specs()["lambda"].fields
    (True, True)
    """
    fallback = fallback_operations(host, hand)
    if not fallback:
        return hand
    extra: dict[str, set[str]] = {}
    for name, paths in fallback.items():
        for path in paths:
            if path not in hand.fields:
                extra.setdefault(path, set()).add(name)

    def extract(call: Call) -> Iterator[Ref]:
        refs = list(hand.extract(call))
        yield from refs
        if operation_name(call.name) not in fallback:
            return
        targets = generic.plan(call.source, call.name, map_event(call.source, call.name).actions)
        for target in targets:
            if _named(refs, target.action, targets):
                continue
            found = generic.resolve_target(target, call.fields, call.partition, call.region, call.account)
            for arn in found.arns:
                yield Ref(arn, found.fmt, frozenset({target.action}), found.reason)

    def waive(call: Call, action: str, matched: set[str]) -> set[str]:
        if operation_name(call.name) not in fallback:
            return set()
        return generic.waived(call, action, matched)

    return replace(
        hand,
        fields=hand.fields + tuple(sorted(extra)),
        extract=extract,
        waive=waive,
        only={**hand.only, **{path: tuple(sorted(names)) for path, names in sorted(extra.items())}},
    )
