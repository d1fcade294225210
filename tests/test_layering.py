"""The repository's import graph (read with `ast`, imports inside functions included): no circles,
no model imports another model, `common` imports no model, and the Makefile's per-step lists of
`common/` files name every `common/` module the step's scripts import (directly or through other
modules), so editing one of them rebuilds what depends on it."""
from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

import pytest

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


def makefile_list(variable: str) -> set[str]:
    """The words of a `VAR := ...` assignment of the Makefile (backslash continuations joined)."""
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(rf"^{variable}\s*:?=(.*)$", text, re.MULTILINE)
    assert match, f"Makefile has no {variable} assignment"
    return set(match.group(1).split())


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


STEPS = [("DATA_COMMON", "data"), ("TRAIN_COMMON", "train"), ("QUANT_COMMON", "quantize"), ("EVAL_COMMON", "evaluate")]


@pytest.mark.parametrize("variable, step", STEPS)
def test_makefile_lists_every_common_file_a_step_imports(variable, step):
    listed = makefile_list(variable)
    needed = set().union(*(common_files_loaded_by(f"models.{m}.{step}") for m in MODELS))
    assert not needed - listed, f"Makefile {variable} misses {sorted(needed - listed)} (imported by models/*/{step}.py)"
    assert not listed - needed, f"Makefile {variable} lists {sorted(listed - needed)}, which no models/*/{step}.py imports"


def test_makefile_lists_every_common_file_the_deploy_kit_imports():
    listed, needed = makefile_list("DEPLOY_COMMON"), common_files_loaded_by("common.deploy")
    assert needed == listed, f"Makefile DEPLOY_COMMON: missing {sorted(needed - listed)}, extra {sorted(listed - needed)}"


def test_the_graph_reader_sees_imports_inside_functions_and_finds_circles():
    assert "common.layers" in import_graph()["common.models_io"]  # imported inside load_model
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
