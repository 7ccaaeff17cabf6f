"""``--resources fit``, the default: exact ARNs while a principal's documents fit what IAM lets one role
attach, widened (most numerous first, by the ``generalize`` rules) only as much as needed beyond that."""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path

import pytest

import trailsmith.policy.generator as policy
from helpers.events import ACCOUNT
from helpers.policy_support import LAKE, lake_warehouse
from trailsmith.policy.arns import covers
from trailsmith.policy.generalize import fit, generalize, widenings
from trailsmith.policy.model import (
    DEFAULT_ATTACHED_POLICIES,
    DEFAULT_RESOURCE_MODE,
    MAX_DOCUMENT_CHARS,
    RESOURCE_MODES,
    PrincipalPolicy,
)
from trailsmith.policy.render import explain

ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci/Builder"
OBJECT = "arn:${Partition}:s3:::${BucketName}/${ObjectName}"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """See :func:`helpers.policy_support.lake_warehouse`."""
    return lake_warehouse(tmp_path_factory.mktemp("lake"))


@pytest.fixture(scope="module")
def policies(lake: Path) -> dict[str, PrincipalPolicy]:
    started = time.perf_counter()
    [fitted] = policy.generate(lake)
    seconds = time.perf_counter() - started
    [exact] = policy.generate(lake, resources="exact")
    [wide] = policy.generate(lake, resources="generalize")
    assert seconds < 60, f"fit took {seconds:.1f}s"
    return {"fit": fitted, "exact": exact, "generalize": wide}


def needed(p: PrincipalPolicy) -> set[tuple[str, str]]:
    return {(a, r) for s in p.statements for a in s.actions for r in s.resources}


def test_fit_is_the_default_mode() -> None:
    assert DEFAULT_RESOURCE_MODE == "fit" and RESOURCE_MODES[0] == "fit"
    assert inspect.signature(policy.generate).parameters["resources"].default == "fit"
    assert inspect.signature(policy.policies_from_usage).parameters["resources"].default == "fit"
    assert {"exact", "generalize", "service"} <= set(RESOURCE_MODES)


def test_thousands_of_objects_end_in_documents_one_role_can_attach(
    policies: dict[str, PrincipalPolicy],
) -> None:
    exact, fitted = policies["exact"], policies["fit"]
    assert fitted.resources_mode == "fit"
    assert len(exact.documents) > DEFAULT_ATTACHED_POLICIES  # the problem: 80 documents
    assert len(fitted.documents) <= DEFAULT_ATTACHED_POLICIES
    assert all(d.size <= MAX_DOCUMENT_CHARS for d in fitted.documents)
    assert fitted.notes == ()
    assert fitted.actions == exact.actions
    # never a lost permission: every exact ARN is allowed by a statement of its own action
    for action, arn in sorted(needed(exact)):
        assert any(
            action in s.actions and any(covers(r, arn) for r in s.resources) for s in fitted.statements
        ), f"{action} on {arn} lost"


def test_fit_widens_the_most_numerous_first_and_only_as_much_as_needed(
    policies: dict[str, PrincipalPolicy],
) -> None:
    exact, fitted, wide = policies["exact"], policies["fit"], policies["generalize"]
    first = fitted.widened[0]
    assert first.pattern == f"arn:aws:s3:::{LAKE}/curated/orders/*" and first.arns == 1500
    assert first.actions == ("s3:PutObject",)
    # some hourly folders stay exact ARNs: widened only until it fits, narrower than generalize
    kept = needed(fitted) & needed(exact)
    assert any(r.startswith(f"arn:aws:s3:::{LAKE}/raw/") for _, r in kept)
    assert {
        ("s3:GetObject", f"arn:aws:s3:::app-config-eu/{s}/settings.json") for s in ("api", "jobs")
    } <= kept
    assert len(needed(wide)) < len(needed(fitted)) < len(needed(exact))


def test_every_widening_is_listed_with_what_it_replaced(policies: dict[str, PrincipalPolicy]) -> None:
    exact, fitted = policies["exact"], policies["fit"]
    granted = needed(fitted)
    listed = {w.pattern: w for w in fitted.widened}
    for action, resource in granted - needed(exact):  # every resource that is not an exact ARN
        assert resource in listed and action in listed[resource].actions
    for widening in fitted.widened:
        replaced = {
            arn for a, arn in needed(exact) if a in widening.actions and covers(widening.pattern, arn)
        }
        assert widening.arns == len(replaced) > 0
        assert "directory rule" in widening.rule
    data = json.loads(json.dumps(fitted.explanation()))
    assert data["resources_mode"] == "fit"
    assert data["widened"][0] == {
        "pattern": f"arn:aws:s3:::{LAKE}/curated/orders/*",
        "actions": ["s3:PutObject"],
        "arns": 1500,
        "rule": "directory rule, 3 or more",
    }
    assert len(data["widened"]) == len(fitted.widened)
    text = explain(fitted)
    assert f"widened {len(fitted.widened)} patterns" in text
    assert f"1,500 ARNs -> arn:aws:s3:::{LAKE}/curated/orders/* for s3:PutObject" in text


def test_a_principal_that_fits_is_exactly_its_exact_policy(sample_warehouse: Path) -> None:
    exact = policy.generate(sample_warehouse, resources="exact")
    fitted = policy.generate(sample_warehouse)
    assert [p.principal for p in fitted] == [p.principal for p in exact]
    for e, f in zip(exact, fitted, strict=True):
        assert f.to_json() == e.to_json(), e.principal
        assert f.widened == () and f.resources_mode == "fit"
        assert [s.notes for s in f.statements] == [s.notes for s in e.statements]


def test_when_even_every_rule_does_not_fit_the_widest_result_is_kept_with_a_warning(
    lake: Path, policies: dict[str, PrincipalPolicy], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy, "DEFAULT_ATTACHED_POLICIES", 0)  # a quota nothing meets
    [fitted] = policy.generate(lake)
    assert fitted.to_json() == policies["generalize"].to_json()
    assert len(fitted.notes) == 1 and "even with every bounded generalisation" in fitted.notes[0]
    assert "nothing was left out" in fitted.notes[0]
    for action, arn in needed(policies["exact"]):
        assert any(
            action in s.actions and any(covers(r, arn) for r in s.resources) for s in fitted.statements
        )


def test_the_same_rules_serve_generalize_and_fit() -> None:
    keys = [f"arn:aws:s3:::b/raw/{d}/part-{i}" for d in ("orders", "clicks", "items") for i in range(5)]
    keys += [f"arn:aws:s3:::b/logs/{i:03d}" for i in range(12)]
    pairs = [(k, OBJECT) for k in keys]
    widest, _ = generalize(pairs)
    everything, fits = fit({"s3:GetObject": pairs}, lambda _: False)
    assert not fits and sorted(everything.current()["s3:GetObject"]) == widest
    # a quota of at most 12 resources: the most numerous first (logs/, 12 objects), then one folder of 5
    small, fits = fit({"s3:GetObject": pairs}, lambda r: len(r["s3:GetObject"]) <= 12)
    resources = small.current()["s3:GetObject"]
    assert fits and "arn:aws:s3:::b/logs/*" in resources and len(resources) == 12
    assert all(any(covers(r, k) for r in resources) for k in keys)
    untouched, fits = fit({"s3:GetObject": pairs}, lambda _: True)
    assert fits and untouched.current()["s3:GetObject"] == sorted(keys)
    assert [s.pattern for s in widenings(dict(pairs))][:1] == ["arn:aws:s3:::b/logs/*"]
