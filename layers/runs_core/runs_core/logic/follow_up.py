"""What a run's event obliges the service to do next, done by the event log's stream router.

The router sees every event once or more and retries a record whose follow-up failed, so what is done here
is durable where the request that wrote the event is not (a Lambda that dies between writing a run and
starting its execution), and must be idempotent:
- `run.queued`: the run's execution is started if the run still waits for it and is not waiting for its
  thread's turn. StartExecution with the run id as the name is idempotent, so a run its request already
  started is not started twice.
- a terminal event of a run in a thread: the thread goes to the next queued run (threads.hand_over).
"""

from typing import Any

from runs_core.logic import threads
from runs_core.run_status import QUEUED
from runs_core.stores import get_stores

TERMINAL_EVENTS = frozenset({"run.completed", "run.failed", "run.cancelled"})


def follow_up(event: dict[str, Any]) -> None:
    """`event`: an item of the event log (run_id, type, org_id, thread_id?, …)."""
    org_id, run_id, thread_id = str(event["org_id"]), str(event["run_id"]), event.get("thread_id")
    if event.get("type") == "run.queued":
        ensure_started(org_id, run_id, thread_id)
    elif event.get("type") in TERMINAL_EVENTS and thread_id:
        threads.hand_over(org_id, str(thread_id), run_id)


def ensure_started(org_id: str, run_id: str, thread_id: str | None) -> None:
    stores = get_stores()
    run = stores.runs.get(run_id, consistent=True)
    if run is None or run["status"] != QUEUED:
        return  # running already, or ended, or cancelled while queued
    if thread_id:
        thread = stores.threads.get(org_id, thread_id, consistent=True)
        if thread is None or thread.get("active_run_id") != run_id:
            return  # queued behind the thread's current run: hand_over starts it
    # Not start_execution: a failure here must not fail a run whose own request may have started it;
    # it fails the record instead, which the stream retries.
    stores.executions.start(run_id)
