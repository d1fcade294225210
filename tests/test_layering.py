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


def _has_code(path: Path) -> bool:
    """False for a package `__init__.py` holding nothing but a docstring."""
    body = ast.parse(path.read_text()).body
    return any(not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in body)


def common_files_loaded_by(module: str) -> set[str]:
    """Repository paths of the `common/` files that importing (or running) `module` executes:
    its imports followed transitively, with the `__init__.py` of every package on the way."""
    graph, files = import_graph(), module_files()
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(graph.get(name, ()))
        parts = name.split(".")
        todo.extend(".".join(parts[:k]) for k in range(1, len(parts)) if ".".join(parts[:k]) in files)
    return {files[n].relative_to(REPO).as_posix() for n in seen
            if n.split(".")[0] == "common" and _has_code(files[n])}


MODELS = sorted(p.parent.name for p in (REPO / "models").glob("*/evaluate.py"))


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
