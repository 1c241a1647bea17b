"""`python` actions: functions the deployment ships, registered with `@action` (docs/api.md §3).

An agent definition names a handler as "module:function"; it runs only if that function was
registered with `@action`, so a definition cannot call arbitrary code such as `os:system`. A module
that is not registered yet is imported only if it lies in a package of RUNS_API_ACTION_PACKAGES
(default `user_actions`), so a definition cannot import arbitrary modules either.

    from runs_core.actions.python import action

    @action                      # handler "my_module:lookup"
    def lookup(arguments, ctx): ...

    @action("find_customer")     # handler "my_module:find_customer"
    def _find(arguments, ctx): ...
"""

import importlib
import json
import re
from collections.abc import Callable
from typing import Any, overload

from runs_core.actions.base import ActionContext, ActionError
from runs_core.actions.config import get_actions_config

ActionFunction = Callable[[dict[str, Any], ActionContext], Any]
HANDLER_PATTERN = re.compile(r"^([A-Za-z_][\w.]*):([A-Za-z_]\w*)$")
_NAME_PATTERN = re.compile(r"^[A-Za-z_]\w*$")

# "module:name" → the function. Filled at import time by @action.
REGISTRY: dict[str, ActionFunction] = {}


@overload
def action[F: ActionFunction](function: F, /) -> F: ...


@overload
def action[F: ActionFunction](name: str | None = None, /) -> Callable[[F], F]: ...


def action(function_or_name: Any = None, /) -> Any:
    """Register a function as a python action: `@action` or `@action("name")`.

    The function takes (arguments: dict, ctx: ActionContext) and returns JSON-serialisable data.
    Raise ActionError for a failure the model should read; any other exception reaches the model
    only as "action … failed: <ExceptionType>".
    """
    if callable(function_or_name):
        return _register(function_or_name, None)
    if function_or_name is not None and not (
        isinstance(function_or_name, str) and _NAME_PATTERN.match(function_or_name)
    ):
        raise ValueError(f"action name must be a Python identifier, not {function_or_name!r}")

    def decorate(function: ActionFunction) -> ActionFunction:
        return _register(function, function_or_name)

    return decorate


def _register(function: ActionFunction, name: str | None) -> ActionFunction:
    key = f"{function.__module__}:{name or function.__name__}"
    existing = REGISTRY.get(key)
    # Re-registering the same function (a module reloaded) is fine; two functions under one name are not.
    if existing is not None and existing.__qualname__ != function.__qualname__:
        raise ValueError(f"python action {key} is already registered")
    REGISTRY[key] = function
    return function


def run_python(handler: str, arguments: dict[str, Any], ctx: ActionContext) -> Any:
    """Call the registered function `handler` ("module:function"); its result must be JSON-serialisable."""
    function = _lookup(handler)
    result = function(arguments, ctx)
    try:
        json.dumps(result)
    except (TypeError, ValueError):
        raise ActionError(f"python action {handler} returned data that is not JSON-serialisable") from None
    return result


def _lookup(handler: str) -> ActionFunction:
    match = HANDLER_PATTERN.match(handler) if isinstance(handler, str) else None
    if match is None:
        raise ActionError("a python action's handler must look like module:function")
    function = REGISTRY.get(handler)
    if function is None and _importable(match.group(1)):
        try:
            importlib.import_module(match.group(1))
        except ImportError:
            raise ActionError(f"python action {handler}: module not found") from None
        function = REGISTRY.get(handler)
    if function is None:
        raise ActionError(f"{handler} is not a registered python action (register it with @action)")
    return function


def _importable(module: str) -> bool:
    return any(
        module == package or module.startswith(package + ".")
        for package in get_actions_config().action_packages
    )
