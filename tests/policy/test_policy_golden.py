"""Golden files: the policies of data/sample's principals, byte for byte.

Rewrite them with ``pytest --update-golden`` (or ``TRAILSMITH_UPDATE_GOLDEN=1``) after a deliberate change,
and read the diff: it is the review of what the change does to real policies.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

import trailsmith.policy.generator as policy
from helpers.paths import GOLDEN_POLICIES
from trailsmith.policy.render import explanation_json, terraform, unique_names


@pytest.fixture(scope="module")
def updating(request: pytest.FixtureRequest) -> bool:
    flag = False
    # The option is registered in conftest.py; without it, the environment decides.
    with contextlib.suppress(ValueError):
        flag = bool(request.config.getoption("--update-golden"))
    return flag or os.environ.get("TRAILSMITH_UPDATE_GOLDEN") == "1"


def expected_files(warehouse: Path) -> dict[str, str]:
    exact = policy.generate(warehouse)
    names = unique_names([p.principal for p in exact])
    files = {f"{names[p.principal]}.json": p.to_json() for p in exact if p.documents}
    wide = policy.generate(warehouse, resources="generalize")
    files["generalize.json"] = "".join(f"// {p.principal}\n{p.to_json()}" for p in wide if p.documents)
    sets = policy.generate(warehouse, group="permission-set")
    files["permission-sets.tf"] = "\n".join(
        terraform(p) for p in sets if p.principal.startswith("permission-set/")
    )
    deployer = next(p for p in exact if p.principal.endswith(":role/app-deployer"))
    files["app-deployer.explain.json"] = explanation_json(deployer)
    return files


def test_policies_match_the_golden_files(sample_warehouse: Path, updating: bool) -> None:
    files = expected_files(sample_warehouse)
    if updating:
        GOLDEN_POLICIES.mkdir(parents=True, exist_ok=True)
        for stale in GOLDEN_POLICIES.iterdir():
            if stale.name not in files:
                stale.unlink()
        for name, text in files.items():
            (GOLDEN_POLICIES / name).write_text(text, encoding="utf-8")
    present = sorted(p.name for p in GOLDEN_POLICIES.iterdir()) if GOLDEN_POLICIES.is_dir() else []
    assert present == sorted(files), (
        "golden files differ in names; run pytest --update-golden and review the diff"
    )
    for name, text in sorted(files.items()):
        assert (GOLDEN_POLICIES / name).read_text(encoding="utf-8") == text, (
            f"{name} changed; review, then --update-golden"
        )
