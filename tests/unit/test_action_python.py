"""`python` actions: only @action-registered functions run, and only listed packages are imported."""

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from runs_core.actions.base import ActionContext, ActionError
from runs_core.actions.config import get_actions_config
from runs_core.actions.executor import execute
from runs_core.actions.python import REGISTRY, action, run_python
from tests.support import action_context

HERE = __name__


CTX = action_context("run_1")


@action
def double(arguments: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    return {"result": arguments["n"] * 2, "run_id": ctx.run_id}


@action("triple")
def _times_three(arguments: dict[str, Any], ctx: ActionContext) -> int:
    return arguments["n"] * 3


@action
def leaky(arguments: dict[str, Any], ctx: ActionContext) -> None:
    raise RuntimeError("token=sk_live_supersecret")


@action
def polite_failure(arguments: dict[str, Any], ctx: ActionContext) -> None:
    raise ActionError("invoice INV-9 does not exist")


@action
def returns_a_set(arguments: dict[str, Any], ctx: ActionContext) -> set[int]:
    return {1, 2}


def not_registered(arguments: dict[str, Any], ctx: ActionContext) -> str:
    return "should never run"


def python_action(handler: str) -> dict[str, Any]:
    return {"name": "act", "kind": "python", "handler": handler}


@pytest.fixture(autouse=True)
def fresh_config() -> Iterator[None]:
    get_actions_config.cache_clear()
    yield
    get_actions_config.cache_clear()


def test_a_registered_function_runs():
    assert execute(python_action(f"{HERE}:double"), {"n": 21}, CTX) == {"result": 42, "run_id": "run_1"}


def test_a_function_registered_under_a_name():
    assert execute(python_action(f"{HERE}:triple"), {"n": 2}, CTX) == 6
    with pytest.raises(ActionError, match="not a registered"):
        execute(python_action(f"{HERE}:_times_three"), {"n": 2}, CTX)


def test_an_unregistered_function_does_not_run():
    with pytest.raises(ActionError, match="not a registered python action"):
        execute(python_action(f"{HERE}:not_registered"), {}, CTX)


def test_os_system_cannot_be_called(monkeypatch):
    calls: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args))
    with pytest.raises(ActionError, match="not a registered python action"):
        execute(python_action("os:system"), {"command": "echo pwned"}, CTX)
    assert calls == []


def test_the_shipped_example_is_imported_on_demand(monkeypatch):
    monkeypatch.delitem(REGISTRY, "user_actions.examples:add", raising=False)
    monkeypatch.delitem(sys.modules, "user_actions.examples", raising=False)
    assert execute(python_action("user_actions.examples:add"), {"a": 2, "b": 3.5}, CTX) == {"sum": 5.5}
    with pytest.raises(ActionError, match="`b` must be a number"):
        execute(python_action("user_actions.examples:add"), {"a": 2, "b": "3"}, CTX)


def write_module(directory: Any, name: str) -> None:
    """A module that records being imported (in os.environ) and registers `run`."""
    (directory / f"{name}.py").write_text(
        "import os\n"
        "from runs_core.actions.python import action\n"
        f"os.environ['IMPORTED_{name.upper()}'] = '1'\n"
        "@action\n"
        "def run(arguments, ctx):\n"
        "    return {'ran': True}\n"
    )


@pytest.fixture
def forget_modules() -> Iterator[None]:
    """The throwaway modules below leave nothing behind in sys.modules or the registry."""
    yield
    for name in ("outsider_mod", "partner_mod"):
        sys.modules.pop(name, None)
        REGISTRY.pop(f"{name}:run", None)


def test_modules_outside_the_action_packages_are_not_imported(tmp_path, monkeypatch, forget_modules):
    write_module(tmp_path, "outsider_mod")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("IMPORTED_OUTSIDER_MOD", "0")  # restored (unset) after the test
    with pytest.raises(ActionError, match="not a registered python action"):
        execute(python_action("outsider_mod:run"), {}, CTX)
    assert "outsider_mod" not in sys.modules
    assert os.environ["IMPORTED_OUTSIDER_MOD"] == "0"


def test_runs_api_action_packages_lists_importable_packages(tmp_path, monkeypatch, forget_modules):
    write_module(tmp_path, "partner_mod")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("IMPORTED_PARTNER_MOD", "0")
    monkeypatch.setenv("RUNS_API_ACTION_PACKAGES", "user_actions,partner_mod")
    assert execute(python_action("partner_mod:run"), {}, CTX) == {"ran": True}
    assert os.environ["IMPORTED_PARTNER_MOD"] == "1"


def test_a_missing_module_in_an_action_package():
    with pytest.raises(ActionError, match="module not found"):
        execute(python_action("user_actions.nope:run"), {}, CTX)


def test_an_exception_becomes_an_action_error_without_details():
    with pytest.raises(ActionError) as raised:
        execute(python_action(f"{HERE}:leaky"), {}, CTX)
    assert str(raised.value) == "action 'act' failed: RuntimeError"
    assert "supersecret" not in str(raised.value)


def test_an_action_error_keeps_its_message():
    with pytest.raises(ActionError, match=r"^invoice INV-9 does not exist$"):
        execute(python_action(f"{HERE}:polite_failure"), {}, CTX)


def test_the_result_must_be_json_serialisable():
    with pytest.raises(ActionError, match="not JSON-serialisable"):
        execute(python_action(f"{HERE}:returns_a_set"), {}, CTX)


@pytest.mark.parametrize("handler", ["no_colon", "os:", ":system", "os:system()", "../x:y", ""])
def test_malformed_handlers(handler):
    with pytest.raises(ActionError, match="module:function"):
        run_python(handler, {}, CTX)


def test_action_names_must_be_identifiers():
    with pytest.raises(ValueError, match="identifier"):
        action("not a name")


def test_two_functions_cannot_share_a_name():
    with pytest.raises(ValueError, match="already registered"):

        @action("double")
        def impostor(arguments: dict[str, Any], ctx: ActionContext) -> None:
            pass

    assert REGISTRY[f"{HERE}:double"] is double
