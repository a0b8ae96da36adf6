"""Enforces DESIGN.md's import layering: no module imports from a higher layer,
no import cycles, and no function-local imports of functrace modules."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "functrace"

# lower number = lower layer; a module may import only from its own layer or below
LAYERS = [
    ("config", 0), ("errors", 0), ("devices", 0),
    ("tree_util", 1), ("tree", 1),
    ("core", 2),
    ("transforms", 3), ("jacobians", 3),  # functrace.jacobians re-exports transforms.jacobians
    ("lax", 4),
    ("compiler", 5),
    ("backends", 6),
    ("numpy", 7), ("nn", 7), ("random", 7), ("test_util", 7), ("viz", 7),
    ("spmd", 7), ("distributed", 7),
    ("flatten_util", 7),
    ("stax", 8), ("optimizers", 8), ("example_libraries", 8),
]


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(mod: str) -> int:
    parts = mod.split(".")
    if len(parts) == 1:  # functrace/__init__.py: the top
        return 100
    for name, layer in LAYERS:
        if parts[1] == name:
            return layer
    raise AssertionError(f"module {mod} has no layer in tests/test_layering.py; add it")


def resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = mod.split(".")
        if not is_pkg:
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    if not base.startswith("functrace"):
        return []
    if node.module is None:  # from . import x
        return [f"{base}.{a.name}" for a in node.names]
    return [base]


def collect():
    graph, local = {}, []
    for path in SRC.rglob("*.py"):
        mod = module_name(path)
        tree = ast.parse(path.read_text())
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                targets = resolve(mod, path.name == "__init__.py", node)
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("functrace")]
            else:
                continue
            deps.update(targets)
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(fn):
                    if isinstance(node, ast.ImportFrom) and (
                            node.level > 0 or (node.module or "").startswith("functrace")):
                        local.append(f"{mod}:{node.lineno}")
        graph[mod] = deps
    return graph, local


GRAPH, LOCAL_IMPORTS = collect()


def _existing(dep: str) -> str:
    """Maps 'functrace.lax.add' (a name) to the module 'functrace.lax'."""
    while dep not in GRAPH and "." in dep:
        dep = dep.rsplit(".", 1)[0]
    return dep


@pytest.mark.parametrize("mod", sorted(GRAPH))
def test_no_upward_imports(mod):
    for dep in GRAPH[mod]:
        dep = _existing(dep)
        if dep == mod or dep not in GRAPH:
            continue
        assert layer_of(dep) <= layer_of(mod), (
            f"{mod} (layer {layer_of(mod)}) imports {dep} (layer {layer_of(dep)}), a higher "
            "layer; see the layering in ../shared/DESIGN.md")


def test_no_cycles():
    graph = {m: {_existing(d) for d in deps if _existing(d) in GRAPH and _existing(d) != m}
             for m, deps in GRAPH.items()}
    # a package's __init__ importing its own submodules is not a cycle of interest
    for m in graph:
        graph[m] = {d for d in graph[m] if not d.startswith(m + ".")}
    state = {}

    def visit(m, stack):
        state[m] = 1
        for d in graph[m]:
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack + [m, d]))
            if d not in state:
                visit(d, stack + [m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


def test_no_function_local_imports():
    assert not LOCAL_IMPORTS, f"function-local imports of functrace modules: {LOCAL_IMPORTS}"


def test_layering_catches_an_upward_import():
    # the checker itself must be able to fail
    assert layer_of("functrace.core.trace") < layer_of("functrace.lax.elementwise")
    assert layer_of("functrace.numpy") > layer_of("functrace.transforms.ad")
