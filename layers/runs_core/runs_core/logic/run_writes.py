"""Writing a run, as runs, threads and the clients' answers do: read it (the caller's only), change it
with optimistic locking, start its execution, cancel it. Below both runs.py and threads.py (a thread
hands over by starting its next run), so neither imports the other.

Every status change is a conditional write on the run's `rev` plus its event, in one transaction
(storage.runs). On a lost race the run is re-read and the rule applied again, so the outcome is the
same as if the requests had come one after the other.
"""

from collections.abc import Callable
from typing import Any

from runs_core import clock, ids
from runs_core.changes import Change, NewEvent, StaleRun, StepUpdate
from runs_core.context import Caller
from runs_core.errors import NotFound
from runs_core.observability import COUNT, logger, put_metrics
from runs_core.run_status import CANCELLED, FAILED, STEP_CANCELLED, check_move
from runs_core.settings import get_settings
from runs_core.stores import get_stores

MAX_WRITE_ATTEMPTS = 5
# A cancel loses a race to every write of a running step (step started, decided, paused, its token
# parked), more than MAX_WRITE_ATTEMPTS of them in a burst. Each lost race is that writer's progress,
# and after the first the cancel is requested (its `lost_race`): live flushes yield to it and the next
# step writes it itself, so the writes that can still win are bounded, and a change with a `lost_race`
# retries past them.
YIELDED_WRITE_ATTEMPTS = 25


def event_expiry(run: dict[str, Any]) -> int:
    """Events outlive the longest possible run by the retention period (TTL, epoch seconds)."""
    limits = run.get("limits_max_duration_seconds", 3600)
    return int(clock.now().timestamp()) + limits + get_settings().event_retention_days * 86_400


def load_run(caller: Caller, run_id: str, consistent: bool = False) -> dict[str, Any]:
    """The caller's run; another org's run is indistinguishable from a missing one."""
    record = get_stores().runs.get(run_id, consistent) if ids.has_prefix(run_id, "run") else None
    if record is None or record["org_id"] != caller.org_id:
        raise NotFound(f"No run {run_id!r}.")
    return record


def commit(run: dict[str, Any], change: Change, yield_to_cancel: bool = False) -> dict[str, Any]:
    """Write `change` to the run as read; StaleRun if another writer got there first. A status change
    must be one the rules allow (run_status.TRANSITIONS)."""
    new_status = change.changes.get("status", run["status"])
    if new_status != run["status"]:
        check_move(run["status"], new_status)
    return get_stores().runs.commit(run, change, clock.now_iso(), event_expiry(run), yield_to_cancel)


Rule = Callable[[dict[str, Any]], Change | None]


def change_run(
    caller: Caller, run_id: str, rule: Rule, lost_race: Callable[[dict[str, Any]], None] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply `rule(run) -> Change | None` with optimistic locking, re-reading
    on a lost race (after calling `lost_race` with the run as read, which makes other writers yield: then
    up to YIELDED_WRITE_ATTEMPTS times). Returns the run as read and as written (the same when the rule
    changed nothing)."""
    for _ in range(MAX_WRITE_ATTEMPTS if lost_race is None else YIELDED_WRITE_ATTEMPTS):
        run = load_run(caller, run_id, consistent=True)
        change = rule(run)
        if change is None:
            return run, run
        try:
            written = commit(run, change)
        except StaleRun:
            if lost_race is not None:
                lost_race(run)
            continue
        return run, written
    raise StaleRun(f"run {run_id} kept changing")  # maps to 500: after those attempts, a stuck writer


def start_execution(run: dict[str, Any]) -> dict[str, Any]:
    """Start the run's state machine and return the run. If that fails the run is failed (and returned so),
    not left queued forever: the caller learns the run's id and can create another."""
    try:
        get_stores().executions.start(run["id"])
        return run
    except Exception:
        logger.exception("could not start the execution", extra={"run_id": run["id"]})
    error = {"code": "internal_error", "message": "The run could not be started."}
    try:
        failed = commit(
            run,
            Change(
                {"status": FAILED, "failed_at": clock.now_iso(), "error": error},
                [NewEvent("run.failed", {"status": FAILED, "error": error})],
            ),
        )
    except StaleRun:  # it started after all (the call failed late, or the stream router started it)
        return get_stores().runs.get(run["id"], consistent=True) or run
    put_metrics({"RunsFailed": (1, COUNT)}, ErrorCode="internal_error")
    return failed


def cancellation(run: dict[str, Any], reason: str | None) -> Change:
    """The change that cancels a run that has not ended."""
    now = clock.now_iso()
    changes = {"status": CANCELLED, "cancelled_at": now, "pending": None, "task_token": None}
    data = {"status": CANCELLED, **({"reason": reason} if reason else {})}
    change = Change({**changes, "cancel_reason": reason}, [NewEvent("run.cancelled", data)])
    if run.get("pending"):  # the approval or input it waited for will never come
        step = {"status": STEP_CANCELLED, "completed_at": now}
        change.step_updates.append(StepUpdate(run["pending_step_index"], step))
    return change
