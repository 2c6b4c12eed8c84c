"""
The package's layout holds what docs/architecture.md says: sub-packages by concern, no import
circle at any level, a light top level, and example DAGs that use the public surface only.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from tests.support.airflow_helpers import REPO

PACKAGE = "airflow_provider_onemin"
ROOT = REPO / PACKAGE
#: What a DAG may import of this provider (docs/architecture.md, "Only the public modules").
PUBLIC = (
    f"{PACKAGE}.operators.background_replacer",
    f"{PACKAGE}.operators.background_remover",
    f"{PACKAGE}.operators.review",
    f"{PACKAGE}.operators.renditions",
    f"{PACKAGE}.hooks.onemin",
    f"{PACKAGE}.links",
    f"{PACKAGE}.pipeline",
    f"{PACKAGE}.exceptions",
    f"{PACKAGE}.emulator",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in ROOT.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Every provider module ``path`` imports: top-level, inside functions and type-only alike."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith(PACKAGE):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith(PACKAGE))
    return found


def _resolve(name: str) -> str:
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


EDGES = {(name, _resolve(target)) for name, path in MODULES.items() for target in _imports(path)}


def _circles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        if source != target:
            graph[source].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def _sub_package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (ROOT / parts[1]).is_dir()) else "<top>"


def test_no_module_imports_another_in_a_circle() -> None:
    assert _circles(EDGES) == []


def test_no_sub_package_imports_another_in_a_circle() -> None:
    packages = {(_sub_package(a), _sub_package(b)) for a, b in EDGES}
    assert _circles({(a, b) for a, b in packages if a != b}) == []


def test_at_most_eight_modules_stay_at_the_top_level() -> None:
    loose = sorted(path.name for path in ROOT.glob("*.py"))
    assert len(loose) <= 8, loose


def test_each_sub_package_says_what_lives_there_and_what_it_may_import() -> None:
    for init in sorted(ROOT.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert doc, f"{init.relative_to(REPO)} has no docstring"
        if init.parent.name != "emulator":
            assert re.search(r"import", doc), f"{init.relative_to(REPO)} does not say what it may import"


def test_the_tree_matches_docs_architecture() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    table = text.split("## The parts", 1)[1].split("##", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)/`", table, flags=re.MULTILINE))
    actual = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert documented == actual
    for module in re.findall(r"`([a-z_]+/[a-z_]+\.py)`", text):
        exists = (ROOT / module).is_file() or (REPO / module).is_file()
        assert exists, f"docs/architecture.md names {module}, which does not exist"


def test_the_core_never_imports_upwards() -> None:
    """The client, schemas and storage build on nothing above them (docs/architecture.md)."""
    below = {"hooks": {"hooks", "schemas", "<top>"}, "schemas": {"schemas", "<top>"}}
    below["storage"] = {"storage", *below["hooks"]}
    for source, target in EDGES:
        allowed = below.get(_sub_package(source))
        if allowed is not None:
            assert _sub_package(target) in allowed, f"{source} imports {target}"


@pytest.mark.parametrize("dag_file", sorted((REPO / "dags").glob("*.py")), ids=lambda path: path.name)
def test_example_dags_import_only_the_public_surface(dag_file: Path) -> None:
    for name in _imports(dag_file):
        assert name.startswith(PUBLIC), f"{dag_file.name} imports {name}, which is not public API"
