"""The tool calls of the last decision: each unresolved one is run now (its result fed back to the
model, failures too), or the run pauses for it (an approval it requires, or `ask_user`'s input)."""

from typing import Any

from runs_core import clock
from runs_core.changes import Change
from runs_core.execution.ending import fail
from runs_core.execution.limits import limit_breach
from runs_core.execution.prompt import builtin_name
from runs_core.execution.unit import Progress, new_step
from runs_core.execution.waits import pause
from runs_core.logic import conversation
from runs_core.logic.run_writes import commit
from runs_core.observability import traced
from runs_core.run_status import STEP_COMPLETED, STEP_FAILED, STEP_RESULTS
from runs_core.stores import get_stores


def unresolved_calls(steps: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Tool calls of the last decision without a result yet, each with its approval step if any."""
    decision = next((step for step in reversed(steps) if step["type"] == "decision"), None)
    if decision is None:
        return []
    later = [step for step in steps if step["index"] > decision["index"]]
    resolved = {
        step["tool_call_id"]
        for step in later
        if (step["type"] in ("action", "input") and step["status"] in STEP_RESULTS)
        or (step["type"] == "approval" and (step.get("output") or {}).get("decision") == "reject")
    }
    approvals = {step["tool_call_id"]: step for step in later if step["type"] == "approval"}
    calls = (decision.get("output") or {}).get("tool_calls") or []
    return [(call, approvals.get(call["id"])) for call in calls if call["id"] not in resolved]


def action_spec(definition: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((action for action in definition.get("actions", []) if action["name"] == name), None)


def resolve_calls(
    run: dict[str, Any], definition: dict[str, Any], progress: Progress
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Run, or pause for, each unresolved tool call. Returns the run and the wait result if it paused."""
    for call, approval in unresolved_calls(progress.steps):
        breach = limit_breach(run, progress)
        if breach:
            return fail(run, *breach), None
        spec = action_spec(definition, call["name"])
        if spec is not None and builtin_name(spec) == "ask_user":
            return pause(run, definition, "input", call)
        if spec is not None and spec.get("requires_approval") and approval is None:
            return pause(run, definition, "approval", call)
        run = run_action(run, call, spec, progress)
    return run, None


def run_action(
    run: dict[str, Any], call: dict[str, Any], spec: dict[str, Any] | None, progress: Progress
) -> dict[str, Any]:
    """Execute one action now and record it with its tool.result (failures are fed back to the model)."""
    # lazy (cold start): the action runners load only when a step runs an action
    from runs_core.actions.base import ActionContext, ActionError

    outputs: dict[str, Any] = {}
    memory = RunMemory(run)
    context = ActionContext(
        run_id=run["id"],
        org_id=run["org_id"],
        agent_id=run["agent_id"],
        memory=memory,
        set_output=outputs.__setitem__,
    )
    error: dict[str, str] | None = None
    result: Any = None
    if spec is None:
        error = {"code": "action_error", "message": f"unknown action {call['name']!r}"}
    else:
        try:
            result = execute_action(spec, call["arguments"], context)
        except ActionError as failure:
            error = {"code": "action_error", "message": str(failure)}
    step = new_step(
        run,
        "action",
        STEP_FAILED if error else STEP_COMPLETED,
        action=call["name"],
        tool_call_id=call["id"],
        input={"arguments": call["arguments"]},
        output=None if error else result,
        error=error,
    )
    change = Change({"step_count": step["index"] + 1}, new_steps=[step])
    if outputs:
        change.changes["output_values"] = {**run.get("output_values", {}), **outputs}
    change.event("step.started", step_id=step["id"], index=step["index"], type="action")
    change.event("tool.result", step_id=step["id"], action=call["name"], result=error or result)
    change.event("step.completed", step_id=step["id"], index=step["index"], status=step["status"])
    run = commit(run, change)
    progress.steps.append(step)
    return run


@traced
def execute_action(spec: dict[str, Any], arguments: dict[str, Any], context: Any) -> Any:
    from runs_core.actions.executor import execute  # lazy (cold start), as above

    return execute(spec, arguments, context)


class RunMemory:
    """The run's memory for builtins (`memory_get` / `memory_set`): the thread's for a run in a thread."""

    def __init__(self, run: dict[str, Any]) -> None:
        self.scope = conversation.memory_scope(run)

    def get(self, key: str) -> Any:
        return get_stores().memory.get(self.scope, key)

    def set(self, key: str, value: Any) -> None:
        get_stores().memory.put(self.scope, key, value, clock.now_iso())
