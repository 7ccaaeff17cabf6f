"""The policy sources of ``trailsmith check``: JSON documents, IAM exports, Terraform, and ``--map``."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from trailsmith.check import hcl
from trailsmith.check.sources import (
    CheckSourceError,
    PolicySource,
    Sources,
    load_sources,
    principals,
    read_mapping,
    unassigned,
)

FIXTURES = Path(__file__).parent / "fixtures"
EXPORT = Path(__file__).parent.parent / "fixtures" / "iam" / "crafted.json"
ROLE = "arn:aws:iam::123456789012:role/app"
USER = "arn:aws:iam::123456789012:user/ci"


def by_address(sources: Sources) -> dict[str, PolicySource]:
    return {source.address: source for source in sources.policies}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_json_document_is_read_with_its_statement_lines() -> None:
    path = str(FIXTURES / "json" / "app.json")
    sources = load_sources([path])
    (source,) = sources.policies
    assert source.form == "json"
    assert source.address == source.policy.label == path
    assert [s.actions for s in source.policy.statements] == [("s3:GetObject",), ("sqs:SendMessage",)]
    assert source.policy.statements[0].sid == "Read"
    assert source.location.line == 1 and source.location.end_line == 16
    assert source.statement_lines == (4, 10)
    assert source.principals == ()
    assert source.document["Statement"][1]["Action"] == "sqs:SendMessage"
    assert sources.unresolved == ()


def test_a_folder_is_read_recursively_including_get_role_policy_output() -> None:
    sources = load_sources([FIXTURES / "json"])
    policies = by_address(sources)
    nested = str(FIXTURES / "json" / "nested" / "get-role-policy.json")
    assert set(policies) == {str(FIXTURES / "json" / "app.json"), nested}
    assert policies[nested].policy.statements[0].actions == ("sqs:SendMessage",)
    assert policies[nested].statement_lines == (7,)
    assert policies[nested].document == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
    }


def test_a_list_of_documents_and_get_policy_version_output(tmp_path: Path) -> None:
    listed = write(
        tmp_path,
        "split.json",
        '[\n{"Statement": [\n{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]},\n'
        '{"Statement": {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}}\n]\n',
    )
    version = write(
        tmp_path,
        "version.json",
        json.dumps({"PolicyVersion": {"Document": {"Statement": [{"Effect": "Allow", "Action": "ec2:*"}]}}}),
    )
    sources = load_sources([listed])
    assert [s.address for s in sources.policies] == [f"{listed}#1", f"{listed}#2"]
    assert [s.statement_lines for s in sources.policies] == [(3,), (4,)]
    assert sources.policies[1].policy.statements[0].effect == "Deny"
    with pytest.raises(CheckSourceError, match="Statement\\[0\\] has neither Resource nor NotResource"):
        load_sources([version])


def test_an_authorization_details_export_gives_each_principal_all_its_policies() -> None:
    sources = load_sources([EXPORT])
    grouped = principals(sources)
    alice = "arn:aws:iam::111122223333:user/engineering/alice"
    labels = sorted(source.policy.label for source in grouped[alice])
    assert labels == [
        "group:developers/arn:aws:iam::111122223333:policy/S3Read",
        "group:developers/inline:describe-ec2",
        "inline:jobs-queue",
        "inline:no-reads-without-mfa",
    ]
    assert {source.form for source in sources.policies} == {"authorization-details"}
    assert all(source.location.path == str(EXPORT) for source in sources.policies)
    # the boundary caps, it does not grant: it is kept apart
    assert set(sources.boundaries) == {"arn:aws:iam::111122223333:role/bounded"}
    # what the export lacks is said, per principal
    bob = [u for u in sources.unresolved if u.address == "arn:aws:iam::111122223333:user/bob"]
    assert any("ReadOnlyAccess is not in the export" in u.why for u in bob)
    assert any("group 'contractors'" in u.why for u in bob)
    # inline policies of the same name but of different principals stay apart
    orders = [s for s in sources.policies if s.policy.label == "inline:orders-table"]
    assert sorted(p for s in orders for p in s.principals) == [
        "arn:aws:iam::111122223333:role/service-role/app",
        "arn:aws:iam::111122223333:user/bob",
    ]
    doc = next(s for s in grouped[alice] if s.policy.label == "inline:no-reads-without-mfa").document
    assert doc["Statement"][0]["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "false"}}


def test_a_terraform_module_gives_documents_principals_and_lines() -> None:
    folder = FIXTURES / "terraform"
    sources = load_sources([folder])
    policies = by_address(sources)
    main = str(folder / "main.tf")
    # the trust policy, used only by assume_role_policy, is neither checked nor reported
    assert set(policies) == {
        "data.aws_iam_policy_document.read",
        "aws_iam_role_policy.queue",
        "aws_iam_user_policy.deploy",
        "aws_iam_policy.logs",
    }
    assert sources.unresolved == ()

    read = policies["data.aws_iam_policy_document.read"]  # used by aws_iam_policy.read, attached to a role
    assert read.form == "terraform-document"
    assert read.policy.label == "aws_iam_policy.read"
    assert read.principals == ("role/app-role",)
    assert (read.location.path, read.location.line, read.location.end_line) == (main, 1, 18)
    assert read.statement_lines == (2, 8)
    allow, deny = read.policy.statements
    assert (allow.sid, allow.effect, allow.actions) == (
        "ReadBucket",
        "Allow",
        ("s3:GetObject", "s3:ListBucket"),
    )
    assert allow.resources == ("arn:aws:s3:::reports", "arn:aws:s3:::reports/${aws:username}/*")
    assert deny.effect == "Deny" and deny.conditional
    assert json.loads(deny.condition) == {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}}

    queue = policies["aws_iam_role_policy.queue"]  # jsonencode, role = aws_iam_role.app.id
    assert queue.form == "terraform-jsonencode"
    assert queue.principals == ("role/app-role",)
    assert queue.statement_lines == (36, 41)
    assert [s.actions for s in queue.policy.statements] == [
        ("sqs:SendMessage", "sqs:ReceiveMessage"),
        ("sqs:ListQueues",),
    ]

    deploy = policies["aws_iam_user_policy.deploy"]  # <<-EOT heredoc, literal user name
    assert deploy.form == "terraform-heredoc"
    assert deploy.principals == ("user/deployer",)
    assert deploy.statement_lines == (57,)
    assert deploy.location.line == 50

    logs = policies["aws_iam_policy.logs"]  # file("${path.module}/...") + aws_iam_policy_attachment
    assert logs.form == "terraform-file"
    assert logs.principals == ("role/app-role", "user/deployer")
    assert logs.location.path == str(folder / "policies" / "logs.json")
    assert logs.statement_lines == (4,)
    assert logs.policy.label == "aws_iam_policy.logs"


def test_terraform_json_syntax() -> None:
    sources = load_sources([FIXTURES / "tfjson"])
    policies = by_address(sources)
    assert {s.form for s in sources.policies} == {"tf-json"}
    worker = policies["aws_iam_role_policy.worker"]  # "${jsonencode({...})}"
    assert worker.principals == ("role/worker-role",)
    assert worker.policy.statements[0].actions == ("dynamodb:GetItem",)
    assert worker.statement_lines == (7,)  # the line of the string that holds it
    ci = policies["aws_iam_user_policy.ci"]  # a string of JSON text
    assert ci.principals == ("user/ci",)
    assert ci.policy.statements[0].actions == ("ecr:GetAuthorizationToken",)
    audit = policies["data.aws_iam_policy_document.audit"]  # used by nothing: checked on its own
    assert audit.principals == ()
    assert audit.statement_lines == (21,)
    assert unassigned(sources) == (audit,)


UNRESOLVED = """\
variable "bucket" {}
variable "role" {}

resource "aws_iam_role_policy" "computed" {
  role = "app"
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "arn:aws:s3:::${var.bucket}/*" }]
  })
}

data "aws_iam_policy_document" "vpc_only" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceVpc"
      values   = [var.vpc]
    }
  }
}

resource "aws_iam_role_policy" "vpc_only" {
  role   = var.role
  policy = data.aws_iam_policy_document.vpc_only.json
}

data "aws_iam_policy_document" "generated" {
  dynamic "statement" {
    for_each = var.statements
    content {
      actions = statement.value
    }
  }
}

resource "aws_iam_policy" "generated" {
  policy = data.aws_iam_policy_document.generated.json
}

resource "aws_iam_policy" "heredoc" {
  policy = <<EOF
{"Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": ${jsonencode(var.queues)}}]}
EOF
}
"""


def test_what_only_terraform_knows_is_reported_and_never_guessed(tmp_path: Path) -> None:
    path = str(write(tmp_path, "main.tf", UNRESOLVED))
    sources = load_sources([path])
    gaps = {(u.address, u.what): u for u in sources.unresolved}
    # a variable in a Resource: the policy is withheld
    assert "aws_iam_role_policy.computed" not in by_address(sources)
    computed = gaps["aws_iam_role_policy.computed", "Statement[0].Resource = arn:aws:s3:::${var.bucket}/*"]
    assert (computed.path, computed.line) == (path, 4)
    assert "not checked" in computed.why
    # a variable in a Condition: kept as written, the statement counts as conditional, and it is said
    kept = by_address(sources)["data.aws_iam_policy_document.vpc_only"]
    assert kept.policy.statements[0].conditional
    assert kept.document["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceVpc": ["${var.vpc}"]}}
    assert any(
        "Condition" in what and address == "data.aws_iam_policy_document.vpc_only" for address, what in gaps
    )
    # a role given by a variable: no principal is made up
    assert kept.principals == ()
    assert gaps["aws_iam_role_policy.vpc_only", "role"].why == "${var.role} only Terraform knows it"
    # a dynamic statement: the document and the policy using it are withheld
    assert ("data.aws_iam_policy_document.generated", "dynamic statement") in gaps
    assert "not resolved" in gaps["aws_iam_policy.generated", "policy"].why
    # ${...} outside a JSON string in a heredoc
    assert "outside a JSON string" in gaps["aws_iam_policy.heredoc", "policy"].why
    assert [s.policy.label for s in sources.policies] == ["aws_iam_role_policy.vpc_only"]


def test_attachments_that_name_no_known_policy_or_a_group_are_reported(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.tf",
        """\
resource "aws_iam_policy" "p" {
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }] })
}
resource "aws_iam_group_policy_attachment" "g" {
  group      = "devs"
  policy_arn = aws_iam_policy.p.arn
}
resource "aws_iam_role_policy_attachment" "aws" {
  role       = "app"
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}
resource "aws_iam_role_policy_attachment" "elsewhere" {
  role       = aws_iam_role.missing.name
  policy_arn = aws_iam_policy.p.arn
}
data "aws_iam_policy_document" "with_principals" {
  statement {
    actions = ["s3:GetObject"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
  }
}
""",
    )
    sources = load_sources([tmp_path])
    gaps = {(u.address, u.what): u.why for u in sources.unresolved}
    assert by_address(sources)["aws_iam_policy.p"].principals == ()
    assert "group members are not known" in gaps["aws_iam_group_policy_attachment.g", "group"]
    assert (
        "is not an aws_iam_policy of this module" in gaps["aws_iam_role_policy_attachment.aws", "policy_arn"]
    )
    assert ("aws_iam_role_policy_attachment.aws", "role") not in gaps  # who has a policy not read is moot
    missing = gaps["aws_iam_role_policy_attachment.elsewhere", "role"]
    assert (
        missing == "${aws_iam_role.missing.name} is not defined in the Terraform files read from this folder"
    )
    assert "trust or resource policy" in gaps["data.aws_iam_policy_document.with_principals", "document"]


def test_map_assigns_principals_to_files_and_overrides_terraform() -> None:
    app = str(FIXTURES / "json" / "app.json")
    mapping = {
        app: ROLE,
        "*/nested/*.json": [USER, ROLE],
        "aws_iam_role_policy.queue": [USER],
        "data.aws_iam_policy_document.read": ROLE,
    }
    sources = load_sources([FIXTURES / "json", FIXTURES / "terraform"], mapping=mapping)
    policies = by_address(sources)
    assert policies[app].principals == (ROLE,)
    assert policies[str(FIXTURES / "json" / "nested" / "get-role-policy.json")].principals == (ROLE, USER)
    assert policies["aws_iam_role_policy.queue"].principals == (USER,)
    assert policies["data.aws_iam_policy_document.read"].principals == (ROLE,)
    assert policies["aws_iam_user_policy.deploy"].principals == ("user/deployer",)  # not mapped: Terraform's
    assert [s.address for s in principals(sources)[USER]] == [
        "aws_iam_role_policy.queue",
        str(FIXTURES / "json" / "nested" / "get-role-policy.json"),
    ]


def test_map_relative_and_absolute_paths_and_mistakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "p/a.json", '{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}')
    monkeypatch.chdir(tmp_path)
    sources = load_sources(["p"], mapping={str(tmp_path / "p" / "a.json"): ROLE})
    assert sources.policies[0].principals == (ROLE,)
    with pytest.raises(CheckSourceError, match=re.escape("'p/b.json' names no policy file")):
        load_sources(["p"], mapping={"p/b.json": ROLE})
    with pytest.raises(CheckSourceError, match="is not an IAM role or user ARN"):
        load_sources(["p"], mapping={"p/a.json": "app"})
    mapping_file = write(tmp_path, "map.json", json.dumps({"p/a.json": [ROLE, USER]}))
    assert read_mapping(str(mapping_file)) == {"p/a.json": (ROLE, USER)}
    write(tmp_path, "bad-map.json", '["p/a.json"]')
    with pytest.raises(CheckSourceError, match=re.escape("bad-map.json: is not a JSON object")):
        read_mapping("bad-map.json")


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("broken.json", b'{"Statement": [', "is not valid JSON"),
        ("latin1.json", b'{"Sid": "caf\xe9"}', "is not UTF-8 text (byte 0xe9 at offset 12)"),
        ("empty.json", b"{}", "document has no Statement"),
        ("broken.tf", b'resource "aws_iam_policy" "x" {\n  policy = \n', "is not valid HCL"),
    ],
)
def test_a_bad_file_named_is_one_line_error_and_in_a_folder_an_unresolved_item(
    tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    good = write(
        tmp_path, "good.json", '{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}'
    )
    with pytest.raises(CheckSourceError) as raised:
        load_sources([bad])
    message = str(raised.value)
    assert message.startswith(f"{bad}: ") and problem in message and "\n" not in message
    assert raised.value.hint
    sources = load_sources([tmp_path])
    assert [s.address for s in sources.policies] == [str(good)]
    (item,) = sources.unresolved
    assert (item.path, item.what) == (str(bad), "file") and problem in item.why


def test_missing_huge_and_looping_input(tmp_path: Path) -> None:
    with pytest.raises(CheckSourceError, match="no such file or directory"):
        load_sources([tmp_path / "nope.json"])
    with pytest.raises(CheckSourceError, match="no SOURCE given"):
        load_sources([])
    # Terraform is capped at 8 MiB (python-hcl2 is slow), JSON at 512 MiB (an export can be large)
    huge = tmp_path / "huge.tf"
    with open(huge, "wb") as handle:
        handle.truncate(hcl.MAX_BYTES + 1)
    with pytest.raises(CheckSourceError, match="is larger than 8 MiB"):
        load_sources([huge])
    huge.unlink()
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as handle:
        handle.truncate(hcl.MAX_JSON_BYTES + 1)  # sparse: no disk used
    with pytest.raises(CheckSourceError, match="is larger than 512 MiB"):
        load_sources([huge])
    huge.unlink()
    folder = tmp_path / "tree"
    write(folder, "sub/a.json", '{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}')
    os.symlink(folder, folder / "sub" / "loop")
    write(folder, ".terraform/modules/x/main.tf", "this is not read {")
    write(folder, "vars.tfvars.json", '{"region": "eu-west-1"}')
    os.mkfifo(folder / "pipe.json")  # reading it would wait for a writer forever
    sources = load_sources([folder])
    assert [s.address for s in sources.policies] == [str(folder / "sub" / "a.json")]
    assert sorted((u.path, u.why) for u in sources.unresolved) == [
        (str(folder / "pipe.json"), "is not a regular file"),
        (str(folder / "sub" / "loop"), "is a symlink, not followed"),
    ]


def test_a_file_read_through_terraform_is_not_read_again_on_its_own() -> None:
    sources = load_sources([FIXTURES / "terraform", FIXTURES / "terraform" / "policies" / "logs.json"])
    assert [s.address for s in sources.policies if "logs" in s.location.path] == ["aws_iam_policy.logs"]


def test_hcl_values_as_python_hcl2_gives_them() -> None:
    raw = hcl.loads('x = "a\\"b\\u00e9 $${c}"\ny = ["s3:Get", var.z, "p-${local.q}"]\nz = 2\n')
    assert hcl.value(raw["x"]) == 'a"bé ${c}'
    assert hcl.value(raw["y"]) == ["s3:Get", hcl.Expr("var.z"), hcl.Expr("p-${local.q}", template=True)]
    assert hcl.value(raw["z"]) == 2
    assert str(hcl.Expr("var.z")) == "${var.z}"
    # <<- trims the least indentation of the text's lines; the closing marker's own does not count
    assert hcl.heredoc('"<<-EOT\n    {\n      "a": 1\n    }\n  EOT"') == '{\n  "a": 1\n}\n'
    assert hcl.heredoc('"<<EOF\nx\nEOF"') == "x\n"
    assert hcl.expression('{Version = "1", "Statement" = [{Action = "a:b"}]}') == {
        "Version": "1",
        "Statement": [{"Action": "a:b"}],
    }


def test_the_scanner_tracks_lines_through_strings_comments_and_heredocs() -> None:
    text = (
        '# "Statement" in a comment\n'
        'x = "${jsonencode({a = "}"})}" /* {\n */\n'
        "y = <<EOF\n{\nEOF\n"
        "Statement = [\n  {a = 1},\n\n  {b = 2}\n]\n"
    )
    tokens = hcl.scan(text)
    assert [t.kind for t in tokens[:6]] == ["word", "=", "string", "word", "=", "heredoc"]
    assert tokens[5].line == 4
    assert hcl.statement_lines(tokens) == [(8, 10)]


def test_principals_in_a_document_an_identity_policy_uses_are_ignored_and_said(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.tf",
        """\
data "aws_iam_policy_document" "mixed" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
  }
}
data "aws_iam_policy_document" "half" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["*"]
    condition {
      test   = "Bool"
      values = ["true"]
    }
  }
}
resource "aws_iam_role_policy" "mixed" {
  role   = "app"
  policy = data.aws_iam_policy_document.mixed.json
}
resource "aws_iam_role_policy" "half" {
  role   = "app"
  policy = data.aws_iam_policy_document.half.json
}
""",
    )
    sources = load_sources([tmp_path])
    gaps = {(u.address, u.what): (u.line, u.why) for u in sources.unresolved}
    mixed = by_address(sources)["data.aws_iam_policy_document.mixed"]
    assert mixed.principals == ("role/app",)
    assert "Principal" not in mixed.document["Statement"][0]
    assert gaps["data.aws_iam_policy_document.mixed", "statement[0].principals"] == (
        1,
        "ignored: identity policies name no principal",
    )
    assert [s.policy.label for s in sources.policies] == ["aws_iam_role_policy.mixed"]
    assert (
        "needs test, variable and values"
        in gaps["data.aws_iam_policy_document.half", "statement[0].condition[0]"][1]
    )
