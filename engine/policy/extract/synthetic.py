"""Requests made up from botocore's input shapes: what a call of an operation would record if it named the
resource of a given ARN format, with a distinctive value in every member.

Each member holds ``v_<MemberName>``; a member whose name says it holds an ARN (``...Arn``/``...Arns``)
holds an ARN of the format, in another account and region, when its name also says it is of that resource
type (``FunctionArn`` for a function, a bare ``Arn``/``ResourceArn``) or when only the model's shape says it
is an ARN (``ChimeBearer``), else an unrelated ARN. The generic
resolver's coverage (:mod:`trailsmith.policy.extract.resolver_coverage`) and the probe of what hand-written
extractors read (:mod:`trailsmith.policy.extract.layered`) both work on such requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from trailsmith.policy.arns import build
from trailsmith.policy.extract import generic
from trailsmith.policy.extract.models import Member

#: The event the synthesised calls come from, and the other account and region their ARNs point to.
EVENT = ("aws", "us-east-1", "111122223333")
OTHER = ("eu-west-3", "444455556666")

#: Endings that say what kind of identifier a name is, not what it identifies.
KINDS = ("identifiers", "identifier", "names", "name", "ids", "id", "arns", "arn", "numbers", "number")


def core(name: str) -> str:
    """What a name identifies, lower-cased, without its kind of identifier.

    >>> core("DBClusterIdentifier"), core("sourceServerIDs"), core("Id")
    ('dbcluster', 'sourceserver', '')
    """
    lowered = name.lower().replace("-", "").replace("_", "").replace(" ", "").replace("application", "app")
    for kind in KINDS:
        if lowered.endswith(kind):
            return lowered[: -len(kind)]
    return lowered


#: Members whose value has a form the service sets, which a made-up value would not have.
_FORMATTED = {"QueueUrl": "https://sqs.{region}.amazonaws.com/{account}/v_{name}"}

#: Words of resource type names that say nothing of what the type is.
_VAGUE = frozenset({"resource", "id", "arn", "name", "type", "aws", "amazon"})


def _mentions(doc: str, resource_type: str) -> bool:
    """Whether a member's documentation names every word of the resource type's name.

    >>> _mentions("the arn of an inference profile, or a model id", "inference-profile")
    True
    >>> _mentions("the arn of an inference profile, or a model id", "application-inference-profile")
    False
    >>> _mentions("the arn of the kms key", "custom-model")
    False
    """
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", resource_type)
    words = {w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if len(w) > 2} - _VAGUE
    found = set(re.split(r"[^a-z0-9]+", doc))
    return bool(words) and words <= found


def request(members: Iterable[Member], fmt: str, resource_type: str) -> tuple[dict[str, str], set[str]]:
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
        | {v: f"a_{v}" for v in generic.named(fmt)},
    )
    for member in members:
        stem = core(member.name)
        if member.name.lower().endswith(("arn", "arns")) or member.arn:
            # an ARN of the type where the name says so, or where only the model's shape says it is an ARN
            # (a ``ChimeBearer`` holds the ARN of whichever user or bot calls)
            of_type = (
                stem in ("", "resource")
                or stem in type_core
                or not member.name.lower().endswith(("arn", "arns"))
                or _mentions(member.arn_doc, resource_type)
            )
            value = arn if of_type else f"arn:aws:other:::x/{member.name}"
            if value == arn:
                planted.add(arn)
        elif member.arn_doc and (
            stem in ("", "resource") or stem in type_core or _mentions(member.arn_doc, resource_type)
        ):
            # the documentation says the member takes an ARN: of this type by its name (a bare
            # ``resourceIdentifier`` names whatever the call acts on) or its words (a Bedrock ``modelId``
            # takes an inference profile's ARN as well as a model's)
            value = arn
            planted.add(arn)
        elif member.enum:
            value = member.enum  # a value the model allows: the request could hold no other
        elif member.name in _FORMATTED:
            value = _FORMATTED[member.name].format(region=EVENT[1], account=EVENT[2], name=member.name)
        else:
            value = f"v_{member.name}"
        fields[member.path] = f'["{value}"]' if member.is_list else value
    return fields, planted
