"""What a function's cold start imports: modules a handler must not pull in before it needs them.

Speed is measured by bench.imports (wall time); these check the structure that keeps it low, so a new
import at module level cannot quietly bring a heavy package back into a function's init.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "layers" / "runs_core"

# function directory → packages (top-level or runs_core.*) its handler module must not import.
NOT_IMPORTED = {
    # Runs before every request: an API key's hash, one GetItem, a cached principal. No models.
    "authorizer": {"pydantic"},
    # Finishes presigned uploads: hash, move, one conditional update. No models.
    "file_uploaded": {"pydantic"},
    # The agent loop: providers and actions load on the first model call or tool call.
    "run_step": {"pydantic", "runs_core.providers", "runs_core.actions"},
}


def imported_modules(function: str) -> set[str]:
    code = REPO / "functions" / function
    script = "import sys; import app; print('\\n'.join(sorted(sys.modules)))"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update({"PYTHONPATH": os.pathsep.join([str(code), str(LAYER)]), "AWS_DEFAULT_REGION": "us-east-1"})
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=code, env=env, capture_output=True, text=True, check=True
    )
    names = done.stdout.split()
    return {prefix for name in names for prefix in (name, name.split(".")[0])}


@pytest.mark.parametrize("function", sorted(NOT_IMPORTED))
def test_handler_does_not_import(function: str) -> None:
    assert not imported_modules(function) & NOT_IMPORTED[function]
