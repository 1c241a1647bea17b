"""A run's status rules in one place (docs/api.md §4): the statuses, which are terminal and which wait for
someone, the moves between them, and the limits a running run is held to. Pure: no I/O, no clock.

    created ──invoke──► queued ──step──► running ──► completed
       │                  │                │ ▲
       │                  │                ▼ │ answer
       │                  │   waiting_approval / waiting_for_input
       └──────────────────┴────────────────┴──────► cancelled (cancel), failed (a limit, an error,
                                                    a wait that timed out, an execution that ended)

Every status change is checked against TRANSITIONS where it is written (logic.run_writes.commit).
"""

from typing import Literal

CREATED = "created"
QUEUED = "queued"
RUNNING = "running"
WAITING_FOR_INPUT = "waiting_for_input"
WAITING_APPROVAL = "waiting_approval"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"

RunStatus = Literal[
    "created",
    "queued",
    "running",
    "waiting_for_input",
    "waiting_approval",
    "completed",
    "failed",
    "cancelled",
]
RUN_STATUSES: tuple[str, ...] = RunStatus.__args__  # type: ignore[attr-defined]
TERMINAL_STATUSES: frozenset[str] = frozenset({COMPLETED, FAILED, CANCELLED})
# the waiting status by what the run waits for
WAITING_FOR: dict[str, str] = {"approval": WAITING_APPROVAL, "input": WAITING_FOR_INPUT}
WAITING_STATUSES: frozenset[str] = frozenset(WAITING_FOR.values())

_ENDS = frozenset({FAILED, CANCELLED})
TRANSITIONS: dict[str, frozenset[str]] = {
    # failed, from any status that has not ended: an execution that ended unseen (ExecutionEndedFunction
    # ends whatever run an execution's end names), the execution could not start, a limit, an error
    CREATED: frozenset({QUEUED}) | _ENDS,
    QUEUED: frozenset({RUNNING}) | _ENDS,
    RUNNING: WAITING_STATUSES | {COMPLETED} | _ENDS,
    WAITING_APPROVAL: frozenset({RUNNING}) | _ENDS,  # failed: the wait timed out
    WAITING_FOR_INPUT: frozenset({RUNNING}) | _ENDS,
    COMPLETED: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
}


# A step's statuses: pending (an approval or input not given yet), then one of the ended ones.
STEP_PENDING = "pending"
STEP_COMPLETED = "completed"
STEP_FAILED = "failed"
STEP_CANCELLED = "cancelled"
STEP_RESULTS: frozenset[str] = frozenset({STEP_COMPLETED, STEP_FAILED})  # an action or input with a result


class InvalidTransition(Exception):
    """A write would move a run between statuses the rules do not connect: a defect, not a request error."""


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


def is_waiting(status: str) -> bool:
    return status in WAITING_STATUSES


def can_move(current: str, new: str) -> bool:
    return new in TRANSITIONS[current]


def check_move(current: str, new: str) -> None:
    if not can_move(current, new):
        raise InvalidTransition(f"a run cannot go from {current} to {new}")


def initial_status(start: bool) -> str:
    """A new run: queued for its execution, or created to be invoked later (start=false)."""
    return QUEUED if start else CREATED


def may_cancel(status: str) -> bool:
    """A run that has not ended can be cancelled (cancelling a cancelled run changes nothing)."""
    return not is_terminal(status)


# ---------------------------------------------------------------------------------------- limits


def limit_passed(
    step_count: int,
    max_steps: int,
    total_tokens: int,
    max_tokens: int,
    elapsed_seconds: float | None,
    max_duration_seconds: int,
    credits: int,
) -> tuple[str, str] | None:
    """The limit a run has reached before its next step, as (error code, message), or None."""
    if step_count >= max_steps:
        return "max_steps_exceeded", f"The run reached its limit of {max_steps} steps."
    if total_tokens >= max_tokens:
        return "max_tokens_exceeded", f"The run used its limit of {max_tokens} tokens."
    if elapsed_seconds is not None and elapsed_seconds > max_duration_seconds:
        return "timeout", "The run exceeded its maximum duration."
    if credits <= 0:
        return "budget_exceeded", "The org has no credits left."
    return None


def tokens_passed(total_tokens: int, max_tokens: int) -> tuple[str, str] | None:
    """A model call took the run past its token limit (while streaming, or once it answered)."""
    if total_tokens > max_tokens:
        return "max_tokens_exceeded", f"The run used more than {max_tokens} tokens."
    return None


def credits_passed(credits: int, debit: int) -> tuple[str, str] | None:
    """A model call would take more credits than the org has left (checked while it streams)."""
    if credits - debit < 0:
        return "budget_exceeded", "The org ran out of credits during the model call."
    return None
