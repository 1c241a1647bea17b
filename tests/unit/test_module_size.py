"""No module of the layer is above 300 lines unless its docstring says why (issue 14: one concept per
module). The reason is looked for as "Over 300 lines" in the module's docstring."""

import ast
from pathlib import Path

import pytest

RUNS_CORE = Path(__file__).resolve().parents[2] / "layers" / "runs_core" / "runs_core"
MAX_LINES = 300

MODULES = sorted(RUNS_CORE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(RUNS_CORE)))
def test_a_long_module_says_why(path: Path):
    source = path.read_text()
    if source.count("\n") <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert "Over 300 lines" in docstring, f"{path.name}: {source.count(chr(10))} lines and no reason"
