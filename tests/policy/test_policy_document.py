"""Documents: IAM's size limit and characters, merging, Sids, bounded generalisation, and determinism."""

from __future__ import annotations

import gzip
import json
import random
import re
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trailsmith
import trailsmith.policy.generator as policy
from helpers.paths import SAMPLE
from trailsmith.policy.document import Entry, build_documents, passrole_condition
from trailsmith.policy.extract.base import Known
from trailsmith.policy.generalize import DIRECTORY_MIN, NAME_CAP, generalize
from trailsmith.policy.model import MAX_DOCUMENT_CHARS, Evidence
from trailsmith.policy.usage import Filters, aggregate, instance_profile_roles, known_principals

T0 = datetime(2024, 8, 1, tzinfo=timezone.utc)
EVIDENCE = Evidence(1, T0, T0, ("e1",))
OBJECT = "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
SID = re.compile(r"^[A-Za-z0-9]+$")


def entries_for(action: str, resources: list[str], **kw: object) -> list[Entry]:
    return [Entry(action, r, EVIDENCE, **kw) for r in resources]  # type: ignore[arg-type]


def test_hundreds_of_resources_are_split_into_documents_within_the_limit() -> None:
    objects = [f"arn:aws:s3:::bucket-{i % 7}/data/{i:05d}/part.parquet" for i in range(700)]
    entries = (
        entries_for("s3:GetObject", objects)
        + entries_for("s3:PutObject", objects[:50])
        + entries_for("ec2:DescribeInstances", ["*"])
        + entries_for(
            "iam:PassRole",
            ["arn:aws:iam::111122223333:role/r"],
            conditions=passrole_condition("ec2.amazonaws.com"),
        )
    )
    documents = build_documents(entries)
    assert len(documents) > 1
    for document in documents:
        assert document.size <= MAX_DOCUMENT_CHARS
        as_dict = json.loads(document.to_json())
        assert as_dict["Version"] == "2012-10-17"
        sids = [s["Sid"] for s in as_dict["Statement"]]
        assert len(sids) == len(set(sids)) and all(SID.match(s) for s in sids)
    granted = {(a, r) for d in documents for s in d.statements for a in s.actions for r in s.resources}
    assert granted == {(e.action, e.resource) for e in entries}


def test_size_counts_no_whitespace() -> None:
    [document] = build_documents(entries_for("s3:GetObject", ["arn:aws:s3:::b/a key with spaces"]))
    compact = json.dumps(document.to_dict(), separators=(",", ":"))
    assert document.size == len(compact) - compact.count(" ")
    assert len(document.to_json()) > document.size  # the pretty print's indentation is free


def test_statements_merge_by_resources_and_stars_absorb() -> None:
    entries = (
        entries_for("s3:GetObject", ["arn:aws:s3:::b/x", "arn:aws:s3:::b/*"])
        + entries_for("s3:PutObject", ["arn:aws:s3:::b/*"])
        + entries_for("s3:ListBucket", ["arn:aws:s3:::b"])
        + entries_for("kms:Decrypt", ["arn:aws:kms:eu-west-1:111122223333:key/k", "*"])
        + entries_for("sts:GetSessionToken", ["*"])
    )
    [document] = build_documents(entries)
    statements = {s.actions: s.resources for s in document.statements}
    assert statements == {
        ("s3:GetObject", "s3:PutObject"): ("arn:aws:s3:::b/*",),
        ("s3:ListBucket",): ("arn:aws:s3:::b",),
        ("kms:Decrypt", "sts:GetSessionToken"): ("*",),
    }


def test_characters_iam_refuses_are_widened() -> None:
    [document] = build_documents(entries_for("s3:GetObject", ["arn:aws:s3:::b/\u65e5\u672c/\U0001f600.txt"]))
    [statement] = document.statements
    assert statement.resources == ("arn:aws:s3:::b/*/*.txt",)
    assert all(c in "\t\n\r" or 0x20 <= ord(c) <= 0xFF for c in document.to_json())


def test_directory_rule() -> None:
    keys = [
        f"arn:aws:s3:::b/raw/{d}/part-{i}"
        for d in ("orders", "clicks", "items")
        for i in range(DIRECTORY_MIN)
    ]
    keys += ["arn:aws:s3:::b/raw/orders/x/one", "arn:aws:s3:::other/raw/orders/part-0"]
    resources, notes = generalize((k, OBJECT) for k in keys)
    assert resources == ["arn:aws:s3:::b/raw/*", "arn:aws:s3:::other/raw/orders/part-0"]
    assert any("directory rule" in n for n in notes)
    few, none = generalize((k, OBJECT) for k in keys[: DIRECTORY_MIN - 1])
    assert few == sorted(keys[: DIRECTORY_MIN - 1]) and none == []


def test_name_rule_is_capped_and_never_crosses_accounts() -> None:
    fmt = "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}"
    tables = [f"arn:aws:dynamodb:eu-west-1:111122223333:table/orders-{i}" for i in range(NAME_CAP + 1)]
    other = [f"arn:aws:dynamodb:eu-west-1:444455556666:table/orders-{i}" for i in range(NAME_CAP)]
    resources, notes = generalize((t, fmt) for t in tables + other)
    assert resources == ["arn:aws:dynamodb:eu-west-1:111122223333:table/orders-*", *sorted(other)]
    assert len(notes) == 1 and "name rule" in notes[0]


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False))
def test_documents_do_not_depend_on_entry_order(rng: random.Random) -> None:
    objects = [f"arn:aws:s3:::b{i % 3}/k/{i}" for i in range(120)]
    entries = (
        entries_for("s3:GetObject", objects)
        + entries_for("s3:PutObject", objects[::3])
        + entries_for("lambda:ListFunctions", ["*"])
        + entries_for(
            "iam:PassRole",
            ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"],
            conditions=passrole_condition("lambda.amazonaws.com"),
        )
    )
    expected = [d.to_json() for d in build_documents(entries, budget=2000)]
    shuffled = list(entries)
    rng.shuffle(shuffled)
    assert [d.to_json() for d in build_documents(shuffled, budget=2000)] == expected


@pytest.fixture(scope="module")
def sample_usage(sample_warehouse: Path) -> tuple[pa.Table, Known, Path]:
    connection = trailsmith.connect(sample_warehouse)
    try:
        table = aggregate(connection, Filters())
        known = Known.from_arns(known_principals(connection), instance_profile_roles(connection))
    finally:
        connection.close()
    return table, known, sample_warehouse


def rendered(table: pa.Table, known: Known) -> list[str]:
    return [p.principal + "\n" + p.to_json() for p in policy.policies_from_usage(table, known)]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.randoms(use_true_random=False))
def test_policies_do_not_depend_on_row_order_or_partial_aggregation(
    sample_usage: tuple[pa.Table, Known, Path], rng: random.Random
) -> None:
    """Rows in any order, and groups split in two (as another file layout or engine would deliver them)."""
    table, known, _ = sample_usage
    expected = rendered(table, known)
    rows = table.to_pylist()
    out = []
    for row in rows:
        if row["events"] > 1 and rng.random() < 0.5:
            first = dict(row, events=1, lastSeen=row["firstSeen"], lastEventId=row["firstEventId"])
            rest = dict(row, events=row["events"] - 1, firstEventId=row["lastEventId"])
            out += [first, rest]
        else:
            out.append(row)
    rng.shuffle(out)
    assert rendered(pa.Table.from_pylist(out, schema=table.schema), known) == expected


def test_other_file_boundaries_give_byte_identical_policies(
    tmp_path: Path, sample_usage: tuple[pa.Table, Known, Path]
) -> None:
    """The sample's records re-cut into differently sized, differently ordered files, in two layouts."""
    _, _, original = sample_usage
    records = [
        r
        for path in sorted(SAMPLE.rglob("*.json.gz"))
        if "Digest" not in str(path)
        for r in json.loads(gzip.decompress(path.read_bytes()))["Records"]
    ]
    random.Random(3).shuffle(records)
    for cut, layout in ((7, "records"), (31, "lines")):
        folder = tmp_path / f"cut{cut}"
        folder.mkdir()
        for index in range(cut):
            part = records[index::cut]
            body = (
                json.dumps({"Records": part})
                if layout == "records"
                else "\n".join(json.dumps(r) for r in part)
            )
            (folder / f"part{index}.json.gz").write_bytes(gzip.compress(body.encode()))
        trailsmith.ingest([str(folder)], tmp_path / f"wh{cut}", workers=1)
        again = [p.to_json() for p in policy.generate(tmp_path / f"wh{cut}")]
        assert again == [p.to_json() for p in policy.generate(original)]
