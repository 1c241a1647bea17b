"""Runs one action (docs/api.md §3 `actions[].kind`): the engine's Executor.

Any failure comes back as ActionError with a short message for the model; an unexpected exception is
logged (with its traceback) and reported only by type, so no stack trace or secret reaches the model.
"""

from typing import Any

from runs_core.actions.base import ActionContext, ActionError
from runs_core.actions.builtins import BUILTINS
from runs_core.actions.lambda_action import invoke_lambda
from runs_core.actions.python import run_python
from runs_core.actions.webhooks import call_webhook
from runs_core.observability import logger

ENGINE_BUILTINS = ("ask_user",)  # handled by the engine (the run waits for input), never here


def execute(spec: dict[str, Any], arguments: dict[str, Any], ctx: ActionContext) -> Any:
    """The action's JSON result, or ActionError. `ask_user` raises ValueError: it is the engine's job."""
    kind = spec.get("kind")
    name = spec.get("name")
    if kind == "builtin" and (spec.get("builtin") or name) in ENGINE_BUILTINS:
        raise ValueError("ask_user is handled by the engine, not by the action executor")
    if not isinstance(arguments, dict):
        raise ActionError("arguments must be a JSON object")
    try:
        return _dispatch(kind, spec, arguments, ctx)
    except ActionError:
        raise
    except Exception as error:
        logger.exception("action failed", extra={"action": name, "kind": kind, "run_id": ctx.run_id})
        raise ActionError(f"action {name!r} failed: {type(error).__name__}") from None


def _dispatch(kind: Any, spec: dict[str, Any], arguments: dict[str, Any], ctx: ActionContext) -> Any:
    if kind == "builtin":
        builtin = spec.get("builtin") or spec.get("name")
        function = BUILTINS.get(builtin) if isinstance(builtin, str) else None
        if function is None:
            raise ActionError(f"unknown builtin action {builtin!r}")
        return function(arguments, ctx)
    if kind == "python":
        return run_python(spec.get("handler", ""), arguments, ctx)
    if kind == "http":
        return call_webhook(spec, arguments, ctx)
    if kind == "lambda":
        return invoke_lambda(spec, arguments, ctx)
    raise ActionError(f"unknown action kind {kind!r}")
