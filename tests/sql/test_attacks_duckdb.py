"""The shared attack list (``tests/sql/attacks.py``) on DuckDB, through ``trailsmith.query``: each attack is
refused in one line (or, where harmless, runs) and leaves no trace: no secret read, no canary variable
seen, nothing written, the warehouse unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest

import trailsmith
from sql.attacks import ATTACKS, Attack, check_attack, plant


@pytest.fixture(scope="module")
def warehouse(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sample warehouse that the attacks may try to damage (each test checks it is intact)."""
    copy = tmp_path_factory.mktemp("attacked") / "wh"
    shutil.copytree(sample_warehouse, copy)
    return copy


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.id for attack in ATTACKS])
def test_attack_does_no_harm_on_duckdb(
    attack: Attack, warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = plant(tmp_path, warehouse, monkeypatch)

    def run(sql: str, params: dict[str, str]) -> pa.Table:
        return trailsmith.query(sql, warehouse, params or None)

    check_attack(attack, "duckdb", planted, run)


def test_the_checks_see_harm_when_there_is_some(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same checks catch a secret that comes back: the secret reaches DuckDB as a parameter here."""
    planted = plant(tmp_path, warehouse, monkeypatch)
    leak = Attack(
        "leak", "SELECT $v AS v", "a value the caller passes", frozenset({"duckdb"}), {"v": "{secret}"}
    )
    planted.places["secret"] = planted.secret
    with pytest.raises(AssertionError, match="secret file's content came back"):
        check_attack(leak, "duckdb", planted, lambda sql, params: trailsmith.query(sql, warehouse, params))
