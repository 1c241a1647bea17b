"""Reading a run's event log (docs/api.md §6): pages for polling, and Server-Sent Events frames.

SSE frames come from one generator, `sse_frames`. A host that streams (the local server; deployed, the
Lambda Web Adapter's web server, runs_core.api.lwa_server) writes each frame as it is produced; a plain
Lambda handler joins them into one buffered body (runs_core.api.sse).
"""

import json
import time
from collections.abc import Callable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from runs_core.context import Caller
from runs_core.errors import ValidationFailed
from runs_core.logic.run_writes import load_run
from runs_core.models.bounds import MAX_INTEGER
from runs_core.run_status import TERMINAL_STATUSES
from runs_core.settings import get_settings
from runs_core.storage.events import EventLog

if TYPE_CHECKING:
    from runs_core.models.events import EventPage

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_WAIT_SECONDS = 25  # a buffered SSE response (API Gateway waits for the whole body)
MAX_STREAM_WAIT_SECONDS = 900  # a live stream (Lambda's and API Gateway streaming's 15-minute cap)
POLL_SECONDS = 0.2  # deployed, a live reader reads the log again this often (each read: one Query)
HEARTBEAT_SECONDS = 10.0
RETRY_MS = 1000
TERMINAL_EVENT_TYPES = frozenset({"run.completed", "run.failed", "run.cancelled"})


class NewEvents(Protocol):
    """How a live reader learns that a run's log may have grown: `mark(run_id)` before reading it, then
    `wait(mark, timeout)` returns once something of the run may have been written since (or at the
    timeout)."""

    def mark(self, run_id: str) -> Any: ...

    def wait(self, mark: Any, timeout: float) -> None: ...


class PollEvery:
    """DynamoDB pushes nothing to a reader: read again after `seconds`."""

    def __init__(self, seconds: float = POLL_SECONDS, sleep: Callable[[float], None] = time.sleep) -> None:
        self.seconds = seconds
        self._sleep = sleep

    def mark(self, run_id: str) -> None:
        return None

    def wait(self, mark: Any, timeout: float) -> None:
        self._sleep(min(self.seconds, max(0.0, timeout)))


_new_events: NewEvents = PollEvery()


def use_new_events(source: NewEvents) -> None:
    """Replace polling where the host can tell when events are written (the local stack does)."""
    global _new_events
    _new_events = source


@cache
def event_log() -> EventLog:
    return EventLog(get_settings().events_table)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field} {message}", [{"field": field, "code": "invalid", "message": message}])


def resume_point(after_seq: int | None, starting_after: int | None, last_event_id: str | None = None) -> int:
    """The seq to read after: `after_seq`, its alias `starting_after`, else the `Last-Event-ID` header."""
    if after_seq is not None and starting_after is not None and after_seq != starting_after:
        raise _invalid("starting_after", "is an alias of after_seq; send one, or the same value")
    chosen = after_seq if after_seq is not None else starting_after
    if chosen is not None:
        return chosen
    if last_event_id is None or not last_event_id.strip():
        return 0
    try:
        seq = int(last_event_id.strip())
    except ValueError:
        raise _invalid("Last-Event-ID", "must be an event seq (an integer ≥ 0)") from None
    if not 0 <= seq <= MAX_INTEGER:
        raise _invalid("Last-Event-ID", "must be an event seq (an integer ≥ 0)")
    return seq


def envelope(item: dict[str, Any]) -> dict[str, Any]:
    # lazy, for cold start: the WebSocket function's $connect and $disconnect need no pydantic
    from runs_core.models.events import Event

    return Event.model_validate(item).model_dump()


def list_events(caller: Caller, run_id: str, after_seq: int, limit: int) -> "EventPage":
    """Up to `limit` events after `after_seq`, oldest first; 404 unless the run is the caller's org's."""
    if not 1 <= limit <= MAX_LIMIT:
        raise _invalid("limit", f"must be 1 to {MAX_LIMIT}")
    if after_seq < 0:
        raise _invalid("after_seq", "must be ≥ 0")
    from runs_core.models.events import Event, EventPage  # lazy, for cold start (as envelope)

    # Read the run first: its status is then never ahead of the events returned after it.
    run = load_run(caller, run_id, consistent=True)
    items = event_log().after(run_id, after_seq, limit)
    return EventPage(
        items=[Event.model_validate(item) for item in items],
        next_after_seq=items[-1]["seq"] if items else after_seq,
        run_status=run["status"],
    )


def frame(item: dict[str, Any]) -> str:
    event = envelope(item)
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event['seq']}\nevent: {event['type']}\ndata: {data}\n\n"


def open_stream(
    caller: Caller,
    run_id: str,
    after_seq: int,
    wait: int = MAX_WAIT_SECONDS,
    sleep: Callable[[float], None] | None = None,
    *,
    max_wait: int = MAX_WAIT_SECONDS,
) -> Iterator[str]:
    """Check access now (404 before any frame), then return the frames generator. `max_wait`: the
    host's bound on `wait` (MAX_STREAM_WAIT_SECONDS where the response is streamed live)."""
    if not 0 <= wait <= max_wait:
        raise _invalid("wait", f"must be 0 to {max_wait} seconds")
    if after_seq < 0:
        raise _invalid("after_seq", "must be ≥ 0")
    run = load_run(caller, run_id, consistent=True)
    done = run["status"] in TERMINAL_STATUSES and after_seq >= run.get("last_event_seq", 0)
    return sse_frames(run_id, after_seq, wait, done, sleep)


def sse_frames(
    run_id: str,
    after_seq: int,
    wait: int,
    done: bool = False,
    sleep: Callable[[float], None] | None = None,
    *,
    log: EventLog | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[str]:
    """SSE text: a frame per event after `after_seq`, ending right after the terminal event; else, after
    `wait` seconds, a `retry:` line (the client reconnects with Last-Event-ID). `: keep-alive` comments
    while idle. Call through open_stream, which checks the caller may read the run. Between reads it
    waits for new events the host's way (use_new_events), or polls with `sleep` when one is given."""
    if done:  # the client already has the terminal event
        return
    log = log or event_log()
    new_events = _new_events if sleep is None else PollEvery(sleep=sleep)
    deadline = clock() + wait
    last_output = clock()
    cursor = after_seq
    while True:
        mark = new_events.mark(run_id)
        items = log.after(run_id, cursor, MAX_LIMIT)
        for item in items:
            yield frame(item)
            cursor = item["seq"]
            if item["type"] in TERMINAL_EVENT_TYPES:
                return
        now = clock()
        if items:
            last_output = now
            if len(items) == MAX_LIMIT:
                continue  # more are waiting: read on without sleeping
        if now >= deadline:
            yield f"retry: {RETRY_MS}\n\n"
            return
        if now - last_output >= HEARTBEAT_SECONDS:
            yield ": keep-alive\n\n"
            last_output = now
        new_events.wait(mark, min(HEARTBEAT_SECONDS - (now - last_output), deadline - now))
