"""Readers of the local stack's tables are woken when something is written, instead of polling.

Every record a DynamoDB stream gets passes through moto's StreamShard.add; `install()` wraps it to bump a
generation counter and wake all waiters: the stream pollers (devstack.streams, which run the stream router:
WebSocket pushes, EventBridge) and SSE readers (runs_core.logic.events, through its `use_new_events`
seam). A reader takes `mark()` before it reads and `wait(mark, timeout)` returns as soon as anything was
written since, or at the timeout, so no write between the read and the wait is missed. A wake-up for
another table (or a transaction that was rolled back) only costs the reader one more read.

An SSE reader waits for its run only: its mark (StreamWakeups.mark(run_id)) is set by a record whose
item's hash key is the run's id (an event of the run; its run item too, which only costs a read). Woken
by every write, a reader beside three busy runs read the log ~20 times a second for nothing, each read a
Query under the moto lock, ahead of the others (it is live). A write whose key is not known (stop())
sets every mark.

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

import inspect
import itertools
import threading
import weakref
from typing import Any

from devstack.once import installs_once

_condition = threading.Condition()
_generation = 0
_local = threading.local()


def live_thread(live: bool = True) -> None:
    """Mark the calling thread live (see the module's docstring), or not (a server thread starting its
    next request on a keep-alive connection: only an SSE reader's request is live)."""
    _local.live = live


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


class RunMark:
    """A reader's mark for one run: set once a record of the run is written after it was taken."""

    __slots__ = ("__weakref__", "_set", "run_id")

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self._set = threading.Event()

    def wait(self, timeout: float) -> bool:
        return self._set.wait(max(0.0, timeout))


_run_marks: "weakref.WeakSet[RunMark]" = weakref.WeakSet()  # a reader drops its old mark: it goes


def mark_run(run_id: str) -> RunMark:
    run_mark = RunMark(run_id)
    with _condition:
        _run_marks.add(run_mark)
    return run_mark


def written(key: Any = None) -> None:
    """A record was written whose item's hash key is `key` (None: not known, every run mark is set)."""
    global _generation
    with _condition:
        _generation += 1
        for run_mark in list(_run_marks):
            if key is None or run_mark.run_id == key:
                run_mark._set.set()
                _run_marks.discard(run_mark)
        _condition.notify_all()


class StreamWakeups:
    """runs_core.logic.events.NewEvents for the local stack."""

    def mark(self, run_id: str) -> RunMark:
        live_thread()  # an SSE reader's thread: its reads go first from now on
        return mark_run(run_id)

    def wait(self, mark: Any, timeout: float) -> None:
        mark.wait(timeout)


_invocation_ids = itertools.count(1)


def _local_invocation_id(context: dict[str, Any] | None = None, **_: Any) -> None:
    """botocore's `before-call`: the retries context's amz-sdk-invocation-id, set before botocore makes
    a uuid4 of it (botocore.endpoint keeps one that is there). It never leaves the process."""
    if context is not None:
        context.setdefault("retries", {}).setdefault("invocation-id", f"local-{next(_invocation_ids)}")


def _hash_key(item: Any) -> Any:
    """The value of a moto Item's hash key (its DynamoType's value), None if it has none."""
    return getattr(getattr(item, "hash_key", None), "value", None)


@installs_once
def install() -> None:
    """Wrap moto's StreamShard.add and set botocore's invocation ids (idempotent). A moto that renames
    StreamShard.add fails tests/emulator/test_wakeups.py."""
    from devstack.aws import register_before_call  # devstack.aws uses this module's lock

    register_before_call("before-call", _local_invocation_id)
    from moto.dynamodb.models.table import StreamShard

    add = StreamShard.add
    if list(inspect.signature(add).parameters)[:3] != ["self", "old", "new"]:
        raise RuntimeError("moto's StreamShard.add(self, old, new) changed; devstack.wakeups reads its items")

    def add_and_wake(self: Any, old: Any, new: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return add(self, old, new, *args, **kwargs)
        finally:
            written(_hash_key(new if new is not None else old))

    StreamShard.add = add_and_wake  # type: ignore[method-assign]
