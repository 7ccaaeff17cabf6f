"""The fixed folders install as one package, ``trailsmith``, and nothing generic leaks into site-packages."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import importlib.util

import pytest

import trailsmith
from helpers.paths import ROOT
from trailsmith.warehouse.schema import DOCS, EVENTS_SCHEMA, describe


def test_only_trailsmith_is_importable() -> None:
    # python-hcl2 installs a top-level ``cli`` of its own: a generic name may exist, just never ours
    owners = importlib.metadata.packages_distributions()
    for generic in ("engine", "cli", "queries", "benchmarks"):
        spec = importlib.util.find_spec(generic)
        assert spec is None or not str(spec.origin).startswith(str(ROOT)), generic
        assert "trailsmith" not in owners.get(generic, []), generic
    for name in ("trailsmith", "trailsmith.cli", "trailsmith.queries", "trailsmith.synth"):
        assert importlib.util.find_spec(name) is not None, name


def test_version_in_one_place() -> None:
    assert importlib.metadata.version("trailsmith") == trailsmith.__version__


def test_typed_and_console_script() -> None:
    assert importlib.resources.files("trailsmith").joinpath("py.typed").is_file()
    [script] = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "trailsmith"]
    assert script.value == "trailsmith.cli.app:main"


def test_every_column_is_documented() -> None:
    described = {name for name, _, _ in describe()}
    assert described == set(EVENTS_SCHEMA.names) | {"eventDate"}
    assert set(DOCS) == described
    assert all(len(text) > 10 for text in DOCS.values())


def test_every_package_folder_is_installed() -> None:
    """A folder with an ``__init__.py`` that pyproject does not list would be left out of the wheel: the
    editable install used by the tests still finds it, so only a built package would show the gap."""
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11 or newer reads pyproject.toml")
    from helpers.paths import ROOT

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {"engine": "trailsmith", "cli": "trailsmith.cli", "queries": "trailsmith.queries"}
    found = {
        ".".join([package, *init.parent.relative_to(ROOT / folder).parts])
        for folder, package in folders.items()
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert found <= listed, f"package folders pyproject does not list: {sorted(found - listed)}"
    assert all(
        (ROOT / top / rest.replace(".", "/")).is_dir()
        for name in listed
        for top, rest in [_split(name, folders)]
    ), "pyproject lists a package with no folder"


def _split(package: str, folders: dict[str, str]) -> tuple[str, str]:
    """(source folder, dotted rest) of an installed package name."""
    for folder, top in sorted(folders.items(), key=lambda item: -len(item[1])):
        if package == top or package.startswith(top + "."):
            return folder, package[len(top) + 1 :]
    raise AssertionError(f"{package} is in none of the source folders")
