"""What the mapping derives from botocore's models and the reference's descriptions: the traps, each
category's trap, and that nothing derived names an action the reference data lacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.paths import REALDATA
from trailsmith.actions import reference as iamref
from trailsmith.actions import rules as action_rules
from trailsmith.actions import sources
from trailsmith.actions.mapping import coverage, event_host, iam_prefix, map_event


def test_an_operation_authorised_by_an_action_of_another_name() -> None:
    # lambda:GetLayerVersion's description: "Note this action also supports GetLayerVersionByArn API".
    mapping = map_event("lambda.amazonaws.com", "GetLayerVersionByArn")
    assert (mapping.status, mapping.actions, mapping.rule) == (
        "mapped",
        ("lambda:GetLayerVersion",),
        "reference-alias",
    )
    assert "also supports GetLayerVersionByArn API" in mapping.reason
    # As CloudTrail may record it, with Lambda's API version appended.
    versioned = map_event("lambda.amazonaws.com", "GetLayerVersionByArn20181031")
    assert versioned.actions == ("lambda:GetLayerVersion",)
    assert versioned.rule == "api-version-suffix+reference-alias"


def test_an_endpoint_spelled_otherwise_than_its_prefix() -> None:
    assert iam_prefix("application-insights.amazonaws.com") == "applicationinsights"
    mapping = map_event("application-insights.amazonaws.com", "DescribeApplication")
    assert mapping.actions == ("applicationinsights:DescribeApplication",)
    assert sources.reference_prefix("Application Insights") == "applicationinsights"


def test_an_alias_is_matched_in_its_own_spelling_only() -> None:
    assert map_event("lambda.amazonaws.com", "getLayerVersionByArn").status == "unmapped"
    # Not carried to another service either.
    assert map_event("lambda-other.amazonaws.com", "GetLayerVersionByArn").status == "unmapped"


@pytest.mark.parametrize(
    ("description", "names"),
    [
        (
            "Grants permission to view a layer. Note this action also supports GetLayerVersionByArn API",
            ["GetLayerVersionByArn"],
        ),
        ("Grants permission to do X. This action also supports the DescribeThing API", ["DescribeThing"]),
        ("Grants permission to do X. It also supports GetA and GetB APIs", ["GetA", "GetB"]),
        ("Grants permission to do X. It also supports GetA, GetB, and GetC APIs", ["GetA", "GetB", "GetC"]),
        # Prose, not a claim about an API operation: nothing is read from it.
        ("Grants permission to list connectors supported by Amazon AppFlow", []),
        ("This API only supports prioritized recommendations", []),
        ("Grants permission to do X. It also supports tagging", []),
        ("Grants permission to delete a model created using the CreateModel API", []),
    ],
)
def test_the_alias_wording_is_read_conservatively(description: str, names: list[str]) -> None:
    found = [
        n
        for m in sources._ALSO_SUPPORTS.finditer(description)
        for n in sources._OPERATION.findall(m["names"])
    ]
    assert found == names


def test_doubtful_aliases_are_rejected_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    descriptions = {
        "GetLayerVersion": "Note this action also supports GetLayerVersionByArn API",
        "GetLayerVersionPolicy": "Note this action also supports GetLayerVersionByArn and GetFunction APIs",
        "GetFunctionConfiguration": "Note this action also supports GetThing API",
    }
    monkeypatch.setattr(iamref, "action_descriptions", lambda prefix: descriptions)
    accepted, rejected = sources._aliases.__wrapped__("lambda")
    assert {name: alias.action for name, alias in accepted.items()} == {
        "GetThing": "lambda:GetFunctionConfiguration"
    }
    assert "lambda:GetLayerVersion, lambda:GetLayerVersionPolicy" in rejected["GetLayerVersionByArn"]
    assert "is an action itself" in rejected["GetFunction"]


def test_a_spelling_two_prefixes_share_decides_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iamref, "service_prefixes", lambda: frozenset({"foo-bar", "foobar", "baz"}))
    table = sources._prefixes_by_spelling.__wrapped__()
    assert table == {"foobar": None, "baz": "baz"}


def test_every_accepted_alias_is_an_operation_botocore_knows() -> None:
    """The reference's note must name a real operation of the service, of the prefix the note is in."""
    operations: dict[str, set[str]] = {}
    for service in sources.botocore_services():
        prefix = iam_prefix(f"{service.endpoint_prefix}.amazonaws.com")
        if prefix:
            operations.setdefault(prefix, set()).update(sources.service_operations(service.name))
    found = {}
    for prefix in sorted(iamref.service_prefixes()):
        for name, alias in sources.operation_aliases(prefix).items():
            assert iamref.action_exists(alias.action), alias
            assert name in operations.get(prefix, set()), f"{alias}: no {prefix} operation {name} in botocore"
            found[name] = alias.action
    assert found["GetLayerVersionByArn"] == "lambda:GetLayerVersion"


def test_a_botocore_name_gets_its_endpoints_rules() -> None:
    # botocore's s3control is the endpoint s3-control, whose CreateBucket is S3 on Outposts' (not s3's).
    assert map_event("s3control.amazonaws.com", "CreateBucket").actions == ("s3-outposts:CreateBucket",)
    assert map_event("stepfunctions.amazonaws.com", "StartExecution").actions == ("states:StartExecution",)
    assert map_event("dynamodbstreams.amazonaws.com", "GetRecords").actions == ("dynamodb:GetRecords",)


def test_a_host_that_is_a_prefix_stays_itself() -> None:
    # botocore's opensearch is the endpoint es; the host opensearch is an IAM service of its own.
    assert sources.host_service("opensearch") is not None
    assert iam_prefix("opensearch.amazonaws.com") == "opensearch"
    assert map_event("es.amazonaws.com", "ListVersions").actions == ("es:ListVersions",)
    assert map_event("opensearch.amazonaws.com", "ListVersions").status == "unmapped"


def test_a_signing_name_of_another_namespace_is_not_taken() -> None:
    # Connect's participant API signs as execute-api, API Gateway's namespace: never execute-api:*.
    for host in ("participant.connect", "connectparticipant"):
        mapping = map_event(f"{host}.amazonaws.com", "SendMessage")
        assert (mapping.status, mapping.rule) == ("unmapped", "known-unmapped"), host
    assert iam_prefix("connectparticipant.amazonaws.com") is None


@pytest.mark.parametrize(
    ("source", "name", "said"),
    [
        ("iotevents.amazonaws.com", "CreateInput", "signs as 'iotevents'"),
        ("data.iotevents.amazonaws.com", "BatchPutMessage", "signs as 'ioteventsdata'"),
        ("application-cost-profiler.amazonaws.com", "PutReportDefinition", "no IAM service prefix"),
        ("nosuchservice.amazonaws.com", "GetObject", "no IAM service prefix for endpoint 'nosuchservice'"),
    ],
)
def test_a_model_without_an_iam_service_is_unmapped_with_why(source: str, name: str, said: str) -> None:
    mapping = map_event(source, name)
    assert (mapping.status, mapping.rule, mapping.actions) == ("unmapped", "unknown-service", ())
    if sources.host_service(event_host(source)) is None:
        # botocore releases drop retired services' models (1.44 has no iotevents): then only the prefix is
        # missing, and the reason says that much
        said = "no IAM service prefix"
    assert said in mapping.reason


def test_portal_calls_keep_their_no_permission_rules() -> None:
    # botocore's sso is the access portal (signs as awsssoportal, no IAM service): no prefix, no permission.
    assert sources.host_service("portal.sso") is not None
    assert iam_prefix("portal.sso.amazonaws.com") is None
    assert map_event("portal.sso.amazonaws.com", "ListAccounts").status == "no_permission"


def test_overrides_agree_with_what_the_models_say() -> None:
    """Each checked override agrees with the derivation, or covers a model the derivation cannot read."""
    by_endpoint: dict[str, list[sources.BotocoreService]] = {}
    for service in sources.botocore_services():
        by_endpoint.setdefault(service.endpoint_prefix, []).append(service)
    agreed, silent = set(), set()
    for host, prefix in action_rules.HOST_PREFIXES.items():
        for service in by_endpoint.get(host, ()):
            derived, why = sources._model_prefix(service)
            assert derived in (None, prefix), (host, prefix, derived, why)
            (agreed if derived else silent).add(host)
    # Models with no usable signing name (mturk-requester, tagging ...) are what overrides are for.
    assert {"mturk-requester", "tagging", "cloudcontrolapi", "data-ats.iot"} <= silent
    assert len(agreed) > 50 and {"monitoring", "pinpoint", "email", "streams.dynamodb"} <= agreed


def test_every_host_botocore_names_maps_to_existing_actions_or_nothing() -> None:
    for service in sources.botocore_services():
        for host in {service.endpoint_prefix, service.name}:
            prefix = iam_prefix(f"{host}.amazonaws.com")
            assert prefix is None or iamref.service_exists(prefix), host
            for operation in sorted(sources.service_operations(service.name)):
                mapping = map_event(f"{host}.amazonaws.com", operation)
                assert all(iamref.action_exists(a) for a in mapping.actions), (host, operation, mapping)
                assert mapping.reason, (host, operation)
                assert bool(mapping.actions) == (mapping.status == "mapped"), (host, operation, mapping)


def test_coverage_counts_the_aliases() -> None:
    report = coverage([("lambda.amazonaws.com", "GetLayerVersionByArn"), ("lambda.amazonaws.com", "Nope")])
    assert (report.mapped, report.unmapped) == (1, 1)
    assert report.by_rule["reference-alias"] == 1


def test_loading_is_lazy() -> None:
    """Importing, and mapping events of hosts that are prefixes or overrides, read no botocore model."""
    code = (
        "import sys\n"
        "from trailsmith.actions import mapping, sources\n"
        "assert 'botocore' not in sys.modules\n"
        "pairs = [('s3.amazonaws.com', 'GetObject'), ('monitoring.amazonaws.com', 'GetMetricData'),\n"
        "         ('lambda.amazonaws.com', 'GetLayerVersionByArn')]\n"
        "for source, name in pairs:\n"
        "    assert mapping.map_event(source, name).status == 'mapped'\n"
        "assert sources.botocore_services.cache_info().currsize == 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _realdata_events() -> list[dict]:
    events: list[dict] = []
    for path in sorted(REALDATA.rglob("*.json")):
        text = path.read_text(encoding="utf-8")
        if text.lstrip().startswith("["):
            events.extend(json.loads(text))
        else:
            events.extend(json.loads(line) for line in text.splitlines() if line.strip())
    return events


@pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real captures absent at {REALDATA} (a clone elsewhere)")
def test_no_api_call_of_the_real_captures_is_unmapped() -> None:
    events = _realdata_events()
    kinds: dict[str, set[tuple[str, str]]] = {}
    for event in events:
        pair = (event["eventSource"], event["eventName"])
        mapping = map_event(*pair)
        if event.get("eventType") == "AwsApiCall":
            assert mapping.status != "unmapped", (pair, mapping)
        kinds.setdefault(str(event.get("eventType")), set()).add(pair)
    # The one event that is not an API call is a console sign-in; it needs no permission.
    assert set(kinds) == {"AwsApiCall", "AwsConsoleSignIn"}
    assert kinds["AwsConsoleSignIn"] == {("signin.amazonaws.com", "ConsoleLogin")}
    assert map_event("signin.amazonaws.com", "ConsoleLogin").status == "no_permission"
