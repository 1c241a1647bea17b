"""Orchestration cost of one run: a 10-decision scripted run (9 tool calls, then the answer).

State transitions and Lambda invocations come from the execution history; DynamoDB calls and the
items they write from a botocore event hook on the one client runs_core uses. Prices: AWS list
prices, us-east-1 (Step Functions Standard $0.025 per 1,000 transitions; Lambda arm64 $0.20 per
million requests and $0.0000133334 per GB-second; DynamoDB on-demand $0.625 per million write
units, $0.125 per million read units, transactional writes at 2 units per item).
"""

import json
import time
from collections import Counter
from typing import Any

import boto3

from devstack.stack import DevStack

DECISIONS = 10
STEP_MEMORY_GB = 1.0  # RunStepFunction MemorySize 1024
ASSUMED_STEP_SECONDS = 0.2  # per invocation on Lambda (scripted model; a real model call dominates)
PRICE = {
    "transition": 0.025 / 1000,
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second": 0.0000133334,
    "write_unit": 0.625 / 1_000_000,
    "read_unit": 0.125 / 1_000_000,
}


def run_bench(stack: DevStack) -> dict[str, Any]:
    from runs_core.storage import dynamo

    calls: Counter[str] = Counter()
    units = Counter[str]()

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls[model.name] += 1
        if model.name == "TransactWriteItems":
            units["write"] += 2 * len(params["TransactItems"])
        elif model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            units["write"] += 1
        else:
            units["read"] += 1

    script = [{"tool_calls": [{"name": "echo", "arguments": {"i": i}}]} for i in range(DECISIONS - 1)]
    script.append({"text": "done"})
    headers = {"Authorization": f"Bearer {stack.dev_key}", "Content-Type": "application/json"}
    definition = {
        "model": {"provider": "scripted", "script": script},
        "actions": [{"name": "echo", "kind": "builtin"}],
    }

    stack.request(
        "POST", "/v1/agents", headers, json.dumps({"name": "bench-10", "definition": definition}).encode()
    )
    dynamo.client().meta.events.register("provide-client-params.dynamodb", count)
    _, _, body = stack.request("POST", "/v1/runs", headers, json.dumps({"agent": "bench-10"}).encode())
    run_id = json.loads(body)["id"]

    sfn = boto3.client("stepfunctions")
    arn = _execution_arn(sfn, run_id)
    deadline = time.monotonic() + 120
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise TimeoutError("the run did not finish")
        time.sleep(0.1)
    dynamo.client().meta.events.unregister("provide-client-params.dynamodb", count)
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    transitions = sum(1 for event in history if event["type"].endswith("StateEntered"))
    invocations = sum(1 for event in history if event["type"] in ("LambdaFunctionScheduled", "TaskScheduled"))
    step_tasks = DECISIONS  # one Step task per decision; actions run inside it

    cost = {
        "Step Functions": transitions * PRICE["transition"],
        "Lambda": invocations
        * (PRICE["lambda_request"] + ASSUMED_STEP_SECONDS * STEP_MEMORY_GB * PRICE["lambda_gb_second"]),
        "DynamoDB": units["write"] * PRICE["write_unit"] + units["read"] * PRICE["read_unit"],
    }
    return {
        "decisions": DECISIONS,
        "transitions": transitions,
        "invocations": invocations,
        "step_tasks": step_tasks,
        "dynamodb_calls": sum(calls.values()),
        "dynamodb_by_api": ", ".join(f"{name} {n}" for name, n in sorted(calls.items())),
        "write_units": units["write"],
        "read_units": units["read"],
        "cost": cost,
        "assumption": (
            f"Lambda at an assumed {ASSUMED_STEP_SECONDS}s x {STEP_MEMORY_GB:.0f} GB per invocation"
        ),
    }


def _execution_arn(sfn: Any, run_id: str) -> str:
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    return machine.replace(":stateMachine:", ":execution:") + f":{run_id}"
