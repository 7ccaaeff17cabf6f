"""Condition keys a policy can test, read from what the trail recorded of each call (``policy --conditions``).

One :class:`Family` per condition key (or family of keys): which request-context columns of the usage
aggregation it needs (:data:`trailsmith.policy.usage.CONTEXT_COLUMNS`, grouped by only when a key asks for
them), how one call's value is read from its usage row (:func:`Family.read`: the values, or why the key is
absent from that call's request context), and how the values of every call of an action become one
condition (:func:`Family.build`). New families (ABAC's ``aws:ResourceTag/...``) are one more entry in
:data:`FAMILIES`.

The rules every family keeps:

- Conditions are per action: the values of all the calls of that action in the policy. Documents then group
  actions whose resources *and* conditions are equal, so a statement's condition holds for all its calls.
- A key absent from a request makes ``StringEquals`` (and ``Bool``, ``IpAddress``) false, so a condition is
  proposed only when every call of the action carried the key; otherwise it is not proposed and
  ``--explain`` says how many calls lacked it and why. No ``...IfExists`` operator is used: it would let a
  request without the key through, which is not what the trail showed.
- A key is proposed only for actions that support it: a global ``aws:`` key for every action, any other
  key only where the IAM reference data lists it (for the action or one of its resource types).
- Each proposed condition is replayed against the calls it came from (:mod:`trailsmith.iam.replay`); one
  that would deny any of them is dropped.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trailsmith.actions.reference import action_info
from trailsmith.policy.arns import allowed_characters
from trailsmith.policy.model import Condition, PolicyError

#: Widest network ``aws:SourceIp`` addresses are aggregated into, unless told otherwise: a /24 holds 256
#: IPv4 addresses (one office or NAT range); a /64 is one IPv6 subnet, the smallest any network routes.
DEFAULT_IPV4_BOUND = 24
DEFAULT_IPV6_BOUND = 64
#: More distinct values than this for one key and action (prefixes, regions, networks): no condition, which
#: would grow every document without saying much.
MAX_VALUES = 20
#: Services that set ``aws:CalledVia`` when they call on a principal's behalf (IAM User Guide, global
#: condition keys): other services set only ``aws:ViaAWSService``.
CALLED_VIA_SERVICES = frozenset(
    {
        "athena.amazonaws.com",
        "cloudformation.amazonaws.com",
        "dynamodb.amazonaws.com",
        "kms.amazonaws.com",
    }
)

#: A call's values for a key, or why the key is absent from its request context.
Reading = tuple[str, ...] | str
#: A request context: (key, values) pairs, sorted by key (hashable, so identical contexts add up).
Context = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Options:
    """Which condition keys to propose (names in :data:`FAMILIES`), and the ``aws:SourceIp`` bounds."""

    keys: tuple[str, ...] = ()
    ipv4_bound: int = DEFAULT_IPV4_BOUND
    ipv6_bound: int = DEFAULT_IPV6_BOUND
    #: tag conditions too (``--abac``, :mod:`trailsmith.policy.abac`), from the trail's tags
    abac: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.ipv4_bound <= 32:
            raise PolicyError(f"IPv4 bound /{self.ipv4_bound} is not a prefix length", hint="Give 0 to 32")
        if not 0 <= self.ipv6_bound <= 128:
            raise PolicyError(f"IPv6 bound /{self.ipv6_bound} is not a prefix length", hint="Give 0 to 128")

    @property
    def active(self) -> bool:
        """Whether any condition is asked for (else the policies are exactly the generator's)."""
        return bool(self.keys) or self.abac

    @property
    def columns(self) -> tuple[str, ...]:
        """The aggregation's context columns the keys read (none for keys the usage rows already hold)."""
        wanted = {c for key in self.keys for c in FAMILIES[key].columns}
        return tuple(sorted(wanted))


@dataclass(frozen=True)
class Seen:
    """One authorisation a group of identical calls needed, as a condition key sees it."""

    #: the caller (a policy's member; its policy may merge several)
    principal: str
    action: str
    #: the resource granted for it (an ARN, a pattern, or ``"*"``)
    resource: str
    #: the usage row of the calls
    row: Mapping[str, Any]

    @property
    def account(self) -> str:
        parts = self.principal.split(":", 5)
        return parts[4] if len(parts) == 6 else ""


@dataclass
class Tally:
    """What the calls of one action showed of one key: their values, and why the others lacked it."""

    values: set[str] = field(default_factory=set)
    calls: int = 0
    #: reason -> calls without the key
    absent: Counter[str] = field(default_factory=Counter)
    #: accounts of the callers
    accounts: set[str] = field(default_factory=set)

    def merge(self, other: Tally) -> None:
        """Add what ``other`` showed (the calls of another action)."""
        self.values |= other.values
        self.calls += other.calls
        self.absent.update(other.absent)
        self.accounts |= other.accounts

    def add(self, reading: Reading, calls: int, account: str) -> None:
        self.calls += calls
        self.accounts.add(account)
        if isinstance(reading, str):
            self.absent[reading] += calls
        else:
            self.values.update(reading)


@dataclass(frozen=True)
class Proposal:
    """The condition proposed for one key on one action, or why there is none (``reason``)."""

    action: str
    key: str
    condition: Condition | None
    #: calls of the action it was read from, and how many of them lacked the key
    calls: int
    reason: str = ""
    lacking: int = 0


@dataclass(frozen=True)
class Observed:
    """One authorisation some calls needed, with the request context the asked keys read from them."""

    action: str
    #: the resource granted for it, and how it was chosen (``trailsmith.policy.resources.Grant.kind``)
    resource: str
    kind: str
    context: Context
    #: how many calls, and one of their event ids
    calls: int
    event_id: str
    #: when the first and the last of them were made (what tags they met: ``--abac``)
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass(frozen=True)
class Family:
    """One condition key: what it means, what it reads, and how its values become a condition."""

    key: str
    #: one line for ``--help`` and the README
    meaning: str
    #: :data:`trailsmith.policy.usage.CONTEXT_COLUMNS` it reads
    columns: tuple[str, ...]
    #: a call's reading; a family of keys (``aws:ResourceTag/*``) maps each key it found to its reading
    read: Callable[[Seen], Reading | Mapping[str, Reading]]
    #: the condition on a key (one of the family's) from every call's values (all present), or why none
    build: Callable[[str, Tally, Options], Condition | str]
    #: a global ``aws:`` key (every action); otherwise the reference data must list it for the action
    global_key: bool = True
    #: proposed only when every call of the principal, whatever its action, shows it (MFA: a user who
    #: always used it), not action by action
    whole_principal: bool = False


def _region(seen: Seen) -> Reading:
    region = seen.row.get("awsRegion")
    return (region,) if region else "the trail records no region"


def _vpce(seen: Seen) -> Reading:
    endpoint = seen.row.get("vpcEndpointId")
    return (endpoint,) if endpoint else "not made through a VPC endpoint"


def _vpc(_seen: Seen) -> Reading:
    return "CloudTrail records the VPC endpoint (vpcEndpointId), never the VPC"


def _service(seen: Seen) -> str:
    invoked = seen.row.get("invokedBy")
    return invoked if isinstance(invoked, str) else ""


def _source_ip(seen: Seen) -> Reading:
    if seen.principal.split(":", 5)[-1].split("/", 1)[0] != "user":
        return "not an IAM user: role sessions move between hosts and networks"
    service = _service(seen)
    if service:
        return f"made by {service} on the principal's behalf: the address is the service's"
    if seen.row.get("vpcEndpointId"):
        return "made through a VPC endpoint: aws:SourceIp is absent then (aws:VpcSourceIp is set)"
    address = seen.row.get("userSourceIPAddress")
    parsed = _address(address) if isinstance(address, str) else None
    if parsed is None:
        return "the trail records a service name, not an address"
    return (str(parsed),)


@functools.lru_cache(maxsize=4096)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _called_via(seen: Seen) -> Reading:
    service = _service(seen)
    if not service:
        return "a direct call: aws:CalledVia is absent"
    if service not in CALLED_VIA_SERVICES:
        return f"made through {service}, which does not set aws:CalledVia"
    return (service,)


def _via_service(seen: Seen) -> Reading:
    service = _service(seen)
    if not service:
        return ("false",)
    if not service.endswith(".amazonaws.com"):
        return f"invokedBy is {service!r}, not a service principal"
    return ("true",)


def _mfa(seen: Seen) -> Reading:
    value = seen.row.get("mfaAuthenticated")
    if value in ("true", "false"):
        return (value,)
    return "no MFA information (long-term access keys carry no aws:MultiFactorAuthPresent)"


def _resource_account(seen: Seen) -> Reading:
    parts = seen.resource.split(":", 5)
    account = parts[4] if len(parts) == 6 else ""
    if len(account) == 12 and account.isdigit():
        return (account,)
    return "the resource's ARN names no account"


def _prefix(seen: Seen) -> Reading:
    prefix = seen.row.get("s3Prefix")
    return (prefix,) if isinstance(prefix, str) else "the request has no prefix parameter"


def string_equals(key: str, tally: Tally, _options: Options) -> Condition | str:
    """A family's ``build``: ``StringEquals`` on every value seen (at most :data:`MAX_VALUES`, each one IAM
    can hold in a policy)."""
    if len(tally.values) > MAX_VALUES:
        return f"{len(tally.values)} distinct values, more than {MAX_VALUES}"
    refused = sorted(v for v in tally.values if allowed_characters(v)[1])
    if refused:
        # a prefix is whatever the caller sent; IAM refuses a policy with such characters
        return f"the value {refused[0]!r} holds characters an IAM policy cannot"
    return Condition("StringEquals", key, tuple(sorted(tally.values)))


def _any_equals(key: str, tally: Tally, options: Options) -> Condition | str:
    """``ForAnyValue:StringEquals``, for a key with several values (``aws:CalledVia``)."""
    built = string_equals(key, tally, options)
    return built if isinstance(built, str) else Condition("ForAnyValue:StringEquals", key, built.values)


def _true(why: str) -> Callable[[str, Tally, Options], Condition | str]:
    def build(key: str, tally: Tally, _options: Options) -> Condition | str:
        return Condition("Bool", key, ("true",)) if tally.values == {"true"} else why

    return build


def _networks(key: str, tally: Tally, options: Options) -> Condition | str:
    found = sorted({str(n) for n in networks(tally.values, options.ipv4_bound, options.ipv6_bound)})
    if len(found) > MAX_VALUES:
        return f"{len(found)} networks, more than {MAX_VALUES}"
    return Condition("IpAddress", key, tuple(found))


def networks(
    addresses: Iterable[str], ipv4_bound: int = DEFAULT_IPV4_BOUND, ipv6_bound: int = DEFAULT_IPV6_BOUND
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The smallest network around the addresses of each bound-sized network (never wider than the bound).

    >>> [str(n) for n in networks(["192.0.2.10", "192.0.2.12", "198.51.100.7", "2001:db8::1"])]
    ['192.0.2.8/29', '198.51.100.7/32', '2001:db8::1/128']
    """
    groups: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, list[int]] = {}
    for text in addresses:
        address = _address(text)
        if address is None:
            continue
        bound = ipv4_bound if address.version == 4 else ipv6_bound
        groups.setdefault(ipaddress.ip_network(f"{address}/{bound}", strict=False), []).append(int(address))
    out = []
    for outer, members in groups.items():
        low, high = min(members), max(members)
        width: int = outer.max_prefixlen
        length = width
        while length > outer.prefixlen and low >> (width - length) != high >> (width - length):
            length -= 1
        # by its class: an IPv6 address below 2**32 (``::5``) is an int ``ip_network`` would take for IPv4
        kind = ipaddress.IPv4Network if outer.version == 4 else ipaddress.IPv6Network
        out.append(kind((low, length), strict=False))
    return sorted(out, key=lambda n: (n.version, n))


def _resource_accounts(key: str, tally: Tally, options: Options) -> Condition | str:
    if tally.values <= tally.accounts:
        return "every resource is in the caller's own account, as its ARNs say already"
    return string_equals(key, tally, options)


#: Every key ``--conditions`` knows, in the order conditions are written in a statement.
FAMILIES: dict[str, Family] = {
    f.key: f
    for f in (
        Family(
            "aws:RequestedRegion",
            "the regions the calls were made in",
            (),
            _region,
            string_equals,
        ),
        Family(
            "aws:SourceVpce",
            "the VPC endpoints, when every call of the action came through one (CloudTrail's vpcEndpointId)",
            ("vpcEndpointId",),
            _vpce,
            string_equals,
        ),
        Family(
            "aws:SourceVpc",
            "never proposed: CloudTrail records the endpoint, not the VPC",
            (),
            _vpc,
            string_equals,
        ),
        Family(
            "aws:SourceIp",
            "IAM users only: the callers' addresses as CIDRs no wider than the bound; never for calls "
            "a service made for the user or calls through a VPC endpoint",
            ("userSourceIPAddress", "vpcEndpointId"),
            _source_ip,
            _networks,
        ),
        Family(
            "aws:CalledVia",
            f"the service that made every call for the principal ({', '.join(sorted(CALLED_VIA_SERVICES))})",
            (),
            _called_via,
            _any_equals,
        ),
        Family(
            "aws:ViaAWSService",
            "true when every call of the action was made by an AWS service for the principal",
            (),
            _via_service,
            _true("some calls were made directly"),
        ),
        Family(
            "aws:MultiFactorAuthPresent",
            "true when every call of the principal was made with MFA",
            ("mfaAuthenticated",),
            _mfa,
            _true("some of the principal's calls were made without MFA"),
            whole_principal=True,
        ),
        Family(
            "aws:ResourceAccount",
            "the resources' accounts (from their ARNs), when some are not the caller's",
            (),
            _resource_account,
            _resource_accounts,
        ),
        Family(
            "s3:prefix",
            "the prefixes s3:ListBucket calls listed (ListObjects, ListObjectsV2)",
            ("s3Prefix",),
            _prefix,
            string_equals,
            global_key=False,
        ),
    )
}
_BY_LOWER = {key.lower(): key for key in FAMILIES}


def parse_keys(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Key names from ``--conditions`` (a comma list, several, or ``all``), in :data:`FAMILIES`' order.

    >>> parse_keys("s3:prefix, AWS:requestedregion")
    ('aws:RequestedRegion', 's3:prefix')
    >>> parse_keys(None), len(parse_keys("all")) == len(FAMILIES)
    ((), True)
    """
    if text is None:
        return ()
    items = [text] if isinstance(text, str) else list(text)
    wanted: set[str] = set()
    for item in (part.strip() for chunk in items for part in chunk.split(",")):
        if not item:
            continue
        if item.lower() == "all":
            wanted.update(FAMILIES)
            continue
        key = _BY_LOWER.get(item.lower())
        if key is None:
            raise PolicyError(
                f"condition key {item!r} is not one --conditions proposes",
                hint=f"Use all, or some of {', '.join(FAMILIES)}",
            )
        wanted.add(key)
    return tuple(k for k in FAMILIES if k in wanted)


@functools.lru_cache(maxsize=4096)
def supports(action: str, key: str) -> bool:
    """Whether ``key`` can be tested for ``action``: a global key always; any other where the reference
    data lists it for the action or one of its resource types (``${TagKey}`` templates match any tag).

    >>> supports("s3:ListBucket", "s3:prefix"), supports("s3:GetObject", "s3:prefix")
    (True, False)
    """
    family = family_of(key)
    if family is not None and family.global_key:
        return True
    try:
        info = action_info(action)
    except KeyError:
        return False
    listed = [*info.condition_keys, *(k for rt in info.resource_types for k in rt.condition_keys)]
    wanted = key.lower()
    for item in listed:
        head, template, _ = item.lower().partition("${")
        if item.lower() == wanted or (template and wanted.startswith(head) and len(wanted) > len(head)):
            return True
    return False


def readings(seen: Seen, options: Options) -> dict[str, Reading]:
    """Each asked key's reading of one authorisation, by the key a condition would test.

    A family of keys (its name ends in ``/*``, as ``aws:ResourceTag/*`` would) reads a mapping of the keys
    it found; a key of it that one call lacks is absent from that call (:func:`propose` counts it).
    """
    out: dict[str, Reading] = {}
    for name in options.keys:
        found = FAMILIES[name].read(seen)
        if isinstance(found, Mapping):
            out.update(found)
        else:
            out[name] = found
    return out


def family_of(key: str) -> Family | None:
    """The family that reads ``key``: its own, or the ``.../*`` family it belongs to.

    >>> family_of("s3:prefix").key, family_of("aws:UserAgent")
    ('s3:prefix', None)
    """
    found = FAMILIES.get(key)
    if found is not None:
        return found
    families = (f for name, f in FAMILIES.items() if name.endswith("/*") and key.startswith(name[:-1]))
    return next(families, None)


def context(found: Mapping[str, Reading]) -> Context:
    """The request context of readings: the keys present, with their values (absent keys left out)."""
    return tuple(sorted((key, value) for key, value in found.items() if not isinstance(value, str)))


def whole(tallies: Mapping[str, Mapping[str, Tally]]) -> dict[str, Tally]:
    """Per key of a :attr:`Family.whole_principal` family, what every action's calls showed of it."""
    out: dict[str, Tally] = {}
    for by_key in tallies.values():
        for key, tally in by_key.items():
            family = family_of(key)
            if family is not None and family.whole_principal:
                out.setdefault(key, Tally()).merge(tally)
    return out


def propose(action: str, tallies: Mapping[str, Tally], calls: int, options: Options) -> list[Proposal]:
    """The condition each key read from the ``calls`` of ``action`` proposes, or why none (keys the action
    does not support are left out), in :data:`FAMILIES`' order."""
    order = {family.key: index for index, family in enumerate(FAMILIES.values())}
    out = []
    for key in sorted(tallies, key=lambda k: (order[_family(k).key], k)):
        if supports(action, key):
            out.append(_proposal(action, key, tallies[key], calls, options))
    return out


def _family(key: str) -> Family:
    """The family of a key some family read."""
    found = family_of(key)
    if found is None:
        raise KeyError(f"no condition family reads {key}")
    return found


def _proposal(action: str, key: str, tally: Tally, calls: int, options: Options) -> Proposal:
    absent = Counter(tally.absent)
    if calls > tally.calls:  # calls that read other keys of its family, not this one
        absent["absent from the request context"] += calls - tally.calls
    if absent:
        reason, _ = max(absent.items(), key=lambda item: (item[1], item[0]))
        return Proposal(action, key, None, calls, reason, sum(absent.values()))
    built = _family(key).build(key, tally, options)
    if isinstance(built, str):
        return Proposal(action, key, None, tally.calls, built)
    return Proposal(action, key, built, tally.calls)
