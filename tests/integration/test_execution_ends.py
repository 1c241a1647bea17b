"""A run cannot outlive its execution: ExecutionEndedFunction (the EventBridge rule on Step Functions
execution status changes) ends a run whose execution timed out, was aborted or failed unrecorded. The
local stack runs no rule: these tests invoke the real function with the event AWS sends, under its
template policy (local IAM)."""

import json

import pytest

STATE_MACHINE_ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:runs-api-run"


def status_change(run_id: str, status: str) -> dict:
    """An EventBridge "Step Functions Execution Status Change" event, as AWS delivers it."""
    return {
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "000000000000",
        "time": "2026-11-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [f"{STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:{run_id}"],
        "detail": {
            "executionArn": f"{STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:{run_id}",
            "stateMachineArn": STATE_MACHINE_ARN,
            "name": run_id,
            "status": status,
            "startDate": 1,
            "stopDate": 2,
            "input": json.dumps({"run_id": run_id}),
            "output": None,
        },
    }


def created_run(api) -> dict:
    response = api.post("/v1/runs", json={"agent": "demo", "start": False})
    assert response.status == 201, response.text
    return response.json()


@pytest.mark.parametrize(
    ("status", "code"),
    [("TIMED_OUT", "timeout"), ("FAILED", "internal_error"), ("ABORTED", "internal_error")],
)
def test_a_run_whose_execution_ended_is_failed(api, stack, status, code):
    run = created_run(api)
    result = stack.functions["ExecutionEndedFunction"].invoke(status_change(run["id"], status))
    assert result == {"run_id": run["id"], "ended": "failed"}
    after = api.get(f"/v1/runs/{run['id']}").json()
    assert after["status"] == "failed" and after["error"]["code"] == code
    events = api.get(f"/v1/runs/{run['id']}/events").json()["items"]
    assert events[-1]["type"] == "run.failed"


def test_a_terminal_run_is_left_alone(api, stack):
    run = api.post("/v1/runs", json={"agent": "demo"}).json()
    done = api.request("POST", f"/v1/runs/{run['id']}/wait", query={"timeout": "20"}).json()
    assert done["status"] == "completed"
    result = stack.functions["ExecutionEndedFunction"].invoke(status_change(run["id"], "TIMED_OUT"))
    assert result["ended"] is None
    assert api.get(f"/v1/runs/{run['id']}").json() == done


def test_other_statuses_and_unknown_runs_change_nothing(api, stack):
    run = created_run(api)
    function = stack.functions["ExecutionEndedFunction"]
    assert function.invoke(status_change(run["id"], "SUCCEEDED"))["ended"] is None
    assert function.invoke(status_change("run_01JZZZZZZZZZZZZZZZZZZZZZZZ", "FAILED"))["ended"] is None
    assert api.get(f"/v1/runs/{run['id']}").json()["status"] == "created"
