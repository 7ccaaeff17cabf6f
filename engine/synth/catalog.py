"""The event catalog's vocabulary: what a template declares and what building one call returns.

A :class:`Template` is one kind of CloudTrail event (``s3.amazonaws.com`` ``CopyObject``) together with the
IAM actions it needs, written down by hand from the AWS Service Authorization Reference. Those declarations
are the ground truth the policy generator is later compared with, so they must never be derived from any
event-to-action mapping code: a shared mistake would then pass unnoticed.

``Template.actions`` names the actions; the builder returns a :class:`Call` whose ``on`` gives, position by
position, the resource each action applies to (an ARN, several ARNs, or ``"*"`` for actions without
resource-level permissions). Keeping the action names in the table and only the ARNs in code means a
reader checks the facts of one event on one line.

The templates themselves live in ``events_*.py``, one module per group of services;
:func:`trailsmith.synth.registry.templates` assembles them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trailsmith.synth.world import Account, Pool

if TYPE_CHECKING:
    from trailsmith.synth.identity import Identity

JSON = dict[str, Any]
#: one resource, several (a multi-object call), per action
On = str | tuple[str, ...]

API_CALL, SERVICE_EVENT, CONSOLE_SIGN_IN = "AwsApiCall", "AwsServiceEvent", "AwsConsoleSignIn"


@dataclass(frozen=True, slots=True)
class Call:
    """What one call of a template looked like: the JSON blobs of the record and the resources used."""

    request: JSON | None
    #: aligned with ``Template.actions``: the resource(s) each action applies to
    on: tuple[On, ...] = ()
    response: JSON | None = None
    resources: list[JSON] | None = None
    additional: JSON | None = None
    service_details: JSON | None = None
    #: the instance profile that carried a passed role (``ec2:RunInstances``)
    via: str = ""
    #: ``tlsDetails.clientProvidedHostHeader`` when it is not ``<service>.<region>.amazonaws.com``
    host: str = ""
    #: ``(resource ARN, key, value)`` of the tags the call gives a resource every time it is made
    tags: tuple[tuple[str, str, str], ...] = ()
    #: ``(role ARN, key, value)`` of the session tags the call gives the sessions of a role
    session_tags: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Template:
    """One kind of event, and the IAM actions a principal needs for it (hand-written facts)."""

    key: str
    source: str
    name: str
    #: IAM actions the call needs, from the Service Authorization Reference; empty = needs no permission
    actions: tuple[str, ...]
    build: Callable[[Ctx], Call]
    read_only: bool = False
    #: a data event (``eventCategory`` Data, ``managementEvent`` false)
    data: bool = False
    #: global services record their events in one region only (IAM: us-east-1)
    only_region: str = ""
    event_type: str = API_CALL
    #: the ``iam:PassedToService`` value for the ``iam:PassRole`` entries of ``actions``
    passed_to: str = ""
    #: ``(errorCode, errorMessage)`` of this API's "no such resource" error, if we simulate one
    not_found: tuple[str, str] | None = None
    #: an AWS service makes this call on the caller's behalf (``userIdentity.invokedBy``); the caller
    #: still needs the permission (e.g. ``kms:Decrypt`` when Secrets Manager decrypts a secret for it)
    invoked_by: str = ""

    #: derived: ``eventCategory`` and whether the call needs any permission (set once, read per event)
    category: str = field(init=False)
    needs_permission: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "category", "Data" if self.data else "Management")
        object.__setattr__(self, "needs_permission", bool(self.actions) and self.event_type == API_CALL)

    def needs(self, call: Call) -> list[tuple[str, str]]:
        """``(action, resource)`` pairs of one call, in declaration order."""
        if len(call.on) != len(self.actions):
            raise ValueError(f"{self.key}: {len(call.on)} resources for {len(self.actions)} actions")
        pairs: list[tuple[str, str]] = []
        for action, on in zip(self.actions, call.on, strict=True):
            for arn in (on,) if isinstance(on, str) else on:
                pairs.append((action, arn))
        return pairs


class Ctx:
    """What a builder may draw on: the seeded ``rng``, the caller's account and region, and its pool.

    One ``Ctx`` serves all events of one caller session in a unit; builders must take every random choice
    from ``rng`` so the unit stays reproducible.
    """

    __slots__ = ("account", "day", "home", "issued", "pool", "region", "rng", "session")

    def __init__(
        self,
        rng: random.Random,
        account: Account,
        region: str,
        pool: Pool,
        session: str,
        day: str,
        home: str = "data",
    ) -> None:
        self.rng = rng
        self.account = account
        self.region = region
        self.pool = pool
        #: the caller's session name (a function name, an instance id, a task id ...)
        self.session = session
        #: ``YYYY/MM/DD`` of the unit being generated
        self.day = day
        #: which of the pool's buckets the caller mostly works in (``data``, ``artifacts``, ``backup``)
        self.home = home
        #: the session an ``AssumeRole`` with session tags issues, and its tags (archives made with tags)
        self.issued: tuple[Identity, tuple[tuple[str, str], ...]] | None = None

    @property
    def acct(self) -> str:
        return self.account.id

    def pick(self, items: tuple[Any, ...] | list[Any]) -> Any:
        # random() * len is several times cheaper than randrange, and as reproducible
        return items[int(self.rng.random() * len(items))]


# ARN and resource-entry helpers shared by the event modules -------------------------------------------


def s3_bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def s3_object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def resource(kind: str, arn: str, account: str = "") -> JSON:
    """One ``resources[]`` entry; S3 objects carry no ``accountId``, as in real records."""
    if account:
        return {"accountId": account, "type": kind, "ARN": arn}
    return {"type": kind, "ARN": arn}


def iso_ms(day: str, rng: random.Random) -> str:
    """A plausible ``2024-08-01T10:22:31.000+0000`` timestamp on ``day`` for response bodies."""
    y, m, d = day.split("/")
    return f"{y}-{m}-{d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.000+0000"
