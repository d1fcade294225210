"""The repository's import graph (read with `ast`, imports inside functions included): no circles,
no model imports another model, `common` imports no model; and under Make a step records the
sources it loaded (`<target>.d`), so editing one rebuilds exactly what depends on it."""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "models", "benchmarks")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=1)
def module_files() -> dict[str, Path]:
    """Every module of the project packages: dotted name -> file."""
    return {module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


def _imported_modules(tree: ast.AST, modules: dict[str, Path]) -> set[str]:
    """Project modules an `import` / `from ... import` anywhere in the tree (functions included)
    refers to: `from a import b` is module `a.b` when there is one, else a name of module `a`."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in modules:
                    found.add(submodule)
                elif node.module in modules:
                    found.add(node.module)
    return found


@lru_cache(maxsize=1)
def import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports."""
    modules = module_files()
    return {name: _imported_modules(ast.parse(path.read_text(), str(path)), modules) - {name}
            for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
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
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_import_graph_has_no_cycle():
    cycles = find_cycles(import_graph())
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_model_imports_another_model_and_common_imports_no_model():
    wrong = []
    for module, targets in import_graph().items():
        package, *rest = module.split(".")
        for target in targets:
            target_package, *target_rest = target.split(".")
            if package == "common" and target_package in ("models", "benchmarks"):
                wrong.append(f"{module} imports {target}")
            if package == "models" and target_package == "benchmarks":
                wrong.append(f"{module} imports {target}")
            if package == target_package == "models" and rest and target_rest and rest[0] != target_rest[0]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "layering: " + "; ".join(sorted(wrong))


# common/ in layers: a module imports only from its own layer or below (the pipeline sits on top).
LAYERS = {
    "common.errors": 0, "common.refs": 0,
    "common.atomic": 1, "common.env": 1, "common.workers": 1, "common.depfile": 1, "common.cli": 2,
    "common.data": 3, "common.graph": 3,
    "common.evaluation": 4, "common.training": 4, "common.deploy": 4,
    "common.pipeline": 5, "common.convert": 6, "common.custom": 6,
}


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    for k in (2, 1):
        if ".".join(parts[:k]) in LAYERS:
            return LAYERS[".".join(parts[:k])]
    return None


def test_common_is_layered_with_the_user_errors_in_a_leaf():
    graph = import_graph()
    assert not graph["common.errors"], "common/errors.py must import nothing of the zoo"
    upward = [f"{m} imports {t}" for m, targets in graph.items() if m.startswith("common.") for t in targets
              if t.startswith("common.") and layer_of(t) is not None and layer_of(m) is not None
              and layer_of(t) > layer_of(m)]
    assert not upward, "imports upward in common/: " + "; ".join(sorted(upward))
    unplaced = sorted(m for m in graph if m.startswith("common.") and m != "common" and layer_of(m) is None)
    assert not unplaced, f"modules of common/ in no layer: {unplaced}"


def test_a_step_under_make_writes_the_sources_it_loaded(tmp_path):
    """`ZOO_MAKE_TARGET` makes a step write `<target>.d`: every project source it imported or opened
    (common/depfile.py), and nothing it did not load (editing efinix.py does not rebuild data.json)."""
    import os
    import subprocess
    import sys

    target = tmp_path / "data.json"
    script = ("from common.cli import run\n"
              "def main(argv):\n"
              "    import common.data.images\n"
              "    open('models/yolo/yolo_pico.cfg').read()\n"
              "run(main)\n")
    env = {**os.environ, "ZOO_MAKE_TARGET": str(target)}
    subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, check=True, timeout=120)
    rule, *phony = (tmp_path / "data.json.d").read_text().splitlines()
    head, _, files = rule.partition(": ")
    assert head == str(target)
    files = set(files.split())
    assert {"common/cli.py", "common/errors.py", "common/data/images.py", "models/yolo/yolo_pico.cfg"} <= files
    assert "common/graph/efinix.py" not in files and not any(f.startswith(".venv") for f in files)
    assert phony == [f"{f}:" for f in sorted(files)]  # a deleted source does not stop make


def test_the_graph_reader_sees_imports_inside_functions_and_finds_circles():
    assert "common.graph.layers" in import_graph()["common.graph.keras_io"]  # imported inside load_model
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
