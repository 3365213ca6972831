"""No import cycles in crm/: the module graph is read from the source with `ast` and each
strongly connected component of more than one module fails the test, named as a chain.

An import inside a function counts: it hides a cycle, it does not remove it. Imports under
`if TYPE_CHECKING:` do not (they never run). `from crm.x import y` is an edge to the module
crm.x.y when there is one, else to crm.x; importing crm.x.y does not count as importing its
parent packages (Python runs their __init__ first, but that is not a dependency of ours)."""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module -> {imported module: line of the first import}
Graph = dict[str, dict[str, int]]


def modules_of(root: Path, package: str = "crm") -> dict[str, Path]:
    """Every module of `package` under `root` by its dotted name (a package by its own)."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The ids of the nodes in the bodies of `if TYPE_CHECKING:` (their `else:` runs)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.If):
            continue
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        if name == "TYPE_CHECKING":
            for statement in node.body:
                skipped.update(id(sub) for sub in ast.walk(statement))
    return skipped


def _nearest_module(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path = ROOT, package: str = "crm") -> Graph:
    modules = modules_of(root, package)
    graph: Graph = {name: {} for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = _type_checking_only(tree)
        # What a relative import is relative to: a package itself, else its module's package.
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [_nearest_module(alias.name, modules) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = here.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in modules else _nearest_module(base, modules))
            for target in targets:
                if target is not None and target != name:
                    graph[name].setdefault(target, node.lineno)
    return graph


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def a_cycle(graph: Graph, component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module, first module repeated last."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for successor in sorted(graph[node]):
            if successor not in members:
                continue
            if successor == start:
                chain = [node]
                while chain[-1] != start:
                    chain.append(came_from[chain[-1]])
                return [*reversed(chain), start]
            if successor not in came_from:
                came_from[successor] = node
                queue.append(successor)
    raise AssertionError(f"{component} is not a cycle")  # pragma: no cover


def describe(graph: Graph, modules: dict[str, Path], component: list[str]) -> str:
    """The component's modules, and one of its cycles hop by hop with the importing line."""
    chain = a_cycle(graph, component)
    hops = [
        f"    {here} ({modules[here].relative_to(ROOT)}:{graph[here][there]}) imports {there}"
        for here, there in zip(chain, chain[1:], strict=False)
    ]
    return (
        f"{len(component)} modules import each other: {', '.join(component)}\n"
        f"  for example {' -> '.join(chain)}:\n" + "\n".join(hops)
    )


def test_crm_has_no_import_cycles():
    graph = import_graph()
    modules = modules_of(ROOT)
    cycles = [describe(graph, modules, component) for component in strongly_connected(graph)]
    assert not cycles, "Import cycles in crm/ (move what both sides need below them):\n" + (
        "\n".join(cycles)
    )


def test_the_graph_sees_lazy_imports_and_ignores_type_checking_ones(tmp_path: Path):
    """The guard itself: a cycle hidden by an import inside a function is found; one that only
    type checking sees is not."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from pkg.sub import helpers\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "helpers.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg import views\nelse:\n    import json\n"
        "def f():\n    from .. import models\n"
    )
    (package / "models.py").write_text("def g():\n    from pkg.sub.helpers import f\n")
    (package / "views.py").write_text("from . import models\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": {"pkg.sub.helpers": 1},
        "pkg.sub": {},
        "pkg.sub.helpers": {"pkg.models": 7},
        "pkg.models": {"pkg.sub.helpers": 2},
        "pkg.views": {"pkg.models": 1},
    }
    assert strongly_connected(graph) == [["pkg.models", "pkg.sub.helpers"]]
    assert a_cycle(graph, ["pkg.models", "pkg.sub.helpers"]) == [
        "pkg.models",
        "pkg.sub.helpers",
        "pkg.models",
    ]
