"""Runs whose execution ended without recording it: the end of an execution, as EventBridge reports it.

The state machine records every end it sees (its Catch fails the run with internal_error). Some ends it
cannot see: Step Functions times the execution out (a run's waits and duration may be up to a year, an
execution's too), an operator or the service aborts it, or it fails outside the Catch (e.g. the history
limit). Then the run would stay non-terminal for ever. ExecutionEndedFunction receives Step Functions'
"Execution Status Change" events for FAILED, TIMED_OUT and ABORTED and ends such a run: failed with
`timeout` (timed out) or `internal_error`, or cancelled when a cancel had been asked for (POST …/cancel
stops the execution; its own write usually lands first, and then nothing is left to do here).
"""

import json
from typing import Any

from runs_core.changes import StaleRun
from runs_core.execution.ending import cancellation, fail
from runs_core.execution.unit import MAX_WRITE_ATTEMPTS, load
from runs_core.logic.run_writes import commit
from runs_core.observability import logger
from runs_core.run_status import CANCELLED, FAILED, TERMINAL_STATUSES

WATCHED_STATUSES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
TIMED_OUT_MESSAGE = "The run's execution timed out before the run ended."
ENDED_MESSAGE = "The run stopped because its execution ended unexpectedly."


def run_id_of(detail: dict[str, Any]) -> str | None:
    """The run of an execution: its input's run_id, else its name (executions are named after runs)."""
    try:
        data = json.loads(detail.get("input") or "{}")
    except (TypeError, ValueError):
        data = {}
    run_id = data.get("run_id") if isinstance(data, dict) else None
    return str(run_id or detail.get("name") or "") or None


def handle_status_change(event: dict[str, Any]) -> dict[str, Any]:
    """End the run of a FAILED, TIMED_OUT or ABORTED execution if it is not terminal yet."""
    detail = event.get("detail") or {}
    status = detail.get("status")
    run_id = run_id_of(detail)
    if status not in WATCHED_STATUSES or run_id is None:
        return {"run_id": run_id, "ended": None}
    for _ in range(MAX_WRITE_ATTEMPTS):
        run = load(run_id)
        if run is None or run["status"] in TERMINAL_STATUSES or _superseded(run, detail):
            return {"run_id": run_id, "ended": None}
        try:
            return {"run_id": run_id, "ended": _end(run, status)}
        except StaleRun:
            continue  # the run changed meanwhile: look again
    raise StaleRun("the run kept changing while its execution's end was recorded")


def _superseded(run: dict[str, Any], detail: dict[str, Any]) -> bool:
    """The execution that ended is not the run's: the run continued in another (tasks.adopt)."""
    current = run.get("execution_arn")
    return bool(current) and detail.get("executionArn") != current


def _end(run: dict[str, Any], status: str) -> str:
    logger.warning("run outlived its execution", extra={"run_id": run["id"], "execution_status": status})
    if status == "ABORTED" and run.get("cancel_requested_at"):
        commit(run, cancellation(run))
        return CANCELLED
    if status == "TIMED_OUT":
        fail(run, "timeout", TIMED_OUT_MESSAGE)
    else:
        fail(run, "internal_error", ENDED_MESSAGE)
    return FAILED
