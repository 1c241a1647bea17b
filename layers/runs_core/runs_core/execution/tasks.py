"""The RunStepFunction's entry point: dispatch on the state machine's `action`, retrying a task that
lost a race (it re-reads the run and decides anew, e.g. sees the cancel)."""

import time
from typing import Any

from runs_core.changes import Change, StaleRun
from runs_core.execution import ending, loop, waits
from runs_core.execution.unit import MAX_WRITE_ATTEMPTS, load
from runs_core.logic.run_writes import commit
from runs_core.observability import MILLISECONDS, put_metrics
from runs_core.run_status import TERMINAL_STATUSES


def handle_task(event: dict[str, Any]) -> dict[str, Any]:
    """Entry point of the RunStepFunction: dispatch on the state machine's `action`."""
    run_id = event["run_id"]
    match event["action"]:
        case "step":
            started = time.perf_counter()
            try:
                return _counted(event, _retrying(lambda: loop.step(run_id)))
            finally:
                put_metrics({"StepLatency": ((time.perf_counter() - started) * 1000, MILLISECONDS)})
        case "park":
            return _retrying(lambda: waits.park(run_id, event["step_id"], event["task_token"]))
        case "expire":
            return _counted(event, _retrying(lambda: waits.expire(run_id, event["step_id"])))
        case "fail":
            return _retrying(lambda: ending.fail_unexpectedly(run_id, event.get("error")))
        case "adopt":
            return _retrying(lambda: adopt(run_id, event["execution_arn"]))
    raise ValueError(f"unknown task action {event['action']!r}")


def _counted(event: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The step's answer with the execution's count of steps and waits it was given, returned as is:
    the state machine keeps the count in the step's result (a Pass state counting it would be one more
    billed transition per step) and continues as new past its limit."""
    if "iterations" in event:
        return {**result, "iterations": event["iterations"]}
    return result


def adopt(run_id: str, execution_arn: str) -> dict[str, Any]:
    """A long run continued in a new execution (Step Functions keeps 25,000 events per execution): the run
    records it, so that a cancel stops it and only its end counts (execution_ended)."""
    run = load(run_id)
    if run is None or run["status"] in TERMINAL_STATUSES or run.get("execution_arn") == execution_arn:
        return {}
    commit(run, Change({"execution_arn": execution_arn}))
    return {}


def _retrying(task: Any) -> dict[str, Any]:
    """Run `task` again on a lost race: it re-reads the run and decides anew (e.g. sees the cancel)."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        try:
            return task()  # type: ignore[no-any-return]
        except StaleRun:
            continue
    raise StaleRun("the run kept changing under the step")
