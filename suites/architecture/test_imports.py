"""The shape of the code: no import cycle inside `fixtures` or `policies`, no oversized
module in `fixtures` (docs/architecture.md).

The import graph is read from the source (AST), not from a running interpreter, so every
import counts wherever it stands: at the top, inside a function, under `if TYPE_CHECKING:`.
Importing `a.b.c` also runs the `__init__` of `a` and `a.b`, so it is an edge to those
packages too (unless the importer lives inside them: a package may import its own parts).
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 600


def modules_of(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` (a directory under `root`) by dotted name."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imported(module: str, path: Path) -> Iterator[str]:
    """The dotted names a module imports (relative imports resolved), anywhere in it."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}"  # a submodule, or a name in `base`
            yield base


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """module -> the modules of the same package its imports run."""
    modules = modules_of(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        own = set(_ancestors(name)) | ({name} if path.name == "__init__.py" else set())
        for target in _imported(name, path):
            if target not in modules:
                continue
            for runs in [*_ancestors(target), target]:
                if runs in modules and runs != name and runs not in own:
                    graph[name].add(runs)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> b -> ... -> a) per strongly connected component that has one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_a_cycle(graph, component) for component in components]


def _a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    return component  # pragma: no cover - a strongly connected component has a cycle


def describe(found: list[list[str]]) -> str:
    return "; ".join(" -> ".join(cycle) for cycle in found)


def part(module: str) -> str:
    """The part a module belongs to: `fixtures.lab.api` -> `fixtures.lab`."""
    return ".".join(module.split(".")[:2])


def _parameters() -> list[str]:
    parts = sorted({part(m) for m in modules_of(REPO_ROOT, "fixtures")} - {"fixtures"})
    parts.append("policies")
    return parts


@pytest.mark.parametrize("package", _parameters())
def test_no_import_cycle(package: str) -> None:
    """No cycle among the modules of `policies` or of one part of `fixtures` (a cycle
    between parts is the next test's)."""
    top = package.split(".")[0]
    found = [
        cycle
        for cycle in cycles(import_graph(REPO_ROOT, top))
        if package == top or all(part(m) == package for m in cycle)
    ]
    assert not found, f"{package} has {len(found)} import cycle(s): {describe(found)}"


def parts_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The same graph between the package's parts (`fixtures.lab.api` -> `fixtures.lab`)."""
    parts: dict[str, set[str]] = {part(m): set() for m in graph}
    for module, targets in graph.items():
        parts[part(module)] |= {part(t) for t in targets if part(t) != part(module)}
    return parts


def test_no_cycle_between_the_parts_of_fixtures() -> None:
    """The layers of docs/architecture.md: core at the bottom, labctl and the tiers' plugins
    at the top; a part never imports one that imports it back, even through other modules."""
    found = cycles(parts_graph(import_graph(REPO_ROOT, "fixtures")))
    assert not found, f"fixtures' parts import each other in a circle: {describe(found)}"


def test_no_module_over_600_lines_in_fixtures() -> None:
    sizes = {
        name: len(path.read_text().splitlines())
        for name, path in modules_of(REPO_ROOT, "fixtures").items()
    }
    over = {name: lines for name, lines in sorted(sizes.items()) if lines > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines (split them by concern): {over}"


# ---- the checker itself ---------------------------------------------------------------------


# name -> (the files of a package `pkg`, the cycles the checker must report)
SYNTHETIC: dict[str, tuple[dict[str, str], str]] = {
    "a cycle through a function-level and a TYPE_CHECKING import": (
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "def late():\n    from pkg.c import thing\n",
            "pkg/c.py": "import typing\nif typing.TYPE_CHECKING:\n    from . import a\n",
            "pkg/d.py": "import pkg.a\n",
        },
        "pkg.a -> pkg.b -> pkg.c -> pkg.a",
    ),
    # `import pkg.sub.x` runs pkg/sub/__init__.py; if that imports a module that imports
    # pkg.sub.x from outside pkg.sub, the import fails at run time.
    "a package init that imports back": (
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "from pkg import user\n",
            "pkg/sub/x.py": "",
            "pkg/user.py": "from pkg.sub.x import *\n",
        },
        "pkg.sub -> pkg.user -> pkg.sub",
    ),
    "layers without a cycle": (
        {
            "pkg/__init__.py": "",
            "pkg/core/__init__.py": "",
            "pkg/core/tools.py": "import os\n",
            "pkg/lab/__init__.py": "",
            "pkg/lab/layout.py": "from pkg.core import tools\n",
            "pkg/lab/up.py": "from . import layout\nfrom ..core.tools import os\n",
        },
        "",
    ),
}


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.mark.parametrize("case", SYNTHETIC)
def test_the_checker_names_the_cycles_of_a_synthetic_package(case: str, tmp_path: Path) -> None:
    files, expected = SYNTHETIC[case]
    assert describe(cycles(import_graph(_package(tmp_path, files), "pkg"))) == expected


def test_relative_imports_and_parent_packages_are_edges(tmp_path: Path) -> None:
    files, _ = SYNTHETIC["layers without a cycle"]
    graph = import_graph(_package(tmp_path, files), "pkg")
    assert graph["pkg.lab.up"] == {"pkg.lab.layout", "pkg.core", "pkg.core.tools"}
