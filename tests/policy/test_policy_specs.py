"""The extractor registry itself: every resource type it names exists in the IAM reference data, and every
request field it reads is a request member of some AWS API (a misspelt field would silently read nothing)."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

import botocore
import pytest

from trailsmith.policy.arns import arn_format
from trailsmith.policy.extract.registry import specs

#: Fields CloudTrail writes under names of its own, not the API's member names.
CLOUDTRAIL_NAMES = {"bucketName", "key", "x-amz-copy-source"}


@functools.cache
def request_members() -> frozenset[str]:
    """Every input member of every operation of every API botocore models, first letter lower-cased."""
    members: set[str] = set()
    for path in (Path(botocore.__file__).parent / "data").glob("*/*/service-2.json*"):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as handle:  # type: ignore[operator]
            model = json.load(handle)
        for shape in model["shapes"].values():
            for name in shape.get("members", {}):
                members.add(name[:1].lower() + name[1:])
    return frozenset(members)


@pytest.mark.parametrize("host", sorted(specs()))
def test_every_named_resource_type_exists(host: str) -> None:
    spec = specs()[host]
    for named in spec.covers.union(*spec.alternatives):
        prefix, _, kind = named.partition(":")
        assert arn_format(prefix, kind), f"{host}: {named} is not a resource type in the IAM reference data"


@pytest.mark.parametrize("host", sorted(specs()))
def test_every_field_read_is_a_request_member(host: str) -> None:
    for path in specs()[host].fields:
        top = path.split(".", 1)[0]
        known = top in CLOUDTRAIL_NAMES or top in request_members()
        assert known, f"{host}: {path} is no API's request member"
