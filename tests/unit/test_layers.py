"""The package's layers: every import — module level or inside a function — runs down the
layers or within one package, no import closes a cycle, and no private name crosses a
module. Read from the source (``ast``), so an import that only runs on some path counts."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ttc_graph"

LAYERS: tuple[tuple[str, ...], ...] = (
    # the base: no LangChain model code, imported by everything
    (
        "ttc_graph.errors",
        "ttc_graph.limits",
        "ttc_graph.outputs",
        "ttc_graph.specs",
        "ttc_graph.answers",
        "ttc_graph.reliability",
        "ttc_graph.escape",
        "ttc_graph.prompts",
    ),
    ("ttc_graph.policy",),
    ("ttc_graph.verifiers",),
    ("ttc_graph.strategies",),
    (
        "ttc_graph.evaluation",
        "ttc_graph.visualization",
        "ttc_graph.runnables",
        "ttc_graph.chat_model",
    ),
    ("ttc_graph.training",),
    ("ttc_graph.serving",),
    ("ttc_graph.cli",),
    ("ttc_graph", "ttc_graph.__main__"),
)
"""Lowest first. A module may import from its own package, from the base (which may
import itself), and from any lower layer; packages of one layer stay apart."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def owner(module: str) -> tuple[int, str]:
    """(layer, package) of a module: the longest prefix named in :data:`LAYERS`."""
    best = max(
        (
            (len(prefix), index, prefix)
            for index, layer in enumerate(LAYERS)
            for prefix in layer
            if module == prefix or module.startswith(prefix + ".")
        ),
        default=None,
    )
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS"
    return best[1], best[2]


def type_checking_lines(tree: ast.Module) -> set[int]:
    """Lines under ``if TYPE_CHECKING:`` (annotations only: they never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(module: str) -> list[tuple[str, str | None, int]]:
    """``(imported module, imported name, line)`` of every ttc_graph import that runs."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    skip = type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                target = sub if sub in MODULES else base
                name = None if target == sub else alias.name
                found.append((target, name, node.lineno))
    return [(t, n, line) for t, n, line in found if t.startswith("ttc_graph") and line not in skip]


EDGES = {m: imports(m) for m in MODULES}


def test_every_import_runs_down_the_layers() -> None:
    wrong = []
    for module, found in EDGES.items():
        layer, package = owner(module)
        for target, _, line in found:
            target_layer, target_package = owner(target)
            same_package = target_package == package
            upward = target_layer > layer or (target_layer == layer and not same_package)
            if upward and not (layer == 0 and target_layer == 0):
                wrong.append(f"{module}:{line} imports {target} ({target_package} is not below)")
    assert not wrong, "\n".join(wrong)


def test_no_import_closes_a_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, found in EDGES.items():
        graph[module] |= {t for t, _, _ in found if t != module and t in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            # A package and the module its stub loads are one thing (lazy_loader).
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_no_private_name_crosses_a_module() -> None:
    crossing = [
        f"{module}:{line} imports {name} from {target}"
        for module, found in EDGES.items()
        for target, name, line in found
        if name and name.startswith("_") and not name.startswith("__") and target != module
    ]
    assert not crossing, "\n".join(crossing)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_500_lines(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= 500, f"{module} has {lines} lines; split it by idea"


def test_exports_stay_small() -> None:
    counts = {}
    for stub in PACKAGE.rglob("__init__.pyi"):
        tree = ast.parse(stub.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "__all__" for t in node.targets
            ):
                counts[module_name(stub.with_suffix(".py"))] = len(node.value.elts)  # type: ignore[attr-defined]
    # 21: one factory per built-in strategy (below) plus the chat model, wrappers,
    # loaders, verifiers and the budget and routing types.
    assert counts["ttc_graph"] <= 21, counts
    assert sum(counts.values()) <= 62, counts
    # One mechanism: packages export through lazy_loader's stub, none by a hand-written
    # module __getattr__.
    for init in PACKAGE.rglob("__init__.py"):
        assert "def __getattr__" not in init.read_text(), init


def test_every_built_in_strategy_factory_is_importable_from_the_top_level() -> None:
    import ttc_graph
    from ttc_graph.strategies import SPECS

    # The strategy tables in README and docs name these factories as the way in.
    for spec in SPECS.values():
        name = spec.factory.partition(":")[2]
        assert name in ttc_graph.__all__, f"{spec.name}: {name} is not exported by ttc_graph"
        assert getattr(ttc_graph, name) is not None
