"""A long run continues in a fresh execution instead of running into Step Functions' 25,000-event history
limit (defect 7): the state machine counts its steps and waits, and past IterationsPerExecution (500 in
template.yaml) starts a new execution of itself, `<run id>-<n>`, which adopts the run; cancels, answers
and the watch on executions' ends follow it. Here a copy of the run state machine continues after 2."""

import json
import os
import time
from collections.abc import Iterator

import boto3
import pytest

from devstack.executions import state_machine_definition
from devstack.template import REGION, Template
from tests.integration.helpers import ASK, ECHO, TEMPLATE, agent_with, run_to_end, settle, start, steps_of

PER_EXECUTION = 2
DEPLOYED_LIMIT = "States.StringToJson('500')"


@pytest.fixture
def short_machine(stack) -> Iterator[str]:
    """The run state machine, its limit lowered to PER_EXECUTION for the test (then restored)."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = stack.state_machines["RunStateMachine"]
    deployed = state_machine_definition(Template(TEMPLATE), "RunStateMachine")
    assert DEPLOYED_LIMIT in deployed
    short = deployed.replace(DEPLOYED_LIMIT, f"States.StringToJson('{PER_EXECUTION}')")
    sfn.update_state_machine(stateMachineArn=arn, definition=short)
    try:
        yield arn
    finally:
        sfn.update_state_machine(stateMachineArn=arn, definition=deployed)


def executions_of(machine: str, run_id: str) -> dict[str, dict]:
    """The run's executions on `machine`, by name, with their input."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    found = {}
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
        for execution in page["executions"]:
            if execution["name"] == run_id or execution["name"].startswith(f"{run_id}-"):
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                found[execution["name"]] = {**execution, "input": json.loads(described["input"])}
    return found


def test_a_long_run_continues_in_new_executions_and_completes(api, short_machine):
    script = [{"tool_calls": [{"name": "echo", "arguments": {"n": n}}]} for n in range(6)]
    run = start(api, agent_with(api, [*script, {"text": "done"}], [ECHO]))
    assert run_to_end(api, run["id"])["status"] == "completed"
    assert [s["type"] for s in steps_of(api, run["id"])] == ["decision", "action"] * 6 + ["decision"]

    executions = executions_of(short_machine, run["id"])
    names = [run["id"]] + [f"{run['id']}-{n}" for n in range(1, len(executions))]
    assert sorted(executions) == sorted(names) and len(executions) >= 3, sorted(executions)
    for n, name in enumerate(names[1:], start=1):
        started_by = executions[names[n - 1]]["executionArn"]
        assert executions[name]["input"] == {
            "run_id": run["id"],
            "continuation": n,
            "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": started_by,
        }
    settle_all(short_machine, run["id"])


def settle_all(machine: str, run_id: str) -> None:
    """Every execution of the run ended SUCCEEDED (each earlier one by handing over)."""
    deadline = time.monotonic() + 30
    while any(e["status"] == "RUNNING" for e in executions_of(machine, run_id).values()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert {e["status"] for e in executions_of(machine, run_id).values()} == {"SUCCEEDED"}


def asks_after_steps(api) -> str:
    script = [{"tool_calls": [{"name": "echo", "arguments": {"n": n}}]} for n in range(3)]
    script += [
        {"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "Which account?"}}]},
        {"text": "ok"},
    ]
    return agent_with(api, script, [ECHO, ASK])


def waiting_in_a_continued_execution(api, machine: str) -> tuple[dict, str]:
    """A run that waits for input in its second or later execution, and that execution's name, once the
    hand-over is over: the one execution left running is the one the run recorded (Adopt), parked in its wait
    (else, on a loaded machine, it could still be in the step that sees the cancel and ends SUCCEEDED)."""
    run = start(api, asks_after_steps(api))
    assert settle(api, run["id"], ("waiting_for_input",))["status"] == "waiting_for_input"
    runs_table = boto3.client("dynamodb", region_name=REGION)
    deadline = time.monotonic() + 30
    while True:
        running = {n: e for n, e in executions_of(machine, run["id"]).items() if e["status"] == "RUNNING"}
        record = runs_table.get_item(TableName=os.environ["RUNS_TABLE"], Key={"id": {"S": run["id"]}})["Item"]
        adopted = record.get("execution_arn", {}).get("S")
        parked = bool(
            record.get("task_token", {}).get("S")
        )  # the current execution is in its wait, not in a step that ends it
        if len(running) == 1 and next(iter(running.values()))["executionArn"] == adopted and parked:
            return run, next(iter(running))
        assert time.monotonic() < deadline, (sorted(running), adopted)
        time.sleep(0.05)


def test_an_answer_reaches_the_continued_execution(api, short_machine):
    run, _ = waiting_in_a_continued_execution(api, short_machine)
    answered = api.post(f"/v1/runs/{run['id']}/input", json={"content": "savings"})
    assert answered.status == 200, answered.text
    assert run_to_end(api, run["id"])["status"] == "completed"
    settle_all(short_machine, run["id"])


def test_cancel_stops_the_current_execution(api, short_machine):
    run, current = waiting_in_a_continued_execution(api, short_machine)
    cancelled = api.post(f"/v1/runs/{run['id']}/cancel")
    assert cancelled.status == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    deadline = time.monotonic() + 30
    while executions_of(short_machine, run["id"])[current]["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the continued execution was not stopped"
        time.sleep(0.05)
    statuses = {name: e["status"] for name, e in executions_of(short_machine, run["id"]).items()}
    assert statuses.pop(current) == "ABORTED"
    assert set(statuses.values()) == {"SUCCEEDED"}, statuses


def test_the_end_of_an_execution_the_run_left_is_ignored(api, stack, short_machine):
    """ExecutionEndedFunction ends a run only for the end of its current execution."""
    run, current = waiting_in_a_continued_execution(api, short_machine)
    left = executions_of(short_machine, run["id"])[run["id"]]
    event = {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": left["executionArn"],
            "stateMachineArn": short_machine,
            "name": run["id"],
            "status": "ABORTED",
            "input": json.dumps({"run_id": run["id"]}),
        },
    }
    ended = stack.functions["ExecutionEndedFunction"].invoke(event)
    assert ended == {"run_id": run["id"], "ended": None}
    assert api.get(f"/v1/runs/{run['id']}").json()["status"] == "waiting_for_input"
    current_arn = executions_of(short_machine, run["id"])[current]["executionArn"]
    event["detail"] |= {"executionArn": current_arn, "name": current, "status": "TIMED_OUT"}
    assert stack.functions["ExecutionEndedFunction"].invoke(event) == {"run_id": run["id"], "ended": "failed"}
