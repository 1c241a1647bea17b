"""An example python action. Agent definition: {"name": "add", "kind": "python",
"handler": "user_actions.examples:add", "parameters": {"type": "object", "required": ["a", "b"],
"properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}.
"""

from typing import Any

from runs_core.actions.base import ActionContext, ActionError
from runs_core.actions.python import action


@action
def add(arguments: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """{a, b} → {"sum": a + b}."""
    numbers = []
    for name in ("a", "b"):
        value = arguments.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ActionError(f"`{name}` must be a number")
        numbers.append(value)
    return {"sum": sum(numbers)}
