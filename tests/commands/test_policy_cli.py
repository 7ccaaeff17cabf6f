"""``trailsmith policy``: stdout is exactly the policy, files are safe, Terraform is well formed, errors are
one line, and a time window skips the partitions outside it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import trailsmith
import trailsmith.policy.generator as policy
from helpers.events import ACCOUNT, event, write_records
from helpers.policy_support import LAKE, lake_warehouse
from trailsmith.policy.model import DEFAULT_ATTACHED_POLICIES, MAX_DOCUMENT_CHARS
from trailsmith.policy.render import terraform, unique_names

ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci/Builder"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trailsmith.cli", "policy", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One role reading 600 objects of 6 buckets, plus one denied call."""
    root = tmp_path_factory.mktemp("big")
    records = []
    for n in range(600):
        record = event(n)
        bucket, key = f"bucket-number-{n % 6}", f"exports/{n:04d}/data-file.parquet"
        record["requestParameters"] = {"bucketName": bucket, "key": key, "Host": f"{bucket}.s3.amazonaws.com"}
        record["resources"] = [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"}]
        records.append(record)
    records.append(event(9999, errorCode="AccessDenied", errorMessage="denied"))
    write_records(root / "in" / "a.json.gz", records)
    trailsmith.ingest([str(root / "in")], root / "wh", workers=1)
    return root / "wh"


def holder(warehouse: Path, suffix: str) -> str:
    return next(p.principal for p in policy.generate(warehouse) if p.principal.endswith(suffix))


def test_one_principal_prints_exactly_its_document(sample_warehouse: Path) -> None:
    arn = holder(sample_warehouse, ":role/cfn-exec")
    result = run("-w", str(sample_warehouse), "--principal", arn)
    assert result.returncode == 0, result.stderr
    [expected] = policy.generate(sample_warehouse, [arn])
    assert result.stdout == expected.to_json()
    document = json.loads(result.stdout)
    assert document["Version"] == "2012-10-17" and isinstance(document["Statement"], list)
    assert arn in result.stderr and "statements" in result.stderr  # the summary goes to stderr


def test_a_split_policy_prints_a_json_array_of_documents(big: Path) -> None:
    result = run("-w", str(big), "-p", ROLE, "--quiet")
    assert result.returncode == 0, result.stderr
    documents = json.loads(result.stdout)
    assert isinstance(documents, list) and len(documents) > 1
    for document in documents:
        assert len(re.sub(r"\s", "", json.dumps(document, ensure_ascii=False))) <= MAX_DOCUMENT_CHARS
    resources = {r for d in documents for s in d["Statement"] for r in s["Resource"]}
    assert len(resources) == 600
    assert result.stderr == ""
    generalized = json.loads(run("-w", str(big), "-p", ROLE, "-q", "--resources", "generalize").stdout)
    assert generalized["Statement"][0]["Resource"] == [
        f"arn:aws:s3:::bucket-number-{i}/exports/*" for i in range(6)
    ]


def test_explain_goes_to_stderr(big: Path) -> None:
    result = run("-w", str(big), "-p", ROLE, "--explain", "--resources", "generalize")
    assert result.returncode == 0
    assert json.loads(result.stdout)["Version"] == "2012-10-17"
    assert "evidence: 600 events" in result.stderr
    assert "denied: s3.amazonaws.com GetObject: 1 event " in result.stderr
    assert "common directory" in result.stderr


def test_out_writes_one_file_per_principal_and_part_and_an_index(
    sample_warehouse: Path, big: Path, tmp_path: Path
) -> None:
    out = tmp_path / "policies"
    result = run("-w", str(sample_warehouse), "--all", "--out", str(out), "--explain", "-q")
    assert result.returncode == 0, result.stderr
    index = json.loads((out / "index.json").read_text())
    assert len(index) == 45
    for principal, entry in index.items():
        for name in entry["files"]:
            assert "/" not in name and not name.startswith(".") and (out / name).is_file()
        documents = [n for n in entry["files"] if not n.endswith(".explain.json")]
        [generated] = policy.generate(sample_warehouse, [principal])
        assert len(documents) == len(generated.documents) == entry["documents"]
        for name, document in zip(documents, generated.documents, strict=True):
            assert json.loads((out / name).read_text()) == document.to_dict()
    split = run("-w", str(big), "--all", "--out", str(tmp_path / "split"), "-q")
    assert split.returncode == 0
    [(principal, entry)] = json.loads((tmp_path / "split" / "index.json").read_text()).items()
    assert principal == ROLE and entry["documents"] == len(entry["files"]) > 1
    assert all(".part" in name for name in entry["files"])


def test_file_names_cannot_leave_the_directory() -> None:
    arns = [
        f"arn:aws:iam::{ACCOUNT}:role/../../etc/passwd",
        f"arn:aws:iam::{ACCOUNT}:role/..-..-etc/passwd",
        "permission-set/Admin",
        "/absolute",
        "..",
        f"arn:aws:iam::{ACCOUNT}:role/{'x' * 300}",
    ]
    names = unique_names(arns)
    assert len(set(names.values())) == len(arns)
    for name in names.values():
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name) and ".." not in name and len(name) <= 130


def test_terraform_is_well_formed_and_says_the_same(sample_warehouse: Path) -> None:
    policies = [p for p in policy.generate(sample_warehouse) if p.documents]
    result = run("-w", str(sample_warehouse), "--all", "--format", "terraform", "-q")
    assert result.returncode == 0
    blocks = parse_hcl(result.stdout)
    assert len(blocks) == sum(len(p.documents) for p in policies)
    names = [b["name"] for b in blocks]
    assert len(set(names)) == len(names) and all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", n) for n in names)
    for p in policies:
        for index, document in enumerate(p.documents):
            block = parse_hcl(terraform(p))[index]
            assert block["version"] == "2012-10-17"
            expected = [
                {
                    "sid": s.sid,
                    "effect": "Allow",
                    "actions": list(s.actions),
                    "resources": list(s.resources),
                    "condition": [
                        {"test": c.operator, "variable": c.key, "values": list(c.values)}
                        for c in s.conditions
                    ],
                }
                for s in document.statements
            ]
            assert block["statement"] == expected


def test_special_characters_survive_terraform() -> None:
    from datetime import datetime, timezone

    from trailsmith.policy.document import Entry, build_documents
    from trailsmith.policy.model import Evidence, PrincipalPolicy

    t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    weird = 'arn:aws:s3:::b/${*}q "quoted" \\back %{x} ${aws:username}'
    documents = build_documents([Entry("s3:GetObject", weird, Evidence(1, t, t))])
    [block] = parse_hcl(
        terraform(PrincipalPolicy("arn:aws:iam::1:role/r", ("arn:aws:iam::1:role/r",), documents))
    )
    assert block["statement"][0]["resources"] == [weird]


def test_errors_are_one_line_with_a_hint(sample_warehouse: Path) -> None:
    arn = holder(sample_warehouse, ":role/cfn-exec")
    for args, words in [
        ((), "--principal"),
        (("--all", "-p", arn), "--principal"),
        (("-p", f"arn:aws:iam::{ACCOUNT}:role/nobody"), "made no call"),
        (("-p", arn, "--since", "yesterday-ish"), "not a time"),
        (("-p", arn, "--since", "2024-09-01", "--until", "2024-08-01"), "not before"),
    ]:
        result = run("-w", str(sample_warehouse), *args)
        assert result.returncode != 0 and result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("trailsmith: error:") and words in line and "Traceback" not in line


def test_a_principal_with_nothing_to_allow_is_an_error(tmp_path: Path) -> None:
    who_am_i = event(
        1,
        eventSource="sts.amazonaws.com",
        eventName="GetCallerIdentity",
        requestParameters=None,
        resources=None,
        managementEvent=True,
        eventCategory="Management",
    )
    write_records(tmp_path / "in" / "a.json.gz", [who_am_i])
    trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    result = run("-w", str(tmp_path / "wh"), "-p", ROLE)
    assert result.returncode == 1 and result.stdout == ""
    assert "no authorised call" in result.stderr and "--explain" in result.stderr
    [only] = policy.generate(tmp_path / "wh")
    assert only.documents == () and [e.reason for e in only.excluded] == ["no-permission"]


def test_window_prunes_partitions(sample_warehouse: Path) -> None:
    """The aggregation of a one-day window reads the files of that day only (DuckDB's plan says so)."""
    from trailsmith.policy.usage import Filters, Window, parse_time, usage_sql

    window = Window(parse_time("2024-08-01"), parse_time("2024-08-01", end=True))
    connection = trailsmith.connect(sample_warehouse)
    scanned = []
    try:
        for filters in (Filters(window=window), Filters()):
            sql, params = usage_sql(filters)
            plan = "\n".join(row[1] for row in connection.sql("EXPLAIN " + sql, params=params).fetchall())
            found = re.search(r"Scanning Files: (\d+)/", plan)
            scanned.append(int(found.group(1)) if found else None)  # no line: no file was pruned
    finally:
        connection.close()
    day_one = len(list((sample_warehouse / "events").glob("eventDate=2024-08-01/*.parquet")))
    assert 0 < day_one < len(list((sample_warehouse / "events").rglob("*.parquet")))
    assert scanned == [day_one, None]


# A small HCL reader: just enough of the syntax to check structure and string escapes. --------------------

_TOKEN = re.compile(r'\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*")|([A-Za-z_][A-Za-z0-9_-]*)|([{}\[\]=,]))')


def _tokens(text: str) -> list[str]:
    out, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match, f"unexpected HCL at {text[position : position + 40]!r}"
        position = match.end()
        if match.group(1) is None:
            out.append(next(g for g in match.groups()[1:] if g is not None))
    return out


def _string(token: str) -> str:
    assert token.startswith('"')
    body = token[1:-1]
    assert not re.search(r"(?<!\$)\$\{", body.replace("$${", "")), f"unescaped interpolation in {token}"
    assert not re.search(r"(?<!%)%\{", body.replace("%%{", "")), f"unescaped directive in {token}"
    decoded = json.loads('"' + body + '"')
    return decoded.replace("$${", "${").replace("%%{", "%{")


def _body(tokens: list[str], i: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while tokens[i] != "}":
        key = tokens[i]
        if tokens[i + 1] == "=":
            value, i = _value(tokens, i + 2)
            out[key] = value
        else:
            assert tokens[i + 1] == "{", key
            block, i = _body(tokens, i + 2)
            out.setdefault(key, []).append(block)
    return out, i + 1


def _value(tokens: list[str], i: int) -> tuple[Any, int]:
    if tokens[i] == "[":
        items, i = [], i + 1
        while tokens[i] != "]":
            items.append(_string(tokens[i]))
            i += 1
            if tokens[i] == ",":
                i += 1
        return items, i + 1
    return _string(tokens[i]), i + 1


def parse_hcl(text: str) -> list[dict[str, Any]]:
    """``data "aws_iam_policy_document" "name" { ... }`` blocks as dicts (statement, condition lists)."""
    tokens, i, blocks = _tokens(text), 0, []
    while i < len(tokens):
        assert tokens[i] == "data" and tokens[i + 1] == '"aws_iam_policy_document"' and tokens[i + 3] == "{"
        name = _string(tokens[i + 2])
        body, i = _body(tokens, i + 4)
        for statement in body.get("statement", []):
            statement.setdefault("condition", [])
        blocks.append({"name": name, **body})
    return blocks


def test_the_default_resources_mode_is_fit_and_says_its_quota() -> None:
    result = run("--help")
    assert result.returncode == 0
    text = re.sub(r"[\s│]+", " ", result.stdout)
    assert "[default: fit]" in text
    assert "fit|exact|generalize|service" in text.replace(" ", "")
    assert "10 attached managed policies of 6,144 characters" in text


def test_by_default_a_principal_too_large_for_the_quota_is_widened_to_fit(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    lake = lake_warehouse(tmp_path_factory.mktemp("lake"))
    result = run("-w", str(lake), "-p", ROLE, "--explain")
    assert result.returncode == 0, result.stderr
    documents = json.loads(result.stdout)
    assert isinstance(documents, list) and 1 < len(documents) <= DEFAULT_ATTACHED_POLICIES
    for document in documents:
        assert len(re.sub(r"\s", "", json.dumps(document, ensure_ascii=False))) <= MAX_DOCUMENT_CHARS
    assert "resources fit" in result.stderr and "patterns widened to fit (see --explain)" in result.stderr
    assert f"1,500 ARNs -> arn:aws:s3:::{LAKE}/curated/orders/* for s3:PutObject" in result.stderr
    exact = run("-w", str(lake), "-p", ROLE, "-q", "--resources", "exact")
    assert len(json.loads(exact.stdout)) > DEFAULT_ATTACHED_POLICIES
    assert "managed policies" in exact.stderr and "--resources fit" in exact.stderr


def test_a_principal_within_the_quota_gets_its_exact_arns_by_default(big: Path) -> None:
    default = run("-w", str(big), "-p", ROLE, "-q")
    assert default.returncode == 0, default.stderr
    assert default.stdout == run("-w", str(big), "-p", ROLE, "-q", "--resources", "exact").stdout
