"""One agent step: start a queued run, resolve the last decision's tool calls, ask the model for the
next decision, and resolve the calls it made; what the state machine does next is what it returns."""

from typing import Any

from runs_core import clock
from runs_core.changes import Change
from runs_core.execution.decision import decide
from runs_core.execution.ending import cancellation
from runs_core.execution.prompt import user_turn
from runs_core.execution.tool_calls import resolve_calls
from runs_core.execution.unit import Progress, definition_of, done, load
from runs_core.execution.waits import wait_result
from runs_core.logic import conversation
from runs_core.logic.run_writes import commit
from runs_core.observability import bind, traced
from runs_core.run_status import QUEUED, RUNNING, TERMINAL_STATUSES, is_waiting
from runs_core.stores import get_stores


@traced
def step(run_id: str) -> dict[str, Any]:
    run = load(run_id)
    if run is None or run["status"] in TERMINAL_STATUSES:
        return done(run_id)
    bind(org_id=run["org_id"], step_index=run.get("step_count", 0))
    if run.get("cancel_requested_at"):  # its requester lost races to this run's writes: finish it here
        commit(run, cancellation(run))
        return done(run_id)
    if is_waiting(run["status"]):
        # Resumed while the run still waits (a decision was taken back?): keep waiting.
        return wait_result(run)
    if run["status"] == QUEUED:
        start = Change({"status": RUNNING, "started_at": clock.now_iso()})
        start.event("run.started", status=RUNNING)
        if run.get("thread_id"):  # the user's turn joins the thread's conversation as the run starts
            start.messages.append(conversation.message_record(run, "user", user_turn(run)))
        run = commit(run, start)

    definition = definition_of(run)
    org = get_stores().orgs.get(run["org_id"])
    progress = Progress(get_stores().steps.all(run_id), org["credits_balance"] if org else 0)
    run, paused = resolve_calls(run, definition, progress)
    if paused is not None:
        return paused
    if run["status"] in TERMINAL_STATUSES:
        return done(run_id)
    run, finished = decide(run, definition, progress)
    if finished:
        return done(run_id)
    run, paused = resolve_calls(run, definition, progress)
    if paused is not None:
        return paused
    return {"next": "done" if run["status"] in TERMINAL_STATUSES else "continue", "run_id": run_id}
