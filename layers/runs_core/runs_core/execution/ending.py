"""A run's end from inside its execution: failed (a limit, a model error, a timeout, an unexpected
error) or cancelled (a cancel that lost its races to the step's writes), and how long it ran."""

from datetime import datetime
from typing import Any

from runs_core import clock
from runs_core.changes import Change
from runs_core.execution.metering import run_finished
from runs_core.execution.unit import done, load
from runs_core.logic.run_writes import cancellation as run_cancellation
from runs_core.logic.run_writes import commit
from runs_core.observability import logger
from runs_core.run_status import FAILED, TERMINAL_STATUSES


def epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def duration_ms(run: dict[str, Any], now: str) -> int | None:
    started_at = run.get("started_at")
    return int((epoch(now) - epoch(started_at)) * 1000) if started_at else None


def fail(run: dict[str, Any], code: str, message: str, change: Change | None = None) -> dict[str, Any]:
    change = change or Change()
    now = clock.now_iso()
    error = {"code": code, "message": message}
    change.changes.update(
        {"status": FAILED, "failed_at": now, "error": error, "pending": None, "task_token": None}
    )
    change.changes["duration_ms"] = duration_ms(run, now)
    change.event("run.failed", status=FAILED, error=error)
    written = commit(run, change)
    run_finished("RunsFailed", {**run, **change.changes}, ErrorCode=code)
    return written


def cancellation(run: dict[str, Any]) -> Change:
    """The cancel that was requested (its requester lost races to this run's writes)."""
    return run_cancellation(run, run.get("cancel_reason"))


def fail_unexpectedly(run_id: str, error: Any) -> dict[str, Any]:
    """The state machine caught an error: record `internal_error` (details go to the log, not the API)."""
    logger.error("run failed unexpectedly", extra={"run_id": run_id, "error": error})
    run = load(run_id)
    if run is not None and run["status"] not in TERMINAL_STATUSES:
        fail(run, "internal_error", "The run stopped because of an internal error.")
    return done(run_id)
