"""Waits for someone: a step pauses the run for approval or input, the wait task parks its task token
on the run (`park`), the API's decision completes the token, and `expire` ends a wait that timed out."""

from datetime import timedelta
from typing import Any

from runs_core import clock
from runs_core.changes import Change, StepUpdate
from runs_core.execution.ending import fail
from runs_core.execution.unit import done, load, new_step
from runs_core.logic.run_writes import commit
from runs_core.run_status import STEP_FAILED, STEP_PENDING, TERMINAL_STATUSES, WAITING_FOR, is_waiting
from runs_core.stores import get_stores


def pause(
    run: dict[str, Any], definition: dict[str, Any], kind: str, call: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    limits = definition.get("limits", {})
    timeout = int(limits.get(f"{kind}_timeout_seconds", 86_400))
    expires_at = clock.iso(clock.now() + timedelta(seconds=timeout))
    step = new_step(
        run,
        kind,
        STEP_PENDING,
        action=call["name"],
        tool_call_id=call["id"],
        input={"arguments": call["arguments"]},
    )
    pending: dict[str, Any] = {"type": kind, "step_id": step["id"], "expires_at": expires_at}
    if kind == "approval":
        pending.update(action=call["name"], arguments=call["arguments"])
    else:
        pending["prompt"] = str(call["arguments"].get("prompt", ""))
    status = WAITING_FOR[kind]
    change = Change(
        {
            "status": status,
            "pending": pending,
            "pending_step_index": step["index"],
            "wait_seconds": timeout,
            "step_count": step["index"] + 1,
        },
        new_steps=[step],
    )
    change.event("step.started", step_id=step["id"], index=step["index"], type=kind)
    change.event(f"run.{status}", status=status, pending=pending)
    run = commit(run, change)
    return run, wait_result(run)


def wait_result(run: dict[str, Any]) -> dict[str, Any]:
    pending = run["pending"]
    return {
        "next": pending["type"],
        "run_id": run["id"],
        "step_id": pending["step_id"],
        "wait_seconds": int(run.get("wait_seconds", 86_400)),
    }


def park(run_id: str, step_id: str, task_token: str) -> dict[str, Any]:
    """Store the wait task's token on the run. If the decision came first, resume at once."""
    run = load(run_id)
    if run is None or run["status"] in TERMINAL_STATUSES:
        return {}
    if is_waiting(run["status"]) and (run.get("pending") or {}).get("step_id") == step_id:
        commit(run, Change({"task_token": task_token}))
        return {}
    get_stores().executions.resume(task_token, run_id)  # decided before the token got here
    return {}


def expire(run_id: str, step_id: str) -> dict[str, Any]:
    """The wait timed out: fail the run, unless the decision got there first (then go on)."""
    run = load(run_id)
    if run is None or run["status"] in TERMINAL_STATUSES:
        return done(run_id)
    pending = run.get("pending") or {}
    if pending.get("step_id") != step_id:
        return {"next": "continue", "run_id": run_id}
    code = f"{pending['type']}_timeout"
    failed = {
        "status": STEP_FAILED,
        "completed_at": clock.now_iso(),
        "error": {"code": code, "message": "timed out"},
    }
    change = Change(step_updates=[StepUpdate(run["pending_step_index"], failed)])
    fail(run, code, f"No {pending['type']} arrived before {pending['expires_at']}.", change)
    return done(run_id)
