"""The registry of service extractors: every service's :class:`ServiceSpec`, by eventSource host.

Each module of this package declares ``SPECS`` for the services it knows; this module is the one place
that gathers them (a host declared twice is an error), so adding a service is adding it to a module's
``SPECS``, or a module here and to :data:`MODULES`. Those hand-written extractors are for the services
whose requests are irregular (S3 keys, EC2 item sets, IAM paths, KMS aliases, RDS lower-casing ...); every
other service that botocore's models know gets its spec from the data-driven resolver
(:func:`spec_for`, :mod:`trailsmith.policy.extract.generic`).

>>> specs()["s3"].fields[:2]
('bucketName', 'key')
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from trailsmith.policy.extract import data, generic, infra, models, platform
from trailsmith.policy.extract.base import ServiceSpec
from trailsmith.policy.extract.layered import fallback_paths, layered
from trailsmith.policy.passrole import passrole_paths

#: The extractor modules, each with its ``SPECS``.
MODULES = (data, infra, platform)


@functools.cache
def specs() -> Mapping[str, ServiceSpec]:
    """Every service's spec, by eventSource host (``s3``, ``monitoring``, ``ec2-instance-connect`` ...)."""
    table: dict[str, ServiceSpec] = {}
    for module in MODULES:
        for host, spec in module.SPECS.items():
            if host in table:
                raise ValueError(f"extractor for {host} declared twice")
            table[host] = spec
    return table


@functools.cache
def spec_for(host: str) -> ServiceSpec | None:
    """The spec of ``host``: its hand-written one, with the resolver filling in for the operations it leaves
    (:func:`~trailsmith.policy.extract.layered.layered`); else the resolver's when botocore knows the host
    and the resolver reads any request field of it; None otherwise (then only ``resources[]`` names
    resources).

    >>> spec_for("s3") is specs()["s3"], spec_for("cloudfront").extract is generic.extract
    (True, True)
    """
    hand = specs().get(host)
    if hand is not None:
        return layered(host, hand)
    if host not in models.hosts():
        return None
    made = generic.spec(host)
    return made if made.fields else None


def fills_in(host: str, event_name: str) -> bool:
    """Whether the resolver reads request fields for a call: every call of a service without a hand-written
    extractor that botocore knows, and the calls of the operations it fills in for where there is one.

    >>> fills_in("cloudfront", "GetDistribution2020_05_31"), fills_in("lambda", "Invoke20150331")
    (True, False)
    """
    hand = specs().get(host)
    if hand is None:
        return spec_for(host) is not None
    # the one operation probed, not the service's every one (spec_for's layering probes them all)
    paths = fallback_paths(host, models.operation_name(event_name), hand)
    return any(path not in hand.fields for path in paths)


@functools.lru_cache(maxsize=1024)
def request_paths(host: str, *, resolver: bool = True) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every request field the SQL must pull for ``host``, the extractor's and the PassRole rules', each with
    the event name prefixes that carry it (empty: every call of the service).

    A hand-written extractor's fields come first, then the PassRole rules', then (with ``resolver``) the
    fields the resolver reads where it fills in, so that a host's fields keep their positions whether or
    not those last are pulled.
    """
    hand = specs().get(host)
    spec = spec_for(host) if resolver or hand is None else hand
    paths: dict[str, tuple[str, ...] | None] = {}
    own = hand.fields if hand is not None else spec.fields if spec is not None else ()
    only = spec.only if spec is not None else {}
    for path in own:
        paths[path] = tuple(only.get(path, ()))
    for path, prefixes in passrole_paths(host).items():
        known = paths.get(path)
        paths[path] = (
            prefixes
            if path not in paths
            else (() if not known else tuple(sorted(set(known) | set(prefixes))))
        )
    for path in spec.fields if spec is not None else ():
        if path not in paths:
            paths[path] = tuple(only.get(path, ()))
    return tuple((path, prefixes or ()) for path, prefixes in paths.items())
