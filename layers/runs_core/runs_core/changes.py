"""What logic asks the stores to write, in the domain's terms, and how a conditional write fails.

Pure: no AWS here. A Change is one run's change with everything written with it, in one transaction:
the run's fields, its events, its step records, its thread's messages, the org's debit and the
thread's turn. storage.runs turns it into DynamoDB's TransactWriteItems; the tests' in-memory stores
apply it to dicts. Either way it is all or nothing, conditional on the run's `rev` (StaleRun) and the
thread's (StaleThread) as read.
"""

from dataclasses import dataclass, field
from typing import Any


class StaleRun(Exception):
    """The run changed since it was read (another writer won); re-read and decide again."""


class StaleThread(Exception):
    """The thread changed since it was read (another run took or queued for it); re-read and decide again."""


@dataclass(frozen=True)
class NewEvent:
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class StepUpdate:
    """Fields set on one of the run's steps (e.g. the pending approval, once decided)."""

    index: int
    fields: dict[str, Any]


@dataclass(frozen=True)
class ThreadTurn:
    """Who holds the thread (None: idle) and who waits, if the thread is still as read (its `rev`)."""

    thread: dict[str, Any]
    active_run_id: str | None
    queue: list[str]


@dataclass
class Change:
    """Everything one commit writes: run fields, events, new step records, step updates, thread messages,
    credits taken from the org and the thread's turn."""

    changes: dict[str, Any] = field(default_factory=dict)
    events: list[NewEvent] = field(default_factory=list)
    new_steps: list[dict[str, Any]] = field(default_factory=list)
    step_updates: list[StepUpdate] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    debit: int = 0
    turn: ThreadTurn | None = None

    def event(self, type_: str, **data: Any) -> None:
        self.events.append(NewEvent(type_, data))

    def include(self, other: "Change") -> None:
        """Write `other` with this change (its run fields win)."""
        self.changes.update(other.changes)
        self.events.extend(other.events)
        self.new_steps.extend(other.new_steps)
        self.step_updates.extend(other.step_updates)
        self.messages.extend(other.messages)
        self.debit += other.debit
        self.turn = other.turn or self.turn
