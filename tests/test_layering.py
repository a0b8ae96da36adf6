"""Enforces the import layering of docs/architecture.md ("Layers"): no module imports
from a higher layer, no import cycles (between packages, and between the modules of one
package), and no function-local imports of functrace modules."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "functrace"

# lower number = lower layer; a module may import only from its own layer or below
LAYERS = [
    ("config", 0), ("errors", 0), ("devices", 0), ("sharding", 0),
    ("tree_util", 1), ("tree", 1),
    ("core", 2),
    ("transforms", 3), ("jacobians", 3),  # functrace.jacobians re-exports transforms.jacobians
    ("custom_derivatives", 3),  # re-exports transforms' names
    ("lax", 4),
    ("compiler", 5),
    ("backends", 6),
    ("numpy", 7), ("nn", 7), ("random", 7), ("test_util", 7), ("viz", 7),
    ("spmd", 7), ("distributed", 7), ("runtime", 7),
    ("flatten_util", 7), ("debug", 7), ("custom_batching", 7), ("dtypes", 2), ("experimental", 7),
    ("stax", 8), ("optimizers", 8), ("scipy", 8), ("example_libraries", 8),
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
            "layer; see the layers in docs/architecture.md")


def _module_graph(keep_package_inits: bool) -> dict[str, set[str]]:
    graph = {m: {_existing(d) for d in deps if _existing(d) in GRAPH and _existing(d) != m}
             for m, deps in GRAPH.items()}
    if not keep_package_inits:
        for m in graph:
            graph[m] = {d for d in graph[m] if not d.startswith(m + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path that returns to its start, or None."""
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                return stack + [m, d]
            if d not in state:
                found = visit(d, stack + [m])
                if found:
                    return found
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m, [])
            if found:
                return found
    return None


def test_no_cycles():
    # a package's __init__ importing its own submodules is not a cycle between packages
    cycle = find_cycle(_module_graph(keep_package_inits=False))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def same_package(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The edges between modules of one package, its ``__init__`` included: a module
    ``a.b.c`` and the package ``a.b`` itself count as members of ``a.b``."""
    def package(m):
        return m if m in PACKAGES else m.rsplit(".", 1)[0]

    return {m: {d for d in deps if package(d) == package(m) or d == package(m)}
            for m, deps in graph.items()}


PACKAGES = {module_name(p.parent / "__init__.py") for p in SRC.rglob("__init__.py")}


def test_no_cycles_inside_a_package():
    """Module-level imports between modules of one package form a DAG: a package's
    ``__init__`` may import its modules (to assemble them), but then none of them may
    import the ``__init__`` back (put what they share in a module of its own, as
    ``backends/numba_cpu/table.py``)."""
    cycle = find_cycle(same_package(_module_graph(keep_package_inits=True)))
    assert cycle is None, "import cycle inside a package: " + " -> ".join(cycle)


def test_the_package_cycle_check_can_fail():
    # the loop backends/numba_cpu had: __init__ imports conv, conv imports the table back
    pkg = "functrace.backends.numba_cpu"
    graph = {pkg: {f"{pkg}.conv", f"{pkg}.codegen"}, f"{pkg}.conv": {pkg},
             f"{pkg}.codegen": set()}
    assert find_cycle(same_package(graph)) == [pkg, f"{pkg}.conv", pkg]
    graph[f"{pkg}.conv"] = {f"{pkg}.codegen"}
    assert find_cycle(same_package(graph)) is None


def test_no_function_local_imports():
    assert not LOCAL_IMPORTS, f"function-local imports of functrace modules: {LOCAL_IMPORTS}"


def test_layering_catches_an_upward_import():
    # the checker itself must be able to fail
    assert layer_of("functrace.core.trace") < layer_of("functrace.lax.elementwise")
    assert layer_of("functrace.numpy") > layer_of("functrace.transforms.ad")
