"""Readers of the local stack's tables are woken when something is written, instead of polling.

Every record a DynamoDB stream gets passes through moto's StreamShard.add; `install()` wraps it to bump a
generation counter and wake all waiters: the stream pollers (devstack.streams, which run the stream router:
WebSocket pushes, EventBridge) and SSE readers (runs_core.logic.events, through its `use_new_events`
seam). A reader takes `mark()` before it reads and `wait(mark, timeout)` returns as soon as anything was
written since, or at the timeout, so no write between the read and the wait is missed. A wake-up for
another table (or a transaction that was rolled back) only costs the reader one more read.

Live threads go first. The stack is one interpreter: while other runs execute beside a watched one,
every moto request of a live reader waited for the moto lock (devstack.aws) behind theirs, and the
router's batches queued behind each other (measured: half of the router's time went to that wait).
The moto lock is a LiveFirstLock: a live thread gets it before the others waiting. Live are the threads
marked so (`live_thread()`: the stream pollers, and SSE readers when they take a mark) and the flushers
of live model output (runs_core.execution.live, threads named "live-<step id>": their writes are the
events the readers wait for). Live threads hold it for a small part
of the time (one request at a time), so the others still get it between their requests.

And a thread that lets go of the GIL waits to get it back, up to the switch interval (5 ms) when other
threads are busy: botocore's per-call invocation id (uuid4, os.urandom, which lets go of the GIL) was a
fifth of the router's time beside busy runs. Locally it is a counter (`install()`).
"""

import itertools
import threading
from typing import Any

from devstack.once import installs_once

_condition = threading.Condition()
_generation = 0
_local = threading.local()


def live_thread() -> None:
    """Mark the calling thread live for the rest of its life (see the module's docstring)."""
    _local.live = True


LIVE_FLUSHER_PREFIX = "live-"  # runs_core.execution.live.LiveMessage's thread


def is_live() -> bool:
    return bool(getattr(_local, "live", False)) or threading.current_thread().name.startswith(
        LIVE_FLUSHER_PREFIX
    )


class LiveFirstLock:
    """A re-entrant lock (like threading.RLock) that lets waiting live threads in before the others."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._live_turn = threading.Condition(self._mutex)
        self._other_turn = threading.Condition(self._mutex)
        self._owner: int | None = None
        self._depth = 0
        self._live_waiting = 0
        self._others_waiting = 0

    def acquire(self) -> bool:
        me = threading.get_ident()
        live = is_live()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return True
            if live:
                self._live_waiting += 1
                try:
                    while self._owner is not None:
                        self._live_turn.wait()
                finally:
                    self._live_waiting -= 1
            else:
                self._others_waiting += 1
                try:
                    while self._owner is not None or self._live_waiting:
                        self._other_turn.wait()
                finally:
                    self._others_waiting -= 1
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("cannot release a lock this thread does not hold")
            self._depth -= 1
            if self._depth:
                return
            self._owner = None
            # One waiter is woken per release (it re-checks): no herd of threads competing for the GIL.
            if self._live_waiting:
                self._live_turn.notify()
            elif self._others_waiting:
                self._other_turn.notify()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()


def mark() -> int:
    with _condition:
        return _generation


def wait(since: int, timeout: float) -> bool:
    """True once something was written after `since` (at once if it already was), False at the timeout."""
    with _condition:
        return _condition.wait_for(lambda: _generation != since, timeout=max(0.0, timeout))


def written() -> None:
    global _generation
    with _condition:
        _generation += 1
        _condition.notify_all()


class StreamWakeups:
    """runs_core.logic.events.NewEvents for the local stack."""

    def mark(self) -> int:
        live_thread()  # an SSE reader's thread: its reads go first from now on
        return mark()

    def wait(self, mark: Any, timeout: float) -> None:
        wait(int(mark), timeout)


_invocation_ids = itertools.count(1)


def _local_invocation_id(context: dict[str, Any] | None = None, **_: Any) -> None:
    """botocore's `before-call`: the retries context's amz-sdk-invocation-id, set before botocore makes
    a uuid4 of it (botocore.endpoint keeps one that is there). It never leaves the process."""
    if context is not None:
        context.setdefault("retries", {}).setdefault("invocation-id", f"local-{next(_invocation_ids)}")


@installs_once
def install() -> None:
    """Wrap moto's StreamShard.add and set botocore's invocation ids (idempotent). A moto that renames
    StreamShard.add fails tests/emulator/test_wakeups.py."""
    from devstack.aws import register_before_call  # devstack.aws uses this module's lock

    register_before_call("before-call", _local_invocation_id)
    from moto.dynamodb.models.table import StreamShard

    add = StreamShard.add

    def add_and_wake(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return add(self, *args, **kwargs)
        finally:
            written()

    StreamShard.add = add_and_wake  # type: ignore[method-assign]
