"""What a function's cold start imports: modules a handler must not pull in before it needs them.

Speed is measured by bench.imports (wall time); these check the structure that keeps it low, so a new
import at module level cannot quietly bring a heavy package back into a function's init.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runs_core.dialects.renders import DIALECT_MODULES

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "layers" / "runs_core"

# Modules only some routes need (imported where they are used, "lazy, for cold start").
AGENT_MODELS = {"runs_core.models.agents", "runs_core.logic.agents", "nodesemver"}
ACCOUNT_MODELS = {"runs_core.models.account"}
THREAD_MODELS = {"runs_core.models.threads"}
# Never at a cold start of an API function: the agent loop's providers, run creation's JSON Schema
# validator, the build-time OpenAPI generator, the dialects (but a dialect function's own).
NO_API_FUNCTION = {"runs_core.providers", "jsonschema", "runs_core.api.spec", "runs_core.execution"}
DIALECTS = {f"runs_core.dialects.{name}" for name in (*DIALECT_MODULES.values(), "tr")}  # tr renders /v1's


def _api(*needed: str, also: frozenset[str] = frozenset()) -> set[str]:
    """What an API function must not import: all of the above but its own `needed` modules."""
    return (AGENT_MODELS | ACCOUNT_MODELS | THREAD_MODELS | NO_API_FUNCTION | DIALECTS | also) - set(needed)


# function directory → packages (top-level or runs_core.*) its handler module must not import.
NOT_IMPORTED = {
    # Runs before every request: an API key's hash, one GetItem, a cached principal. No models.
    "authorizer": {"pydantic"},
    # Finishes presigned uploads: hash, move, one conditional update. No models.
    "file_uploaded": {"pydantic"},
    # The agent loop: providers and actions load on the first model call or tool call.
    "run_step": {"pydantic", "runs_core.providers", "runs_core.actions"},
    # $connect and $disconnect read keys and connections only; subscribe's event envelopes load the
    # event model on first use.
    "websocket": {"pydantic", "runs_core.logic.runs", "runs_core.models.events"},
    # The Allow header comes from the generated document; a dialect's renderer loads with its first 405.
    "method_not_allowed": {"pydantic", "runs_core.api.app", *DIALECTS},
    "docs_api": _api(also=frozenset({"runs_core.models.common", "runs_core.logic.runs"})),
    "runs_api": _api(),
    "threads_api": _api(*THREAD_MODELS),
    "events_api": _api(also=frozenset({"runs_core.logic.runs", "runs_core.models.runs"})),
    "files_api": _api(),
    "agents_api": _api(*AGENT_MODELS),
    "account_api": _api(*ACCOUNT_MODELS),
    "admin_api": _api(*ACCOUNT_MODELS),
    "dialects/appstrate": _api("runs_core.dialects.appstrate"),
    "dialects/kognitos": _api("runs_core.dialects.kognitos"),
    "dialects/langgraph": _api("runs_core.dialects.langgraph", *THREAD_MODELS),
    "dialects/openai": _api("runs_core.dialects.openai_responses", *THREAD_MODELS),
    "dialects/roe": _api("runs_core.dialects.roe"),
    "dialects/tr": _api("runs_core.dialects.tr"),
    "dialects/ziet": _api("runs_core.dialects.ziet"),
}


# One interpreter imports what every handler imports first and none may avoid (boto3), then forks a child
# per function that imports its handler from there: each child's modules are the handler's plus boto3's.
# boto3 imports nothing the sets above name (the parent checks), so what a handler pulls in still shows;
# it saves importing boto3 once per function (20 interpreters: 16.5 s of CPU).
COLD_IMPORTS = """import json, os, sys
import boto3
names = json.loads(sys.argv[1])
forbidden = set(json.loads(sys.argv[2]))
shared = {prefix for name in sys.modules for prefix in (name, name.split(".")[0])}
assert not shared & forbidden, sorted(shared & forbidden)
found = {}
for function, code in names.items():
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        os.chdir(code)
        sys.path.insert(0, code)
        import app
        os.write(write, "\\n".join(sorted(sys.modules)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        found[function] = pipe.read().decode().split()
    assert os.waitpid(child, 0)[1] == 0, function
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def imported() -> dict[str, set[str]]:
    """function → the modules (and their top-level packages) its handler module imports."""
    codes = {function: str(REPO / "functions" / function) for function in NOT_IMPORTED}
    forbidden = sorted(set().union(*NOT_IMPORTED.values()))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update({"PYTHONPATH": str(LAYER), "AWS_DEFAULT_REGION": "us-east-1"})
    done = subprocess.run(
        [sys.executable, "-c", COLD_IMPORTS, json.dumps(codes), json.dumps(forbidden)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        function: {prefix for name in names for prefix in (name, name.split(".")[0])}
        for function, names in json.loads(done.stdout).items()
    }


@pytest.mark.parametrize("function", sorted(NOT_IMPORTED))
def test_handler_does_not_import(function: str, imported: dict[str, set[str]]) -> None:
    assert "runs_core" in imported[function]  # it imported its handler
    assert not imported[function] & NOT_IMPORTED[function]


# Prints every runs_core model whose validator was built while importing the layer's modules (but the
# build-time OpenAPI generator): each should be built on first use (defer_build), not at a cold start.
# A generic model's origin is left out: pydantic rebuilds it whenever it is parametrized (Page[Run]).
BUILT_AT_IMPORT = """import importlib, pkgutil
import runs_core
from pydantic import BaseModel
for module in pkgutil.walk_packages(runs_core.__path__, "runs_core."):
    if module.name != "runs_core.api.spec":
        importlib.import_module(module.name)
seen, todo = set(), [BaseModel]
while todo:
    for subclass in todo.pop().__subclasses__():
        if subclass not in seen:
            seen.add(subclass)
            todo.append(subclass)
for model in seen:
    generic = model.__pydantic_generic_metadata__["parameters"]
    if model.__module__.startswith("runs_core") and model.__pydantic_complete__ and not generic:
        print(f"{model.__module__}.{model.__qualname__}")
"""


def test_no_model_is_built_at_import() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update({"PYTHONPATH": str(LAYER), "AWS_DEFAULT_REGION": "us-east-1"})
    done = subprocess.run(
        [sys.executable, "-c", BUILT_AT_IMPORT], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == []
