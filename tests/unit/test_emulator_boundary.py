"""The emulator (devstack/) is outside the product: the layer and the handlers never import it.

devstack drives runs_core from outside (it seeds through runs_core's logic and sets public seams such as
`runs_core.logic.events.use_new_events`); an import the other way would ship emulator code to Lambda, or
fail there. The scan reads every import statement, lazy ones inside functions too.
"""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRODUCT = (REPO / "layers" / "runs_core", REPO / "functions")
EMULATOR = "devstack"


def _imported_modules(tree: ast.AST) -> list[str]:
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module)
    return modules


def test_the_product_never_imports_the_emulator() -> None:
    offenders = []
    sources = [path for root in PRODUCT for path in root.rglob("*.py")]
    assert len(sources) > 50, "the scan found the product's modules"
    for path in sources:
        for module in _imported_modules(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if module == EMULATOR or module.startswith(EMULATOR + "."):
                offenders.append(f"{path.relative_to(REPO)}: {module}")
    assert not offenders, "runs_core and functions/ must not import the emulator:\n" + "\n".join(offenders)


def test_the_scan_sees_lazy_and_from_imports() -> None:
    source = "def f():\n    import devstack.iam\n    from devstack import stack\nfrom runs_core import ids\n"
    assert sorted(_imported_modules(ast.parse(source))) == ["devstack", "devstack.iam", "runs_core"]
