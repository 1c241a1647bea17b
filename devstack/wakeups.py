"""Readers of the local stack's tables are woken when something is written, instead of polling.

Every record a DynamoDB stream gets passes through moto's StreamShard.add; `install()` wraps it to bump a
generation counter and wake all waiters: the stream pollers (devstack.streams, which run the stream router:
WebSocket pushes, EventBridge) and SSE readers (runs_core.logic.events, through its `use_new_events`
seam). A reader takes `mark()` before it reads and `wait(mark, timeout)` returns as soon as anything was
written since, or at the timeout, so no write between the read and the wait is missed. A wake-up for
another table (or a transaction that was rolled back) only costs the reader one more read.
"""

import threading
from typing import Any

_condition = threading.Condition()
_generation = 0
_installed = False


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
        return mark()

    def wait(self, mark: Any, timeout: float) -> None:
        wait(int(mark), timeout)


def install() -> None:
    """Wrap moto's StreamShard.add (idempotent). A moto that renames it fails tests/local wake-up test."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.models.table import StreamShard

    add = StreamShard.add

    def add_and_wake(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return add(self, *args, **kwargs)
        finally:
            written()

    StreamShard.add = add_and_wake  # type: ignore[method-assign]
    _installed = True
