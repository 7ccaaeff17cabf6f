"""The key test: policies for every principal of generated archives agree with the generator's ground truth.

The truth's actions come from hand-written facts in the synth catalog, never from the mapping code, so an
agreement here is evidence, not a tautology. Each holder must get exactly its needed actions, every ARN it
touched allowed (scoped wherever the truth names one), no denied call allowed, and every passed role.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import trailsmith.policy.generator as policy
from helpers.policy_support import BUSY, Synthetic, problems, synthetic
from trailsmith.actions.reference import action_exists
from trailsmith.synth import SynthConfig


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Synthetic:
    return synthetic(tmp_path_factory.mktemp("sample"), SynthConfig.sample())


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Synthetic:
    return synthetic(tmp_path_factory.mktemp("busy"), BUSY)


@pytest.mark.parametrize("name", ["sample", "busy"])
def test_exact_policies_match_the_truth(name: str, request: pytest.FixtureRequest) -> None:
    archive: Synthetic = request.getfixturevalue(name)
    policies = policy.generate(archive.warehouse)
    assert len(policies) == len(archive.truth.holders)
    assert problems(policies, archive.truth) == []
    assert all(action_exists(a) for p in policies for a in p.actions)
    assert not any(p.fallbacks for p in policies), "every synthetic call's resources are readable"


def test_generalized_policies_still_cover_the_truth_and_are_smaller(busy: Synthetic) -> None:
    exact = {p.principal: p for p in policy.generate(busy.warehouse, resources="exact")}
    wide = {p.principal: p for p in policy.generate(busy.warehouse, resources="generalize")}
    assert problems(list(wide.values()), busy.truth) == []
    sizes = [(sum(d.size for d in exact[k].documents), sum(d.size for d in wide[k].documents)) for k in exact]
    assert all(w <= e for e, w in sizes)
    assert sum(w for _, w in sizes) < sum(e for e, _ in sizes)
    notes = [n for p in wide.values() for s in p.statements for n in s.notes if n.startswith("generalized:")]
    assert any("directory rule" in n for n in notes)


def test_service_mode_keeps_the_actions_and_scopes_only_passrole(sample: Synthetic) -> None:
    policies = policy.generate(sample.warehouse, resources="service")
    assert problems(policies, sample.truth, scoped=False) == []
    for p in policies:
        for statement in p.statements:
            if statement.actions == ("iam:PassRole",):
                assert "*" not in statement.resources and statement.conditions
            else:
                assert statement.resources == ("*",)


def test_denied_and_other_left_out_calls_are_reported(sample: Synthetic) -> None:
    policies = {p.principal: p for p in policy.generate(sample.warehouse)}
    for arn, holder in sample.truth.holders.items():
        denied_events = sum(
            n for code, n in holder.errors.items() if "AccessDenied" in code or "Unauthorized" in code
        )
        reported = sum(e.evidence.events for e in policies[arn].excluded if e.reason == "denied")
        assert reported == denied_events, arn
    reasons = {e.reason for p in policies.values() for e in p.excluded}
    assert {"denied", "no-permission", "sign-in"} <= reasons


def test_calls_made_for_a_principal_by_a_service_count(sample: Synthetic) -> None:
    """cfn-exec's calls all carry invokedBy cloudformation.amazonaws.com, and Secrets Manager decrypts with
    the caller's identity: both are the principal's permissions (forward access sessions)."""
    policies = {p.principal: p for p in policy.generate(sample.warehouse)}
    cfn = [p for k, p in policies.items() if k.endswith(":role/cfn-exec")]
    assert cfn and all(p.actions for p in cfn)
    assert all(p.on_behalf_of == (("cloudformation.amazonaws.com", p.events),) for p in cfn)


def test_one_principal_and_a_window(sample: Synthetic) -> None:
    holder = next(a for a in sorted(sample.truth.holders) if a.endswith(":role/app-deployer"))
    [whole] = policy.generate(sample.warehouse, [holder])
    [first_day] = policy.generate(sample.warehouse, [holder], since="2024-08-01", until="2024-08-01")
    assert whole.principal == holder and first_day.principal == holder
    assert 0 < first_day.events < whole.events
    assert set(first_day.actions) <= set(whole.actions)


def test_permission_sets_merge_their_roles_across_accounts(sample: Synthetic) -> None:
    grouped = {p.principal: p for p in policy.generate(sample.warehouse, group="permission-set")}
    admin = grouped["permission-set/AdministratorAccess"]
    assert len(admin.members) == 3 and len({m.split(":")[4] for m in admin.members}) == 3
    roles = {p.principal: p for p in policy.generate(sample.warehouse, admin.members)}
    assert set(admin.actions) == set().union(*(set(p.actions) for p in roles.values()))
    [by_name] = policy.generate(sample.warehouse, ["AdministratorAccess"], group="permission-set")
    assert by_name.to_json() == admin.to_json()


def test_accounts_and_regions_filter(sample: Synthetic) -> None:
    account = sample.truth.accounts[0]
    only = policy.generate(sample.warehouse, accounts=[account])
    assert only and all(p.principal.split(":")[4] == account for p in only)
    west = policy.generate(sample.warehouse, regions=["eu-west-1"])
    for p in west:
        for s in p.statements:
            assert not any(":us-east-1:" in r for r in s.resources), (p.principal, s)


def test_unknown_principal_is_an_error_with_a_hint(sample: Synthetic) -> None:
    holder = sorted(sample.truth.holders)[0]
    with pytest.raises(policy.PolicyError) as caught:
        policy.generate(sample.warehouse, [holder + "x"])
    assert caught.value.hint and holder in caught.value.hint


def test_usage_rows_for_notebooks(sample: Synthetic, tmp_path: Path) -> None:
    table = policy.usage(sample.warehouse)
    assert {"principalArn", "action", "resource", "counted", "reason", "events"} <= set(table.column_names)
    counted = table.filter(table.column("counted"))
    assert set(counted.column("action").to_pylist()) >= {"s3:GetObject", "iam:PassRole"}
    frame = policy.usage_frame(sample.warehouse)
    assert frame.height == table.num_rows
