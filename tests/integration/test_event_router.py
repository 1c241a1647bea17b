"""The event log's stream router on the local stack: the EventsTable stream mapping runs the real
EventRouterFunction in-process, which puts every event on the stack's EventBridge bus (moto). A rule
with an SQS target receives each event of a run exactly once (API.md §6, EventBridge)."""

import json
import time
import uuid
from typing import Any

import boto3
import pytest

from local.template import REGION

DRAIN_DEADLINE_S = 30


@pytest.fixture
def bus_queue(stack: Any) -> Any:
    """An SQS queue behind a rule on the stack's bus that matches source runs-api; yields its URL."""
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    bus = next(b["Name"] for b in events.list_event_buses()["EventBuses"] if b["Name"].endswith("-runs"))
    suffix = uuid.uuid4().hex[:8]
    queue_url = sqs.create_queue(QueueName=f"bus-target-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = f"all-run-events-{suffix}"
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["runs-api"]}))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    yield queue_url
    events.remove_targets(Rule=rule, EventBusName=bus, Ids=["queue"])
    events.delete_rule(Name=rule, EventBusName=bus)
    sqs.delete_queue(QueueUrl=queue_url)


def drain_run_events(queue_url: str, run_id: str, last_seq: int) -> list[dict[str, Any]]:
    """The bus messages of `run_id`, read until `last_seq` has arrived and the queue is then empty."""
    sqs = boto3.client("sqs", region_name=REGION)
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + DRAIN_DEADLINE_S
    empty_after_last = 0
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            body = json.loads(message["Body"])
            if body["detail"]["run_id"] == run_id:
                received.append(body)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        seen_last = any(m["detail"]["seq"] == last_seq for m in received)
        if seen_last and not messages:
            empty_after_last += 1
            if empty_after_last >= 3:  # a late duplicate would have had three polls to show up
                break
        elif not messages:
            time.sleep(0.1)
    return received


def test_every_event_of_a_run_reaches_the_bus_once(api, stack, bus_queue):
    name = f"bus-{uuid.uuid4().hex[:10]}"
    script = [{"tool_calls": [{"name": "echo", "arguments": {"x": 1}}]}, {"text": "done"}]
    definition = {
        "instructions": "Test agent.",
        "model": {"provider": "scripted", "script": script},
        "actions": [{"name": "echo", "kind": "builtin"}],
    }
    assert api.post("/v1/agents", json={"name": name, "definition": definition}).status == 201
    created = api.post("/v1/runs", json={"agent": name})
    assert created.status == 201, created.text
    run = created.json()
    done = api.request("POST", f"/v1/runs/{run['id']}/wait", query={"timeout": "20"}).json()
    assert done["status"] == "completed", done
    last_seq = api.get(f"/v1/runs/{run['id']}").json()["last_event_seq"]
    assert last_seq >= 4

    messages = drain_run_events(bus_queue, run["id"], last_seq)

    seqs = sorted(m["detail"]["seq"] for m in messages)
    assert seqs == list(range(1, last_seq + 1))  # every event, once
    for message in messages:
        detail = message["detail"]
        assert message["source"] == "runs-api"
        assert message["detail-type"] == detail["type"]
        assert detail["org_id"] == stack.dev_org_id
        assert detail["agent_id"] == run["agent_id"]
        assert detail["event_id"] == f"{run['id']}:{detail['seq']}"
        assert set(detail) >= {"seq", "type", "run_id", "data", "created_at"}
    by_seq = {m["detail"]["seq"]: m["detail"] for m in messages}
    assert by_seq[1]["type"] == "run.created"
    assert by_seq[last_seq]["type"] == "run.completed"
