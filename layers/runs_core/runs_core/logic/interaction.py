"""What clients do to a running run (docs/api.md §4): approve or reject, answer input, wait, read steps,
memory."""

import json
import time
from typing import Any, Literal

from runs_core import clock
from runs_core.context import Caller
from runs_core.errors import InvalidState, NotFound, RunNotCompleted, ValidationFailed
from runs_core.logic import threads
from runs_core.logic.runs import change_run, create_run, load_run, view
from runs_core.models.common import Page
from runs_core.models.runs import (
    TERMINAL_STATUSES,
    MemoryEntry,
    MemoryItems,
    Run,
    RunOptions,
    Step,
    SubmitApproval,
    SubmitInput,
)
from runs_core.pages import decode_cursor, encode_cursor
from runs_core.storage.runs import NewEvent
from runs_core.stores import get_stores

MAX_WAIT_SECONDS = 25
MAX_MEMORY_VALUE_BYTES = 64 * 1024
WAIT_POLL_SECONDS = (0.1, 0.2, 0.3, 0.5)  # then every 0.5 s


def _decide(caller: Caller, run_id: str, waiting: str, output: dict[str, Any], event: NewEvent) -> Run:
    """Record a decision on the pending step and resume the execution. One of concurrent decisions wins;
    the others find the run no longer waiting and get 409."""

    def decide(run: dict[str, Any]) -> tuple[dict[str, Any], list[NewEvent], tuple[dict[str, Any], ...]]:
        if run["status"] != waiting:
            raise InvalidState(f"The run is {run['status']}, not {waiting}.")
        step_update = get_stores().steps.update_item(
            run["id"],
            run["pending_step_index"],
            {"status": "completed", "completed_at": clock.now_iso(), "output": output},
        )
        changes = {"status": "running", "pending": None, "task_token": None}
        return changes, [event], (step_update,)

    before, after = change_run(caller, run_id, decide)
    if before.get("task_token"):
        get_stores().executions.resume(before["task_token"], run_id)
    # Without a token yet, the wait task's `park` sees the decision and resumes by itself.
    return view(after)


def submit_approval(caller: Caller, run_id: str, request: SubmitApproval) -> Run:
    output = {"decision": request.decision, "comment": request.comment}
    data = {
        "status": "running",
        "decision": request.decision,
        **({"comment": request.comment} if request.comment else {}),
    }
    return _decide(caller, run_id, "waiting_approval", output, NewEvent("run.approval_decided", data))


def submit_input(caller: Caller, run_id: str, request: SubmitInput) -> Run:
    output = {"content": request.content} if request.content is not None else {"data": request.data}
    return _decide(
        caller, run_id, "waiting_for_input", output, NewEvent("run.input_received", {"status": "running"})
    )


def wait_for_run(caller: Caller, run_id: str, timeout: int) -> Run:
    """The run once it is terminal or waiting for someone, or as it is after `timeout` seconds."""
    deadline = time.monotonic() + min(timeout, MAX_WAIT_SECONDS)
    attempt = 0
    while True:
        run = load_run(caller, run_id, consistent=True)
        remaining = deadline - time.monotonic()
        if run["status"] in TERMINAL_STATUSES or run["status"].startswith("waiting") or remaining <= 0:
            return view(run)
        time.sleep(min(remaining, WAIT_POLL_SECONDS[min(attempt, len(WAIT_POLL_SECONDS) - 1)]))
        attempt += 1


def run_and_wait(caller: Caller, agent_ref: str, request: RunOptions, timeout: int) -> Run:
    """Create a run and wait for it (POST /v1/agents/{agent}/run). A failed or cancelled run is an error
    (422 run_failed); otherwise the run as it is when it completed, waits for someone, or time is up."""
    if not request.start:
        message = "a synchronous run always starts; use POST /v1/agents/{agent}/runs to create one unstarted"
        raise ValidationFailed(message, [{"field": "start", "code": "const", "message": message}])
    run = wait_for_run(caller, create_run(caller, agent_ref, request).id, timeout)
    if run.status in ("failed", "cancelled"):
        error = (
            run.error.model_dump()
            if run.error
            else {"code": "cancelled", "message": "The run was cancelled."}
        )
        raise RunNotCompleted(
            f"The run {run.status}: {error['message']}", run_id=run.id, run_status=run.status, error=error
        )
    return run


def list_steps(caller: Caller, run_id: str, limit: int, cursor: str | None) -> Page[Step]:
    load_run(caller, run_id)
    scope = f"steps:{run_id}"
    after = int(decode_cursor(cursor, caller.org_id, scope, {})) if cursor else -1
    items = get_stores().steps.page(run_id, after, limit + 1)
    page = items[:limit]
    next_cursor = (
        encode_cursor(caller.org_id, scope, {}, str(page[-1]["index"])) if len(items) > limit else None
    )
    return Page[Step](items=[Step.model_validate(item) for item in page], next_cursor=next_cursor)


MemoryOwner = Literal["run", "thread"]


def memory_scope(caller: Caller, owner: MemoryOwner, owner_id: str) -> str:
    """The memory a route addresses: a run's (a thread's, for a run in a thread) or a thread's."""
    if owner == "thread":
        return f"thread#{threads.load_thread(caller, owner_id)['id']}"
    return threads.memory_scope(load_run(caller, owner_id))


def get_memory(caller: Caller, owner: MemoryOwner, owner_id: str) -> MemoryItems:
    return MemoryItems(items=get_stores().memory.items(memory_scope(caller, owner, owner_id)))


def put_memory(caller: Caller, owner: MemoryOwner, owner_id: str, key: str, value: Any) -> MemoryEntry:
    if len(json.dumps(value)) > MAX_MEMORY_VALUE_BYTES:
        message = f"must be at most {MAX_MEMORY_VALUE_BYTES} bytes as JSON"
        raise ValidationFailed(
            f"value {message}", [{"field": "value", "code": "max_length", "message": message}]
        )
    get_stores().memory.put(memory_scope(caller, owner, owner_id), key, value, clock.now_iso())
    return MemoryEntry(key=key, value=value)


def delete_memory(caller: Caller, owner: MemoryOwner, owner_id: str, key: str) -> None:
    if not get_stores().memory.delete(memory_scope(caller, owner, owner_id), key):
        raise NotFound(f"No memory entry {key!r}.")
