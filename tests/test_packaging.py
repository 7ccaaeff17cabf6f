"""The fixed folders install as one package, ``trailsmith``, and nothing generic leaks into site-packages."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import importlib.util

import trailsmith
from trailsmith.warehouse.schema import DOCS, EVENTS_SCHEMA, describe


def test_only_trailsmith_is_importable() -> None:
    for generic in ("engine", "cli", "queries", "benchmarks"):
        assert importlib.util.find_spec(generic) is None, generic
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
