"""The shape of the library, enforced: its layers import only downward, nothing imports in a cycle, and the
library layers load no Streamlit, Ray or SQLAlchemy (ARCHITECTURE.md explains the layers)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "explorer"

# lowest first; a module may import its own layer and the layers below it
LAYERS: dict[str, set[str]] = {
    "core": {"budget", "safejson", "spec", "presets", "preprocess", "data", "train", "evaluate", "checkpoint",
             "jobs"},
    "interpret": {"inspect", "attribution", "featureviz", "trust", "embedding"},
    "lessons": {"lab", "lesson", "experiments", "export", "shortcut"},
    "display": {"plots"},
    "serve": {"workspace", "cluster", "store"},
    "tools": {"bench", "browser", "launch", "__main__", "__init__"},
}
RANK = {m: i for i, mods in enumerate(LAYERS.values()) for m in mods}
LIBRARY = [m for layer in ("core", "interpret", "lessons", "display") for m in LAYERS[layer]]


def _imports(module: str, at_import_time: bool, typing: bool = False) -> set[str]:
    """The explorer modules ``module`` imports (relative imports), at import time only or anywhere in it;
    imports under ``if TYPE_CHECKING:`` count only with ``typing`` (they never run, but a reader and a type
    checker follow them)."""
    tree = ast.parse((PKG / f"{module}.py").read_text())
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) and not typing:
            return
        if isinstance(node, ast.ImportFrom) and node.level == 1 and (top or not at_import_time):
            found.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
        inner = top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, True)
    return found


def test_every_module_has_a_layer():
    modules = {p.stem for p in PKG.glob("*.py")}
    assert modules == set(RANK), f"place these in LAYERS: {sorted(modules ^ set(RANK))}"


@pytest.mark.parametrize("module", sorted(RANK))
def test_a_module_imports_only_its_own_layer_and_those_below(module):
    upward = {m for m in _imports(module, at_import_time=False) if RANK[m] > RANK[module]}
    assert not upward, f"explorer.{module} imports upward: {sorted(upward)}"


def test_no_import_cycles_not_even_through_type_hints():
    graph = {m: _imports(m, at_import_time=True, typing=True) - {m} for m in RANK}
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def walk(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            assert state.get(n) != 1, "import cycle: " + " -> ".join(path + [m, n])
            if n not in state:
                walk(n, path + [m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m, [])


def test_the_library_layers_load_no_streamlit_ray_or_sqlalchemy():
    code = ("import sys\n" + "".join(f"import explorer.{m}\n" for m in sorted(LIBRARY)) + "import explorer\n"
            "print(sorted(n for n in ('streamlit', 'ray', 'sqlalchemy') if n in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "[]", f"the library loaded {r.stdout.strip()}"
