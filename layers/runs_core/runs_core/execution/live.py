"""Live model output (docs/api.md §6 "Live, not after the fact"): what a step writes while the model streams.

LiveMessage is the StreamSink of one decision's model call. Text is buffered and appended to the run's
log as `message.delta` events by a flusher thread: the message's first text at once, then whatever has
arrived every FLUSH_SECONDS (one write per flush); a tool call as soon as its arguments are complete.
Each flush is the run's usual conditional write (expected `rev`, so expected status `running`), and it
yields to a cancel that lost a race to it (cancel_requested_at): a cancel makes it fail, the flusher
reads the run, finds it ended (or ending), and ends the model call (StreamSink.abort closes the
provider's connection). While the model is silent the flusher reads the run every
CHECK_SECONDS for the same reason. After each flush it asks `over_limit` whether what the call has used
so far (the provider's count, else an estimate from the text) passes a limit of the run; if so it ends
the call too. Nothing is written once the call is stopped.

The step's own writes (the step record, usage, message.completed…) stay with the caller, after `close`:
`written_text` and `written_calls` say what the flusher already put in the log.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runs_core.changes import NewEvent, StaleRun
from runs_core.observability import logger
from runs_core.providers.base import StreamSink, TokenUsage, ToolCall
from runs_core.run_status import TERMINAL_STATUSES

FLUSH_SECONDS = 0.25
CHECK_SECONDS = 0.5

Commit = Callable[[dict[str, Any], list[NewEvent]], dict[str, Any]]  # (run, events) → run as written
Load = Callable[[str], dict[str, Any] | None]
OverLimit = Callable[[str, TokenUsage | None], tuple[str, str] | None]  # → (error code, message)


@dataclass(frozen=True)
class Stop:
    """Why the call was ended: `code` None when the run ended (cancelled), else the limit's error code."""

    code: str | None
    message: str


class LiveMessage(StreamSink):
    def __init__(
        self,
        run: dict[str, Any],
        step_id: str,
        *,
        commit: Commit,
        load: Load,
        over_limit: OverLimit,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.run = run  # as last written (or read) by this message
        self.step_id = step_id
        self._commit = commit
        self._load = load
        self._over_limit = over_limit
        self._clock = clock
        self._cond = threading.Condition()
        self._buffer: list[str] = []
        self._calls: list[ToolCall] = []
        self._urgent = False
        self._closing = False
        self.text_so_far = ""  # everything the model has sent
        self.written_text = ""  # what message.delta events hold
        self.written_calls: set[str] = set()  # ids of the tool calls already in the log as tool.call
        self.reported_usage: TokenUsage | None = None
        self.stopped: Stop | None = None
        self._last_contact = self._clock()
        self._thread = threading.Thread(target=self._flush_loop, name=f"live-{step_id}", daemon=True)

    # ---------------------------------------------------------------- the provider's side (StreamSink)

    def text(self, delta: str) -> None:
        with self._cond:
            first = not self.text_so_far
            self.text_so_far += delta
            self._buffer.append(delta)
            if first:  # a message's first words are written at once
                self._urgent = True
                self._cond.notify()

    def tool_call(self, call: ToolCall) -> None:
        with self._cond:
            self._calls.append(call)
            self._urgent = True
            self._cond.notify()

    def usage(self, usage: TokenUsage) -> None:
        self.reported_usage = usage

    # ---------------------------------------------------------------- the step's side

    def __enter__(self) -> "LiveMessage":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop flushing (what is still buffered is the caller's to write) and wait for the flusher."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join()

    def stop(self, reason: Stop) -> None:
        """End the model call; nothing more is written."""
        with self._cond:
            if self.stopped is None:
                self.stopped = reason
            self._buffer.clear()
            self._calls.clear()
        self.abort()

    # ---------------------------------------------------------------- the flusher thread

    def _flush_loop(self) -> None:
        next_flush = self._clock() + FLUSH_SECONDS
        while True:
            with self._cond:
                # Flushes start every FLUSH_SECONDS, however long the last write took (not write + 250 ms).
                wait = max(0.0, next_flush - self._clock())
                self._cond.wait_for(lambda: self._closing or self._urgent, timeout=wait)
                if self._closing or self.stopped is not None:
                    return
                next_flush = max(next_flush + FLUSH_SECONDS, self._clock())
                self._urgent = False
                text, calls = "".join(self._buffer), list(self._calls)
                self._buffer.clear()
                self._calls.clear()
                so_far = self.text_so_far
            try:
                if text or calls:
                    self._flush(text, calls)
                elif self._clock() - self._last_contact >= CHECK_SECONDS:
                    self._refresh()  # the model is silent: has the run been cancelled meanwhile?
            except Exception:  # a throttled write, a network blip: the write did not happen, so retry it
                logger.warning("live flush failed; retrying", exc_info=True, extra={"run_id": self.run["id"]})
                with self._cond:
                    self._buffer.insert(0, text)
                    self._calls[:0] = calls
                continue
            if self.stopped is None:
                breach = self._over_limit(so_far, self.reported_usage)
                if breach is not None:
                    self.stop(Stop(*breach))

    def _flush(self, text: str, calls: list[ToolCall]) -> None:
        events = []
        if text:
            events.append(NewEvent("message.delta", {"step_id": self.step_id, "delta": text}))
        events.extend(
            NewEvent("tool.call", {"step_id": self.step_id, "action": call.name, "arguments": call.arguments})
            for call in calls
        )
        while self.stopped is None:
            try:
                self.run = self._commit(self.run, events)
            except StaleRun:
                if not self._refresh():
                    return
                continue  # another writer changed the running run: write on its new rev
            self._last_contact = self._clock()
            self.written_text += text
            self.written_calls.update(call.id for call in calls)
            return

    def _refresh(self) -> bool:
        """Read the run: False (and the call stopped) if it has ended."""
        run = self._load(self.run["id"])
        self._last_contact = self._clock()
        if run is None or run["status"] in TERMINAL_STATUSES or run.get("cancel_requested_at"):
            self.stop(Stop(None, "the run ended during the model call"))
            return False
        self.run = run
        return True
