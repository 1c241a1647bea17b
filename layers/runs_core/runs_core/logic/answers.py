"""Answers to a run that waits for someone (docs/api.md §4): an approval decision, or the input it asked
for. Each is written on the pending step with the run's change, then the execution is resumed."""

from typing import Any

from runs_core import clock
from runs_core.changes import Change, NewEvent, StepUpdate
from runs_core.context import Caller
from runs_core.errors import InvalidState
from runs_core.logic.run_writes import change_run
from runs_core.logic.runs import view
from runs_core.models.runs import Run, SubmitApproval, SubmitInput
from runs_core.run_status import RUNNING, STEP_COMPLETED, WAITING_APPROVAL, WAITING_FOR_INPUT
from runs_core.stores import get_stores


def _decide(caller: Caller, run_id: str, waiting: str, output: dict[str, Any], event: NewEvent) -> Run:
    """Record a decision on the pending step and resume the execution. One of concurrent decisions wins;
    the others find the run no longer waiting and get 409."""

    def decide(run: dict[str, Any]) -> Change:
        if run["status"] != waiting:
            raise InvalidState(f"The run is {run['status']}, not {waiting}.")
        step = {"status": STEP_COMPLETED, "completed_at": clock.now_iso(), "output": output}
        changes = {"status": RUNNING, "pending": None, "task_token": None}
        return Change(changes, [event], step_updates=[StepUpdate(run["pending_step_index"], step)])

    before, after = change_run(caller, run_id, decide)
    if before.get("task_token"):
        get_stores().executions.resume(before["task_token"], run_id)
    # Without a token yet, the wait task's `park` sees the decision and resumes by itself.
    return view(after)


def submit_approval(caller: Caller, run_id: str, request: SubmitApproval) -> Run:
    output = {"decision": request.decision, "comment": request.comment}
    data = {
        "status": RUNNING,
        "decision": request.decision,
        **({"comment": request.comment} if request.comment else {}),
    }
    return _decide(caller, run_id, WAITING_APPROVAL, output, NewEvent("run.approval_decided", data))


def submit_input(caller: Caller, run_id: str, request: SubmitInput) -> Run:
    output = {"content": request.content} if request.content is not None else {"data": request.data}
    return _decide(
        caller, run_id, WAITING_FOR_INPUT, output, NewEvent("run.input_received", {"status": RUNNING})
    )
