"""What one successful CloudTrail record says about resource tags: which resources, and what it did to them.

:func:`operations` reads one record (its request parameters and response elements as JSON text) and
returns, per resource ARN, the changes it made to that resource's tags, in order:

- ``Set(key, value)``: the key now has that value (create calls with tags, ``TagResource``, ``CreateTags``,
  ``AddTagsToResource``, ``TagRole`` ..., ``tagSpecificationSet`` of ``RunInstances`` and the other EC2
  creates, with the new ids read from the response);
- ``Unset(key, value)``: the key is gone (``UntagResource``, ``DeleteTags`` ...); with a value, only if it
  had that value (EC2's ``DeleteTags`` deletes a tag given with a value only when the value matches);
- ``Clear()``: every tag is gone (``DeleteBucketTagging``; ``PutBucketTagging`` clears, then sets the new
  set; EC2's ``DeleteTags`` without tags).

The shapes are the ones CloudTrail records (request members in lowerCamelCase; EC2 in its query
protocol's ``...Set.items`` form; S3's ``Tagging.TagSet.Tag`` as a list, or as one object when there is one
tag), checked against botocore's service models and the real captures under ``../shared/realdata``.

Tag keys and values are whatever the caller sent, and a record may be forged or damaged, so every value is
checked for its type and for AWS's limits (keys of at most 128 characters, values of at most 256) before it
counts. Nothing here raises on a bad record; what cannot be read is skipped, and what a skipped entry could
have changed is no longer claimed to be known: an unreadable value unsets its key (the key was changed, to
something unknown), an unreadable key or removal list clears the resource (any key may have changed). So a
damaged record can only make fewer tags known, never attribute a tag to a resource that did not carry it:
the consumer (ABAC conditions) falls back to ARNs for what is not known, which is the safe direction.

>>> ops = operations(
...     "lambda.amazonaws.com", "TagResource20170331v2", "us-east-1", "123456789012",
...     '{"resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "tags": {"team": "red"}}', None,
... )
>>> ops
[('arn:aws:lambda:us-east-1:123456789012:function:f', [Set(key='team', value='red')])]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

#: AWS's limits on tags (characters): longer keys or values were never accepted by AWS.
MAX_KEY, MAX_VALUE = 128, 256

#: What some services write instead of the tags they keep out of the trail (IAM Roles Anywhere).
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"

_ARN_MAX = 2048
#: Lambda's event names carry its API version (``TagResource20170331v2``)
_VERSION = re.compile(r"\d{8}(v\d+)?$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/+=@-]*$")


@dataclass(frozen=True)
class Set:
    key: str
    value: str


@dataclass(frozen=True)
class Unset:
    key: str
    #: only when it had this value (EC2 ``DeleteTags`` with a value); None: whatever it had
    value: str | None = None


@dataclass(frozen=True)
class Clear:
    pass


Op = Set | Unset | Clear
#: per resource ARN, its changes in order
Changes = list[tuple[str, list[Op]]]

#: EC2 resource types of ``tagSpecificationSet``: (id prefix, member naming the id in responses, ARN type,
#: whether the ARN carries the account)
EC2_TYPES: dict[str, tuple[str, str, str, bool]] = {
    "instance": ("i-", "instanceId", "instance", True),
    "volume": ("vol-", "volumeId", "volume", True),
    "snapshot": ("snap-", "snapshotId", "snapshot", False),
    "image": ("ami-", "imageId", "image", False),
    "security-group": ("sg-", "groupId", "security-group", True),
    "vpc": ("vpc-", "vpcId", "vpc", True),
    "subnet": ("subnet-", "subnetId", "subnet", True),
    "network-interface": ("eni-", "networkInterfaceId", "network-interface", True),
    "launch-template": ("lt-", "launchTemplateId", "launch-template", True),
    "key-pair": ("key-", "keyPairId", "key-pair", True),
    "internet-gateway": ("igw-", "internetGatewayId", "internet-gateway", True),
    "egress-only-internet-gateway": (
        "eigw-",
        "egressOnlyInternetGatewayId",
        "egress-only-internet-gateway",
        True,
    ),
    "route-table": ("rtb-", "routeTableId", "route-table", True),
    "network-acl": ("acl-", "networkAclId", "network-acl", True),
    "natgateway": ("nat-", "natGatewayId", "natgateway", True),
    "elastic-ip": ("eipalloc-", "allocationId", "elastic-ip", True),
    "vpc-endpoint": ("vpce-", "vpcEndpointId", "vpc-endpoint", True),
    "dhcp-options": ("dopt-", "dhcpOptionsId", "dhcp-options", True),
    "transit-gateway": ("tgw-", "transitGatewayId", "transit-gateway", True),
    "vpc-flow-log": ("fl-", "flowLogId", "vpc-flow-log", True),
    "spot-instances-request": ("sir-", "spotInstanceRequestId", "spot-instances-request", True),
    "vpc-peering-connection": ("pcx-", "vpcPeeringConnectionId", "vpc-peering-connection", True),
}
#: id prefix -> resource type, longest prefixes first (``eipalloc-`` before ``eigw-`` ...)
_EC2_PREFIXES = sorted(((spec[0], kind) for kind, spec in EC2_TYPES.items()), key=lambda p: -len(p[0]))

#: Create calls that carry tags outside EC2: (eventSource, eventName) -> path to the new ARN in the response
CREATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("iam.amazonaws.com", "CreateRole"): ("role", "arn"),
    ("iam.amazonaws.com", "CreateUser"): ("user", "arn"),
    ("iam.amazonaws.com", "CreatePolicy"): ("policy", "arn"),
    ("iam.amazonaws.com", "CreateInstanceProfile"): ("instanceProfile", "arn"),
    ("iam.amazonaws.com", "CreateOpenIDConnectProvider"): ("openIDConnectProviderArn",),
    ("lambda.amazonaws.com", "CreateFunction"): ("functionArn",),
    ("dynamodb.amazonaws.com", "CreateTable"): ("tableDescription", "tableArn"),
    ("secretsmanager.amazonaws.com", "CreateSecret"): ("arn",),
    ("kms.amazonaws.com", "CreateKey"): ("keyMetadata", "arn"),
    ("sns.amazonaws.com", "CreateTopic"): ("topicArn",),
    ("cloudformation.amazonaws.com", "CreateStack"): ("stackId",),
    ("rds.amazonaws.com", "CreateDBInstance"): ("dBInstanceArn",),
    ("rds.amazonaws.com", "CreateDBCluster"): ("dBClusterArn",),
    ("ecr.amazonaws.com", "CreateRepository"): ("repository", "repositoryArn"),
    ("sqs.amazonaws.com", "CreateQueue"): ("queueUrl",),
    ("logs.amazonaws.com", "CreateLogGroup"): (),
}

#: IAM's own tagging calls: eventName -> (request member naming the resource, ARN resource type or "" when
#: the member is an ARN already)
IAM_TAGGING: dict[str, tuple[str, str]] = {
    "Role": ("roleName", "role"),
    "User": ("userName", "user"),
    "Policy": ("policyArn", ""),
    "InstanceProfile": ("instanceProfileName", "instance-profile"),
    "OpenIDConnectProvider": ("openIDConnectProviderArn", ""),
    "SAMLProvider": ("sAMLProviderArn", ""),
}

#: Systems Manager's ``resourceType`` -> ARN resource type (``AddTagsToResource``)
SSM_TYPES = {
    "Parameter": "parameter",
    "Document": "document",
    "ManagedInstance": "managed-instance",
    "MaintenanceWindow": "maintenancewindow",
    "PatchBaseline": "patchbaseline",
    "OpsItem": "opsitem",
}

#: The calls that change tags (the SQL that picks candidate events names them).
TAGGING_NAMES: tuple[str, ...] = (
    "TagResource",
    "UntagResource",
    "AddTagsToResource",
    "RemoveTagsFromResource",
    "AddTags",
    "RemoveTags",
    "CreateTags",
    "DeleteTags",
    "PutBucketTagging",
    "DeleteBucketTagging",
    "TagQueue",
    "UntagQueue",
    "TagLogGroup",
    "UntagLogGroup",
    *(f"{verb}{kind}" for kind in IAM_TAGGING for verb in ("Tag", "Untag")),
)

#: The create calls read for their tags, besides every EC2 create.
CREATE_NAMES: tuple[str, ...] = tuple(sorted({name for _, name in CREATES}))

#: EC2 calls that create resources and may carry ``tagSpecificationSet`` besides ``Create*``
EC2_CREATES: tuple[str, ...] = (
    "RunInstances",
    "AllocateAddress",
    "ImportKeyPair",
    "CopyImage",
    "CopySnapshot",
    "RequestSpotInstances",
)


def base_name(event_name: str) -> str:
    """``event_name`` without Lambda's API version suffix.

    >>> base_name("UntagResource20170331v2"), base_name("CreateFunction20150331"), base_name("TagRole")
    ('UntagResource', 'CreateFunction', 'TagRole')
    """
    return _VERSION.sub("", event_name)


def operations(
    source: Any, name: Any, region: Any, account: Any, request: Any, response: Any, iam_arns: Any = None
) -> Changes:
    """The tag changes one successful record made, per resource ARN; [] for anything unreadable.

    ``request`` and ``response`` are the record's JSON text. ``iam_arns`` maps (account, kind, name) to the
    ARN a create call in the trail gave (so that ``TagRole`` by name finds a role with a path).
    """
    if not all(isinstance(v, str) for v in (source, name, region, account)) or not isinstance(request, str):
        return []
    params = _load(request)
    if not isinstance(params, dict):
        return []
    where = _Where(source, base_name(name), region, account)
    handler = _handler(where)
    if handler is None:
        return []
    body = _load(response) if isinstance(response, str) else None
    return list(handler(where, params, body, iam_arns if isinstance(iam_arns, dict) else {}))


def _load(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # damaged, too deep, or a lone surrogate: nothing to read
        return None


@dataclass(frozen=True)
class _Where:
    """Where a record was made: its service, API (without version), region and recipient account."""

    source: str
    name: str
    region: str
    account: str

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    def arn(self, service: str, resource: str, *, account: bool = True) -> str:
        """An ARN of this region (and account, unless the resource type's ARN has none)."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account if account else ''}:{resource}"


# reading tags --------------------------------------------------------------------------------------------


def checked_text(value: Any, limit: int) -> str | None:
    """``value`` when it is a string AWS could have accepted (encodable, within ``limit``), else None."""
    if not isinstance(value, str) or len(value) > limit or value == HIDDEN:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


_PAIRS = (("key", "value"), ("Key", "Value"), ("tagKey", "tagValue"), ("TagKey", "TagValue"))


def _tag_ops(tags: Any, *, missing_value: str | None = None) -> list[Op]:
    """``Set`` per readable tag of a map or of a list of {key, value} objects (see the module doc for what
    an unreadable one does). Which of the two a request holds is the API's shape, never guessed from the
    content: a map may well have a tag named ``key``.

    ``missing_value``: what a list entry without a value means (EC2: the empty string); None: unreadable.

    >>> _tag_ops({"team": "red", "n": 7})
    [Set(key='team', value='red'), Unset(key='n', value=None)]
    >>> _tag_ops([{"key": "team", "value": "red"}, {"key": ["x"], "value": "y"}])
    [Clear(), Set(key='team', value='red')]
    """
    if isinstance(tags, dict):
        entries: list[tuple[Any, Any, bool]] = [(k, v, True) for k, v in tags.items()]
    elif isinstance(tags, list):
        entries = [tag_entry(item, missing_value) for item in tags]
    else:
        return [Clear()]
    ops: list[Op] = []
    unreadable = False
    for key, value, present in entries:
        readable_key = checked_text(key, MAX_KEY)
        if not readable_key:
            unreadable = True
            continue
        readable = checked_text(value, MAX_VALUE) if present else None
        ops.append(Set(readable_key, readable) if readable is not None else Unset(readable_key))
    return [Clear(), *ops] if unreadable else ops


def tag_entry(item: Any, missing_value: str | None) -> tuple[Any, Any, bool]:
    """(key, value, whether a value was given) of one list entry; an unusable entry has key None."""
    if not isinstance(item, dict):
        return None, None, False
    for key_name, value_name in _PAIRS:
        if key_name in item:
            if value_name in item and item[value_name] is not None:
                return item[key_name], item[value_name], True
            return item[key_name], missing_value, missing_value is not None
    return None, None, False


def _key_ops(keys: Any) -> list[Op]:
    """``Unset`` per readable key of a removal list; anything unreadable clears (see the module doc)."""
    if not isinstance(keys, list):
        return [Clear()]
    ops: list[Op] = []
    for key in keys:
        readable = checked_text(key, MAX_KEY)
        if readable is None or readable == "":
            return [Clear()]
        ops.append(Unset(readable))
    return ops


def _first(params: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in params:
            return params[name]
    return None


_TAGS = ("tags", "Tags", "tagList", "TagList", "tagsList", "resourceTags", "tagsToAdd")
_KEYS = ("tagKeys", "TagKeys", "tagKeyList", "TagKeyList", "resourceTagKeys", "keys")
_RESOURCE = ("resourceArn", "resourceARN", "ResourceArn", "ResourceARN", "resource", "Resource", "arn", "ARN")


def checked_arn(value: Any) -> str | None:
    """``value`` if it looks like an ARN (six parts, no blanks, within ARN length), else None."""
    if not isinstance(value, str) or len(value) > _ARN_MAX or not value.startswith("arn:"):
        return None
    if value.count(":") < 5 or any(ch.isspace() or ord(ch) < 32 for ch in value):
        return None
    return checked_text(value, _ARN_MAX)


def _name(value: Any) -> str | None:
    """``value`` if it can be the name or id part of an ARN."""
    if not isinstance(value, str) or not value or len(value) > 1024 or not _ID.match(value):
        return None
    return value


# handlers: (where, request, response, iam names) -> (arn, ops) ------------------------------------------


Handler = Callable[[_Where, dict[str, Any], Any, Any], Iterator[tuple[str, list[Op]]]]


def _tag_resource(
    where: _Where, params: dict[str, Any], _response: Any, _iam: Any
) -> Iterator[tuple[str, list[Op]]]:
    arn = _resource(where, params)
    if arn is not None:
        yield arn, _tag_ops(_first(params, *_TAGS))


def _untag_resource(
    where: _Where, params: dict[str, Any], _response: Any, _iam: Any
) -> Iterator[tuple[str, list[Op]]]:
    arn = _resource(where, params)
    if arn is not None:
        yield arn, _key_ops(_first(params, *_KEYS))


def _resource(where: _Where, params: dict[str, Any]) -> str | None:
    """The ARN a generic tagging call names: an ARN member, or KMS's key id, or a queue URL."""
    arn = checked_arn(_first(params, *_RESOURCE, "resourceName"))
    if arn is not None:
        return arn
    if where.source == "kms.amazonaws.com":
        key = _name(params.get("keyId"))
        if key is not None and not key.startswith("alias/") and "/" not in key and ":" not in key:
            return where.arn("kms", f"key/{key}")
    if "queueUrl" in params:
        return _queue_arn(where, params.get("queueUrl"))
    return checked_arn(params.get("secretId"))


def _queue_arn(where: _Where, url: Any) -> str | None:
    if not isinstance(url, str) or not url.startswith("https://"):
        return None
    parts = url.split("/")
    if len(parts) != 5 or not _ACCOUNT.match(parts[3]) or _name(parts[4]) is None:
        return None
    return f"arn:{where.partition}:sqs:{where.region}:{parts[3]}:{parts[4]}"


def _ec2_ids(where: _Where, items: Any) -> Iterator[str]:
    """ARNs of the ids of ``resourcesSet.items``; unknown prefixes (no known ARN form) are skipped."""
    if not isinstance(items, dict) or not isinstance(items.get("items"), list):
        return
    for item in items["items"]:
        rid = _name(item.get("resourceId")) if isinstance(item, dict) else None
        if rid is None:
            continue
        kind = next((kind for prefix, kind in _EC2_PREFIXES if rid.startswith(prefix)), None)
        if kind is not None:
            yield _ec2_arn(where, kind, rid)


def _ec2_arn(where: _Where, kind: str, rid: str) -> str:
    _, _, arn_type, with_account = EC2_TYPES[kind]
    return where.arn("ec2", f"{arn_type}/{rid}", account=with_account)


def _ec2_tag_set(value: Any, *, missing_value: str | None) -> list[Op]:
    items = value.get("items") if isinstance(value, dict) else None
    return _tag_ops(items, missing_value=missing_value) if isinstance(items, list) else [Clear()]


def _create_tags(
    where: _Where, params: dict[str, Any], _response: Any, _iam: Any
) -> Iterator[tuple[str, list[Op]]]:
    ops = _ec2_tag_set(params.get("tagSet"), missing_value="")
    for arn in _ec2_ids(where, params.get("resourcesSet")):
        yield arn, ops


def _delete_tags(
    where: _Where, params: dict[str, Any], _response: Any, _iam: Any
) -> Iterator[tuple[str, list[Op]]]:
    tag_set = params.get("tagSet")
    items = tag_set.get("items") if isinstance(tag_set, dict) else None
    if tag_set is None or tag_set == {} or items == []:
        ops: list[Op] = [Clear()]  # no tags named: EC2 deletes them all
    elif not isinstance(items, list):
        ops = [Clear()]
    else:
        ops = []
        for item in items:
            key, value, present = tag_entry(item, None)
            readable = checked_text(key, MAX_KEY)
            if not readable:
                ops = [Clear()]
                break
            condition = checked_text(value, MAX_VALUE) if present else None
            ops.append(Unset(readable) if not present or condition is None else Unset(readable, condition))
    for arn in _ec2_ids(where, params.get("resourcesSet")):
        yield arn, ops


def _ec2_create(
    where: _Where, params: dict[str, Any], response: Any, _iam: Any
) -> Iterator[tuple[str, list[Op]]]:
    """The new resources of an EC2 create with ``tagSpecificationSet``, their ids read from the response."""
    specs = params.get("tagSpecificationSet")
    items = specs.get("items") if isinstance(specs, dict) else None
    if not isinstance(items, list) or response is None:
        return
    for spec in items:
        if not isinstance(spec, dict) or spec.get("resourceType") not in EC2_TYPES:
            continue
        kind = spec["resourceType"]
        tags = spec.get("tags", spec.get("tagSet"))
        ops = (
            _ec2_tag_set(tags, missing_value="")
            if isinstance(tags, dict)
            else _tag_ops(tags, missing_value="")
        )
        prefix, member, _, _ = EC2_TYPES[kind]
        for rid in sorted(set(_find(response, member, prefix))):
            yield _ec2_arn(where, kind, rid), ops


def _find(node: Any, member: str, prefix: str, depth: int = 0) -> Iterator[str]:
    """Every string under ``member`` starting with ``prefix``, anywhere in ``node`` (bounded depth)."""
    if depth > 32:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            if key == member and isinstance(value, str) and value.startswith(prefix) and _name(value):
                yield value
            elif isinstance(value, dict | list):
                yield from _find(value, member, prefix, depth + 1)
    elif isinstance(node, list):
        for value in node:
            yield from _find(value, member, prefix, depth + 1)


def _create(
    where: _Where, params: dict[str, Any], response: Any, _iam: Any
) -> Iterator[tuple[str, list[Op]]]:
    """A create call with tags: the new resource's ARN from the response (built from the name, for logs)."""
    tags = _first(params, *_TAGS)
    if tags is None or tags == [] or tags == {}:
        return
    if where.source == "logs.amazonaws.com":
        group = _name(params.get("logGroupName"))
        arn = where.arn("logs", f"log-group:{group}") if group else None
    else:
        found = _dig(response, CREATES[(where.source, where.name)])
        arn = _queue_arn(where, found) if where.source == "sqs.amazonaws.com" else checked_arn(found)
    if arn is not None:
        yield arn, _tag_ops(tags)


def _dig(node: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        if not isinstance(node, dict):
            return None
        node = node.get(step)
    return node


def _iam(where: _Where, params: dict[str, Any], _response: Any, names: Any) -> Iterator[tuple[str, list[Op]]]:
    """``TagRole``/``UntagRole``, ``TagUser`` ...: by ARN, or by name (the ARN a create call in the trail
    gave, else the path ``/``: IAM names are unique in an account whatever the path, so no other resource
    has that ARN)."""
    member, arn_type = IAM_TAGGING[_iam_kind(where.name)]
    if arn_type:
        name = _name(params.get(member))
        if name is None or "/" in name:
            return
        account = where.account
        arn = (
            names.get((account, arn_type, name)) or f"arn:{where.partition}:iam::{account}:{arn_type}/{name}"
        )
    else:
        arn = checked_arn(params.get(member))
    if arn is not None:
        untag = where.name.startswith("Untag")
        yield arn, _key_ops(_first(params, *_KEYS)) if untag else _tag_ops(params.get("tags"))


def _iam_kind(name: str) -> str:
    """``Role`` of ``TagRole`` and ``UntagRole`` ...; "" for any other IAM API."""
    for verb in ("Untag", "Tag"):
        if name.startswith(verb) and name[len(verb) :] in IAM_TAGGING:
            return name[len(verb) :]
    return ""


def _bucket(
    where: _Where, params: dict[str, Any], _response: Any, _iam: Any
) -> Iterator[tuple[str, list[Op]]]:
    """``PutBucketTagging`` replaces the bucket's whole set; ``DeleteBucketTagging`` empties it."""
    bucket = _name(params.get("bucketName"))
    if bucket is None or "/" in bucket or ":" in bucket:
        return
    arn = f"arn:{where.partition}:s3:::{bucket}"
    if where.name == "DeleteBucketTagging":
        yield arn, [Clear()]
        return
    tagging = params.get("Tagging")
    tag_set = tagging.get("TagSet") if isinstance(tagging, dict) else None
    tags = tag_set.get("Tag", []) if isinstance(tag_set, dict) else [] if tag_set in ("", None) else None
    if not isinstance(tagging, dict) or not isinstance(tags, list | dict):
        yield arn, [Clear()]  # a set we cannot read replaced the old one
        return
    # S3's XML turned JSON: one tag is an object, several a list
    yield arn, [Clear(), *_tag_ops(tags if isinstance(tags, list) else [tags])]


def _ssm(where: _Where, params: dict[str, Any], _response: Any, _iam: Any) -> Iterator[tuple[str, list[Op]]]:
    """Systems Manager's ``AddTagsToResource``/``RemoveTagsFromResource``: a type and an id, not an ARN."""
    kind, rid = SSM_TYPES.get(str(params.get("resourceType"))), params.get("resourceId")
    # a parameter's ARN leaves out the leading slash of its name
    name = _name(rid.lstrip("/") if kind == "parameter" and isinstance(rid, str) else rid)
    if kind is None or name is None:
        return
    ops = _key_ops(params.get("tagKeys")) if where.name.startswith("Remove") else _tag_ops(params.get("tags"))
    yield where.arn("ssm", f"{kind}/{name}"), ops


def _many(where: _Where, params: dict[str, Any], _response: Any, _iam: Any) -> Iterator[tuple[str, list[Op]]]:
    """Elastic Load Balancing's ``AddTags``/``RemoveTags``: several ARNs at once."""
    arns = params.get("resourceArns")
    if not isinstance(arns, list):
        return
    ops = _key_ops(params.get("tagKeys")) if where.name == "RemoveTags" else _tag_ops(params.get("tags"))
    for value in arns:
        arn = checked_arn(value)
        if arn is not None:
            yield arn, ops


def _log_group(
    where: _Where, params: dict[str, Any], _response: Any, _iam: Any
) -> Iterator[tuple[str, list[Op]]]:
    """CloudWatch Logs' older ``TagLogGroup``/``UntagLogGroup`` (its untag list is called ``tags``)."""
    group = _name(params.get("logGroupName"))
    if group is None:
        return
    ops = _key_ops(params.get("tags")) if where.name == "UntagLogGroup" else _tag_ops(params.get("tags"))
    yield where.arn("logs", f"log-group:{group}"), ops


_BY_NAME: dict[str, Handler] = {
    "TagResource": _tag_resource,
    "UntagResource": _untag_resource,
    "TagQueue": _tag_resource,
    "UntagQueue": _untag_resource,
    "PutBucketTagging": _bucket,
    "DeleteBucketTagging": _bucket,
    "AddTags": _many,
    "RemoveTags": _many,
    "TagLogGroup": _log_group,
    "UntagLogGroup": _log_group,
}


def _handler(where: _Where) -> Handler | None:
    """The reader of ``where``'s API, or None when it says nothing about tags."""
    if (where.source, where.name) in CREATES:
        return _create
    if where.source == "ec2.amazonaws.com":
        return {"CreateTags": _create_tags, "DeleteTags": _delete_tags}.get(where.name, _ec2_create)
    if where.source == "iam.amazonaws.com" and _iam_kind(where.name):
        return _iam
    if where.name in ("AddTagsToResource", "RemoveTagsFromResource"):
        if where.source == "ssm.amazonaws.com":
            return _ssm
        return _tag_resource if where.name.startswith("Add") else _untag_resource
    return _BY_NAME.get(where.name)
