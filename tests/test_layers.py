"""The package's layers: imports point down only, and no two modules import each other.

spec → data → model → inference (fit) → geometry → report, with ``errors``/``_lazy`` and
``registry`` below everything and ``cli``, ``demo`` and ``testing`` on top. Every import
statement counts, those inside functions too: a lazy import is still a dependency.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bayesstack"

#: Layers from the bottom; a module belongs to the first whose prefix it matches.
LAYERS = (
    ("bayesstack.errors", "bayesstack._lazy", "bayesstack._version"),
    ("bayesstack.registry",),
    ("bayesstack.spec", "bayesstack.limits"),
    ("bayesstack.data",),
    ("bayesstack.model",),
    ("bayesstack.inference",),
    ("bayesstack.geometry",),
    ("bayesstack.report",),
    ("bayesstack.cli", "bayesstack.demo", "bayesstack.testing", "bayesstack.sklearn"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    for i, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    if module == "bayesstack":  # the top-level lazy exports
        return len(LAYERS) - 1
    raise AssertionError(f"{module} is in no layer; add it to LAYERS")


def imports(module: str) -> set[str]:
    """The bayesstack modules ``module`` imports.

    ``from pkg import sub`` imports ``pkg`` (its ``__init__`` runs) and, when ``sub`` is a module,
    ``pkg.sub``.
    """
    tree = ast.parse(MODULES[module].read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("bayesstack")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("bayesstack"):
                continue
            out |= {node.module} | (
                {f"{node.module}.{a.name}" for a in node.names} & MODULES.keys()
            )
    return out - {module}


GRAPH = {m: imports(m) for m in MODULES}


def upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
        for m, targets in graph.items()
        for t in targets
        if layer(t) > layer(m)
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by depth-first search (each reported once, by its entry point)."""
    found, state = [], {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = "open"
        for t in sorted(graph.get(m, ())):
            if state.get(t) == "open":
                found.append([*stack[stack.index(t) :], t])
            elif t not in state:
                visit(t, [*stack, t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return found


def test_every_module_is_in_a_layer():
    for m in MODULES:
        layer(m)


def test_imports_point_down():
    assert upward(GRAPH) == []


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_checks_catch_a_planted_upward_import_and_cycle():
    planted = {**GRAPH, "bayesstack.spec": GRAPH["bayesstack.spec"] | {"bayesstack.geometry"}}
    assert upward(planted) == ["bayesstack.spec (layer 2) imports bayesstack.geometry (layer 6)"]
    ring = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert cycles(ring) == [["a.x", "a.y", "a.z", "a.x"]]


@pytest.mark.parametrize("module", ["bayesstack.geometry.symmetry", "bayesstack.spec"])
def test_pure_modules_load_neither_arviz_nor_pymc(module):
    code = f"import sys, {module}; print(sorted({{'arviz', 'pymc', 'jax'}} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
