"""No import cycles among runs_core's modules: what each module imports forms a DAG.

A cycle works only by accident of import order, or through an import moved into a function to dodge it;
either way it hides which module is the lower one. So imports inside functions count too (a lazy import
for cold start is still a dependency); only those under `if TYPE_CHECKING:` do not.
"""

import ast
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "layers" / "runs_core"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in (PACKAGE_ROOT / "runs_core").rglob("*.py")}


def imports(tree: ast.Module, known: set[str]) -> set[str]:
    """runs_core modules a module imports, anywhere in it (`from a import b` counts b when it is a module)."""
    imported: set[str] = set()
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in imported if name in known}


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(ast.parse(path.read_text()), known) - {name} for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_graph_sees_the_layers_modules():
    graph = import_graph()
    assert "runs_core.execution.loop" in graph and "runs_core.logic.runs" in graph
    assert "runs_core.logic.run_writes" in graph["runs_core.logic.threads"]


def test_runs_core_has_no_import_cycles():
    assert cycles(import_graph()) == []


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
