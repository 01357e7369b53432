"""iamfit's imports run down the layers only, and no two packages import each other.

The graph is built from the source (``ast``), not from ``sys.modules``: every ``import iamfit...`` and
``from iamfit... import ...`` counts, at module level, inside functions (the lazy imports that keep
``iamfit --help`` fast) and under ``if TYPE_CHECKING:`` (a type-only import still couples the two layers, and
``from __future__ import annotations`` makes the cycle it would close invisible at run time, not absent).
The one dynamic import, ``iamfit.cli.LazyGroup`` loading ``iamfit.cli.<command>`` by name, stays inside
``iamfit.cli``.

The layers, lowest first, are the table in docs/contributing.md ("Layers"); this test checks the two agree.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRIBUTING = ROOT / "docs" / "contributing.md"

# Lowest first. A module may import from its own layer and any layer below it, never from a layer above it.
# Within a layer the packages must not form a cycle (test_no_cycle_between_packages).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("leaves", ("iamfit", "iamfit.errors", "iamfit.principals")),
    ("foundation", ("iamfit.files", "iamfit.needs", "iamfit.outputs", "iamfit.findings")),
    ("knowledge", ("iamfit.knowledge",)),
    ("evidence", ("iamfit.evidence",)),
    ("policy", ("iamfit.policy",)),
    ("service", ("iamfit.service",)),
    ("predict", ("iamfit.predict",)),
    ("aws", ("iamfit.aws",)),
    ("targets", ("iamfit.targets",)),
    ("jobs", ("iamfit.generate", "iamfit.journal", "iamfit.discover", "iamfit.by_hand", "iamfit.check",
              "iamfit.audit", "iamfit.replay", "iamfit.discover_run", "iamfit.check_run", "iamfit.observe")),
    ("report", ("iamfit.report",)),
    ("api", ("iamfit.api",)),
    ("cli", ("iamfit.cli", "iamfit.__main__")),
)

# Packages that import nothing of iamfit outside themselves.
SELF_CONTAINED = ("iamfit.knowledge", "iamfit.errors", "iamfit.principals")


@functools.cache
def modules(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for path in sorted((root / "iamfit").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


@functools.cache
def import_graph(root: Path = ROOT) -> nx.DiGraph:
    """Module → module, one edge per imported iamfit module, with the line numbers as ``lines``."""
    mods = modules(root)

    def resolve(name: str) -> str | None:
        while name not in mods:
            if "." not in name:
                return None
            name = name.rsplit(".", 1)[0]
        return name

    graph = nx.DiGraph()
    graph.add_nodes_from(mods)
    for module, path in mods.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                # ``from iamfit import files`` imports the module iamfit.files; ``from iamfit.x import name`` iamfit.x.
                targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in mods else origin for a in node.names]
            for target in targets:
                resolved = resolve(target) if target.split(".")[0] == "iamfit" else None
                if resolved and resolved != module:
                    lines = graph.edges[module, resolved]["lines"] if graph.has_edge(module, resolved) else []
                    graph.add_edge(module, resolved, lines=[*lines, f"{path.relative_to(root)}:{node.lineno}"])
    return graph


def package_of(module: str) -> str:
    """The unit of layering: a top-level module (iamfit.check) or a top-level package (iamfit.targets)."""
    return ".".join(module.split(".")[:2])


def layer_of(package: str) -> int:
    for index, (_, members) in enumerate(LAYERS):
        if package in members:
            return index
    raise AssertionError(f"{package} is in no layer: add it to LAYERS here and to the table in docs/contributing.md")


def package_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for source, target, data in import_graph().edges(data=True):
        a, b = package_of(source), package_of(target)
        if a != b:
            lines = graph.edges[a, b]["lines"] if graph.has_edge(a, b) else []
            graph.add_edge(a, b, lines=[*lines, *data["lines"]])
    return graph


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The parser is the test's premise: lazy, TYPE_CHECKING, relative and ``from iamfit import module`` imports."""
    sources = {
        "iamfit/__init__.py": "",
        "iamfit/errors.py": "",
        "iamfit/files.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from iamfit.jobs import run\n",
        "iamfit/knowledge/__init__.py": "",
        "iamfit/knowledge/facts.py": "from . import table\nfrom .table import ROWS\nimport os\n",
        "iamfit/knowledge/table.py": "def rows():\n    from iamfit.knowledge.facts import x\n",
        "iamfit/jobs.py": "import iamfit.knowledge.facts as facts\nfrom iamfit import errors, files\n"
                          "def run():\n    from iamfit.knowledge import table\n",
    }
    for name, text in sources.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert sorted(graph.edges()) == [
        ("iamfit.files", "iamfit.jobs"),
        ("iamfit.jobs", "iamfit.errors"),
        ("iamfit.jobs", "iamfit.files"),
        ("iamfit.jobs", "iamfit.knowledge.facts"),
        ("iamfit.jobs", "iamfit.knowledge.table"),
        ("iamfit.knowledge.facts", "iamfit.knowledge.table"),
        ("iamfit.knowledge.table", "iamfit.knowledge.facts"),
    ]
    assert graph.edges["iamfit.files", "iamfit.jobs"]["lines"] == ["iamfit/files.py:3"]
    assert import_graph().number_of_edges() > 200


def test_every_package_is_in_a_layer() -> None:
    for package in sorted({package_of(m) for m in modules()}):
        layer_of(package)


def test_no_import_runs_up_the_layers() -> None:
    upward = [
        f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]}): {', '.join(data['lines'])}"
        for a, b, data in sorted(package_graph().edges(data=True))
        if layer_of(b) > layer_of(a)
    ]
    assert upward == []


def test_no_cycle_between_packages() -> None:
    graph = package_graph()
    assert sorted(sorted(c) for c in nx.simple_cycles(graph)) == []
    assert nx.is_directed_acyclic_graph(graph)


def test_no_cycle_between_subpackages() -> None:
    """Inside a package, its subpackages (targets.aws and targets.sandbox, evidence.trail) do not cycle either."""
    mods = modules()
    graph = nx.DiGraph()
    for source, target in import_graph().edges():
        a, b = (m if mods[m].name == "__init__.py" else m.rpartition(".")[0] for m in (source, target))
        if a != b and not (a.startswith(b + ".") or b.startswith(a + ".")):
            graph.add_edge(a, b)
    assert sorted(sorted(c) for c in nx.simple_cycles(graph)) == []


@pytest.mark.parametrize("package", SELF_CONTAINED)
def test_self_contained_packages_import_nothing_else_of_iamfit(package: str) -> None:
    """knowledge/ is pure AWS facts: what turns a Service into needs lives in predict/, above service/."""
    outside = sorted(
        f"{a} imports {b}" for a, b in import_graph().edges() if package_of(a) == package and package_of(b) != package
    )
    assert outside == []


def test_contributing_states_the_same_layers() -> None:
    text = CONTRIBUTING.read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"\|\s*\d+\s*\|", line)]
    documented = []
    for row in rows:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        documented.append((cells[1], tuple(re.findall(r"`([\w.]+)`", cells[2]))))
    assert list(reversed(documented)) == [(name, members) for name, members in LAYERS]
