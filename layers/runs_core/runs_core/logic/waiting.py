"""Waiting for a run (docs/api.md §4): the long poll (POST /v1/runs/{id}/wait) and the synchronous run
(POST /v1/agents/{agent}/run)."""

import time

from runs_core.context import Caller
from runs_core.errors import RunNotCompleted, ValidationFailed
from runs_core.logic.runs import create_run, load_run, view
from runs_core.models.runs import Run, RunOptions
from runs_core.run_status import CANCELLED, FAILED, is_terminal, is_waiting

MAX_WAIT_SECONDS = 25
WAIT_POLL_SECONDS = (0.1, 0.2, 0.3, 0.5)  # then every 0.5 s


def wait_for_run(caller: Caller, run_id: str, timeout: int) -> Run:
    """The run once it is terminal or waiting for someone, or as it is after `timeout` seconds."""
    deadline = time.monotonic() + min(timeout, MAX_WAIT_SECONDS)
    attempt = 0
    while True:
        run = load_run(caller, run_id, consistent=True)
        remaining = deadline - time.monotonic()
        if is_terminal(run["status"]) or is_waiting(run["status"]) or remaining <= 0:
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
    if run.status in (FAILED, CANCELLED):
        error = (
            run.error.model_dump()
            if run.error
            else {"code": "cancelled", "message": "The run was cancelled."}
        )
        raise RunNotCompleted(
            f"The run {run.status}: {error['message']}", run_id=run.id, run_status=run.status, error=error
        )
    return run
