"""Threads (docs/api.md §5): runs take turns in a thread, see its messages and share its memory.

Turn-taking: a thread is held by at most one run (`active_run_id`). A run created (or invoked) on a busy
thread is rejected (409 thread_busy) or queued behind it (`enqueue`, the default): it is `queued` but has no
execution yet. When the holding run ends, the event router (which sees every terminal event) calls
`hand_over`, which passes the thread to the next queued run and starts its execution; a request that
finds the thread held by an ended run does that hand-over itself first (`take_turn`).
Every change of the thread is conditional on its `rev` and written with the run change it belongs to.
"""

import random
import time
from typing import TYPE_CHECKING, Any, Literal

from runs_core import ids
from runs_core.changes import StaleThread, ThreadTurn
from runs_core.context import Caller
from runs_core.errors import NotFound, ThreadBusy
from runs_core.logic.run_writes import start_execution
from runs_core.observability import logger
from runs_core.pages import decode_cursor, encode_cursor
from runs_core.run_status import QUEUED, TERMINAL_STATUSES
from runs_core.storage.dynamo import KeyRange
from runs_core.stores import get_stores

if TYPE_CHECKING:
    from runs_core.models.common import Page
    from runs_core.models.threads import CreateThread, Message, Thread

Strategy = Literal["enqueue", "reject"]
MAX_HAND_OVERS = 25  # runs cancelled while queued are skipped; bounded so a bad queue cannot spin
# A run's creation on a busy thread retries while other runs take their turns first: each stale turn
# means one of them succeeded (progress, not a stuck writer), so the bound is how many runs may queue on
# one thread at the same instant, not MAX_WRITE_ATTEMPTS. A small growing jitter spreads the retries.
MAX_TURN_ATTEMPTS = 50
TURN_RETRY_JITTER_S = 0.005


def view(thread: dict[str, Any]) -> "Thread":
    # lazy, for cold start: the thread models are for the threads routes; runs take turns without them
    from runs_core.models.threads import Thread

    active = thread.get("active_run_id")
    return Thread.model_validate(
        {**thread, "status": "busy" if active else "idle", "queued_run_ids": thread.get("queue") or []}
    )


def create_thread(caller: Caller, request: "CreateThread") -> "Thread":
    thread_id, created_at = ids.new_id_at("thr")
    thread = {
        "id": thread_id,
        "org_id": caller.org_id,
        "metadata": request.metadata,
        "created_at": created_at,
    }
    if request.agent is not None:
        from runs_core.logic.agents import load_agent  # lazy, for cold start: the agent models

        thread["agent_id"] = load_agent(caller, request.agent)["id"]
    return view(get_stores().threads.create(thread))


def load_thread(caller: Caller, thread_id: str, consistent: bool = False) -> dict[str, Any]:
    """The caller's thread; another org's thread is indistinguishable from a missing one."""
    record = (
        get_stores().threads.get(caller.org_id, thread_id, consistent)
        if ids.has_prefix(thread_id, "thr")
        else None
    )
    if record is None:
        raise NotFound(f"No thread {thread_id!r}.")
    return record


def get_thread(caller: Caller, thread_id: str) -> "Thread":
    return view(load_thread(caller, thread_id))


def list_threads(caller: Caller, limit: int, cursor: str | None) -> "Page[Thread]":
    from runs_core.models.common import Page  # lazy, for cold start (as view)
    from runs_core.models.threads import Thread

    before = decode_cursor(cursor, caller.org_id, "threads", {}) if cursor else None
    key_range = KeyRange("id", "thr_", before or "thr_~", exclusive_high=before is not None)
    items = get_stores().threads.page(caller.org_id, key_range, limit + 1)
    page = items[:limit]
    next_cursor = encode_cursor(caller.org_id, "threads", {}, page[-1]["id"]) if len(items) > limit else None
    return Page[Thread](items=[view(item) for item in page], next_cursor=next_cursor)


# ------------------------------------------------------------------------------ turn-taking


def take_turn(thread: dict[str, Any], run_id: str, strategy: Strategy) -> tuple[ThreadTurn, bool]:
    """The turn that gives the thread to `run_id` (True: start it now) or queues the run behind the
    current one (False), written with the run's change. ThreadBusy when busy and the strategy is reject.
    A thread held by a run that has ended is handed over first (`free_of_ended_holder`)."""
    thread = free_of_ended_holder(thread)
    queue = list(thread.get("queue") or [])
    if not thread.get("active_run_id"):
        return ThreadTurn(thread, run_id, queue), True
    if strategy == "reject":
        raise ThreadBusy(f"Thread {thread['id']} is busy with run {thread['active_run_id']}.")
    return ThreadTurn(thread, thread["active_run_id"], [*queue, run_id]), False


def free_of_ended_holder(thread: dict[str, Any]) -> dict[str, Any]:
    """The thread, handed over first if the run holding it has ended (one read when the thread is busy).

    The event router hands a thread on after its run's terminal event is written, so a client that saw
    the run end (its event stream closed on `run.completed`) can ask for the next run before that, and
    would find the thread still busy (409 with `reject`). The hand-over the router would do is done here
    first (idempotent: the router's own then finds the thread passed on), so a thread is free as soon as
    its run's end can be seen."""
    holder = thread.get("active_run_id")
    if not holder:
        return thread
    stores = get_stores()
    run = stores.runs.get(holder, consistent=True)
    if run is None or run["status"] not in TERMINAL_STATUSES:
        return thread
    hand_over(thread["org_id"], thread["id"], holder)
    return stores.threads.get(thread["org_id"], thread["id"], consistent=True) or thread


def pause_after_stale_turn(attempt: int) -> None:
    time.sleep(random.uniform(0, TURN_RETRY_JITTER_S * min(attempt + 1, 10)))


def hand_over(org_id: str, thread_id: str, finished_run_id: str) -> None:
    """Pass the thread on from a run that ended to the next queued run, and start that run. Idempotent:
    a thread no longer held by `finished_run_id` is left alone (a redelivered event, or already passed on)."""
    stores = get_stores()
    for _ in range(MAX_HAND_OVERS):
        thread = stores.threads.get(org_id, thread_id, consistent=True)
        if thread is None or thread.get("active_run_id") != finished_run_id:
            return
        queue = list(thread.get("queue") or [])
        next_run_id = queue.pop(0) if queue else None
        try:
            stores.threads.set_turn(ThreadTurn(thread, next_run_id, queue))
        except StaleThread:
            continue  # someone queued a run meanwhile: read the thread again
        if next_run_id is None:
            return
        run = stores.runs.get(next_run_id, consistent=True)
        if run is not None and run["status"] == QUEUED:
            logger.info("thread handed over", extra={"thread_id": thread_id, "run_id": next_run_id})
            start_execution(run)
            return
        if run is not None and run["status"] not in TERMINAL_STATUSES:
            return  # not expected (only queued runs wait for a thread); keep it as the holder
        finished_run_id = next_run_id  # cancelled while it waited: pass the thread on again
    logger.warning("thread hand-over stopped after too many skipped runs", extra={"thread_id": thread_id})


# ------------------------------------------------------------------------------ messages


def list_messages(caller: Caller, thread_id: str, limit: int, cursor: str | None) -> "Page[Message]":
    from runs_core.models.common import Page  # lazy, for cold start (as view)
    from runs_core.models.threads import Message

    load_thread(caller, thread_id)
    scope = f"messages:{thread_id}"
    after = decode_cursor(cursor, caller.org_id, scope, {}) if cursor else None
    items = get_stores().threads.messages(thread_id, after, limit + 1)
    page = items[:limit]
    next_cursor = encode_cursor(caller.org_id, scope, {}, page[-1]["id"]) if len(items) > limit else None
    return Page[Message](items=[Message.model_validate(item) for item in page], next_cursor=next_cursor)
