"""The event log's stream router on the local stack: the EventsTable stream mapping runs the real
EventRouterFunction in-process, which puts every event on the stack's EventBridge bus (moto). A rule
with an SQS target receives each event of a run exactly once (docs/api.md §6, EventBridge)."""

import uuid

from tests.integration.helpers import drain_run_events


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
