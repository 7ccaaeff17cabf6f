"""Every example in a docstring runs, in every module of the package, so that none can rot.

Modules are found by walking the installed package (``pkgutil.walk_packages``); Spark's modules are
walked too (their examples that need a cluster say ``+SKIP``). A module whose examples all skip, or that
has none, passes; one that cannot be imported fails.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import trailsmith
import trailsmith.cli
import trailsmith.queries

# cli/ and queries/ are folders of their own that install inside the package: walk each
MODULES = sorted(
    {
        m.name
        for package in (trailsmith, trailsmith.cli, trailsmith.queries)
        for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        if not m.name.endswith(".__main__")  # importing it runs the command
    }
    | {"trailsmith", "trailsmith.cli", "trailsmith.queries"}
)


def test_the_walk_finds_every_package() -> None:
    for package in (
        "actions",
        "cli",
        "engines",
        "iam",
        "ingestion",
        "policy",
        "policy.extract",
        "spark",
        "sql",
    ):
        assert f"trailsmith.{package}" in MODULES
    assert len(MODULES) > 80


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if name.startswith("trailsmith.spark"):
        pytest.importorskip("pyspark", reason="pyspark is not installed")
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (see above)"
