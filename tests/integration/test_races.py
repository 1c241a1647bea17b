"""Races with real threads: a cancel against a finishing step, many times (DESIGN.md: conditional writes)."""

import threading
import uuid

import boto3
from boto3.dynamodb.conditions import Key

from runs_core.logic import execution
from runs_core.settings import get_settings
from runs_core.storage.runs import NewEvent
from runs_core.stores import get_stores


def queued_without_execution(api, agent: str) -> str:
    """A queued run no state machine drives: the test calls the step handler itself."""
    run = api.request("POST", "/v1/runs", json={"agent": agent, "start": False}).json()
    record = get_stores().runs.get(run["id"], consistent=True)
    get_stores().runs.transition(
        record,
        {"status": "queued"},
        [NewEvent("run.queued", {"status": "queued"})],
        "2026-01-01T00:00:00.000Z",
        0,
    )
    return run["id"]


def event_log(run_id: str) -> list[dict]:
    table = boto3.resource("dynamodb").Table(get_settings().events_table)
    return table.query(KeyConditionExpression=Key("run_id").eq(run_id), ConsistentRead=True)["Items"]


def test_cancel_vs_finishing_step_50_times(api):
    name = f"race-{uuid.uuid4().hex[:8]}"
    definition = {"model": {"provider": "scripted", "script": [{"text": "finished"}]}}
    assert api.request("POST", "/v1/agents", json={"name": name, "definition": definition}).status == 201
    outcomes = {"completed": 0, "cancelled": 0}
    for _ in range(50):
        run_id = queued_without_execution(api, name)
        barrier = threading.Barrier(2)
        cancel_status: list[int] = []

        def step(run_id: str = run_id, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            execution.handle_task({"action": "step", "run_id": run_id})

        def cancel(
            run_id: str = run_id, barrier: threading.Barrier = barrier, out: list = cancel_status
        ) -> None:
            barrier.wait()
            out.append(api.request("POST", f"/v1/runs/{run_id}/cancel").status)

        threads = [threading.Thread(target=step), threading.Thread(target=cancel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        run = api.request("GET", f"/v1/runs/{run_id}").json()
        events = event_log(run_id)
        types = [event["type"] for event in events]
        # seq is contiguous from 1 and matches the run; exactly one terminal event, and it is the last one
        assert [int(event["seq"]) for event in events] == list(range(1, run["last_event_seq"] + 1))
        terminal = [t for t in types if t in ("run.completed", "run.cancelled", "run.failed")]
        assert len(terminal) == 1 and types[-1] == terminal[0]
        if run["status"] == "completed":
            assert (
                cancel_status == [409]
                and terminal == ["run.completed"]
                and run["output"] == {"answer": "finished"}
            )
        else:
            assert run["status"] == "cancelled" and cancel_status == [200] and terminal == ["run.cancelled"]
            assert run["output"] is None  # the late step wrote nothing
        outcomes[run["status"]] += 1
    assert sum(outcomes.values()) == 50
