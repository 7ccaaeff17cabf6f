"""The house's rules, read from the code itself: which package may import which, and no import cycles.

Every ``import`` counts, at the top of a module or inside a function (a lazy import still ties the two
modules together); only imports under ``if TYPE_CHECKING:`` do not, since they never run. The one way to
reach upward is by name through a registry (``trailsmith.engines.BACKENDS``), which the engine dispatcher
uses to load a backend when it is first asked for.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.paths import ROOT

#: Package (or module) -> the packages it may import besides itself. The longest matching name applies.
#: The data flows ingestion -> warehouse <- sql <- policy <- iam; the engines sit on top of all of them.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "trailsmith._version": frozenset(),
    "trailsmith.errors": frozenset(),
    "trailsmith.files": frozenset(),
    "trailsmith.engines": frozenset({"trailsmith.errors"}),
    "trailsmith.actions": frozenset({"trailsmith.errors"}),
    "trailsmith.warehouse": frozenset({"trailsmith.errors"}),
    "trailsmith.ingestion": frozenset({"trailsmith.warehouse", "trailsmith.errors", "trailsmith._version"}),
    "trailsmith.sql": frozenset({"trailsmith.warehouse", "trailsmith.actions", "trailsmith.errors"}),
    "trailsmith.policy": frozenset(
        {
            "trailsmith.sql",
            "trailsmith.actions",
            "trailsmith.warehouse",
            "trailsmith.engines",
            "trailsmith.errors",
        }
    ),
    "trailsmith.iam": frozenset(
        {
            "trailsmith.policy",
            "trailsmith.sql",
            "trailsmith.actions",
            "trailsmith.warehouse",
            "trailsmith.engines",
            "trailsmith.errors",
        }
    ),
    "trailsmith.check": frozenset(
        {
            "trailsmith.iam",
            "trailsmith.policy",
            "trailsmith.sql",
            "trailsmith.actions",
            "trailsmith.warehouse",
            "trailsmith.engines",
            "trailsmith.errors",
            "trailsmith.files",
            "trailsmith._version",
        }
    ),
    "trailsmith.report": frozenset(
        {
            "trailsmith.sql",
            "trailsmith.policy",
            "trailsmith.iam",
            "trailsmith.check",
            "trailsmith.actions",
            "trailsmith.warehouse",
            "trailsmith.engines",
            "trailsmith.errors",
            "trailsmith.files",
            "trailsmith._version",
        }
    ),
    "trailsmith.engines.duckdb": frozenset(
        {
            "trailsmith.ingestion",
            "trailsmith.sql",
            "trailsmith.policy",
            "trailsmith.engines",
            "trailsmith.errors",
        }
    ),
    "trailsmith.spark": frozenset(
        {
            "trailsmith.ingestion",
            "trailsmith.warehouse",
            "trailsmith.sql",
            "trailsmith.actions",
            "trailsmith.policy",
            "trailsmith.engines",
            "trailsmith.errors",
        }
    ),
    "trailsmith.synth": frozenset({"trailsmith.errors"}),
    "trailsmith.queries": frozenset(),
    # the public API: ingest and the query layer, imported lazily by the package itself
    "trailsmith": frozenset(
        {"trailsmith.ingestion", "trailsmith.sql", "trailsmith.errors", "trailsmith._version"}
    ),
    # the CLI may call any layer, but reaches Spark only through the engine dispatcher
    "trailsmith.cli": frozenset(
        {
            "trailsmith",
            "trailsmith.engines",
            "trailsmith.ingestion",
            "trailsmith.warehouse",
            "trailsmith.sql",
            "trailsmith.actions",
            "trailsmith.policy",
            "trailsmith.iam",
            "trailsmith.check",
            "trailsmith.report",
            "trailsmith.synth",
            "trailsmith.errors",
            "trailsmith._version",
        }
    ),
}

FOLDERS = {
    "trailsmith": ROOT / "engine",
    "trailsmith.cli": ROOT / "cli",
    "trailsmith.queries": ROOT / "queries",
}


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name, from the source folders."""
    found: dict[str, Path] = {}
    for package, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            if package == "trailsmith" and parts and parts[0] in ("cli", "queries"):
                continue
            found[name] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(name: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """(imported trailsmith module, line) for every import of ``path`` that runs."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    yield from visit(other)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - child.level + 1], base])
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    yield (full if full in known else base), child.lineno
            yield from visit(child)

    for target, line in visit(ast.parse(path.read_text(encoding="utf-8"))):
        if target == "trailsmith" or target.startswith("trailsmith."):
            yield target, line


def _rule(name: str) -> str:
    return max((key for key in MAY_IMPORT if name == key or name.startswith(key + ".")), key=len)


#: Modules every package may use: the foundation.
FOUNDATION = frozenset({"trailsmith.errors", "trailsmith.files", "trailsmith._version"})


def _allowed(source: str, target: str) -> bool:
    rule = _rule(source)
    if target in FOUNDATION and not source.startswith(tuple(FOUNDATION)):
        return True
    if target == rule or target.startswith(rule + "."):
        return True
    return any(
        target == allowed or target.startswith(allowed + ".")
        for allowed in MAY_IMPORT[rule]
        if allowed != "trailsmith"
    ) or ("trailsmith" in MAY_IMPORT[rule] and target == "trailsmith")


def graph() -> dict[str, dict[str, int]]:
    found = modules()
    known = set(found)
    edges: dict[str, dict[str, int]] = {}
    for name, path in found.items():
        edges[name] = {}
        for target, line in imports(name, path, known):
            while target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target != name:
                edges[name].setdefault(target, line)
    return edges


def test_every_module_has_a_rule() -> None:
    assert all(_rule(name) for name in modules())
    assert len(modules()) > 80


def test_imports_point_one_way() -> None:
    wrong = [
        f"{modules()[source].relative_to(ROOT)}:{line}: {source} imports {target}"
        for source, targets in graph().items()
        for target, line in targets.items()
        if not _allowed(source, target)
    ]
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_only_the_dispatcher_reaches_spark() -> None:
    from trailsmith.engines import BACKENDS

    outside = [
        (source, target)
        for source, targets in graph().items()
        for target in targets
        if target.startswith("trailsmith.spark") and not source.startswith("trailsmith.spark")
    ]
    assert outside == []
    assert BACKENDS["spark"] == "trailsmith.spark.backend"
    assert importlib.util.find_spec(BACKENDS["spark"]) is not None


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Every cycle a depth-first walk meets, each as the path that closes it."""
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in edges.get(node, {}):
            if state.get(target) == 1:
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                walk(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            walk(node)
    return found


def test_no_import_cycles() -> None:
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_a_cycle_is_found() -> None:
    toy = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert cycles(toy) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("trailsmith.sql.db", "trailsmith.warehouse.schema", True),
        ("trailsmith.sql.db", "trailsmith.ingestion.driver", False),
        ("trailsmith.warehouse.commit", "trailsmith.ingestion.worker", False),
        ("trailsmith.policy.usage", "trailsmith.spark.session", False),
        ("trailsmith.engines", "trailsmith.policy.source", False),
        ("trailsmith.engines.duckdb", "trailsmith.policy.source", True),
        ("trailsmith.cli.query", "trailsmith.spark.saved", False),
    ],
)
def test_the_rule_itself(source: str, target: str, allowed: bool) -> None:
    assert _allowed(source, target) is allowed
