"""Injected AWS faults end every run in a defined state with a contiguous event log (docs/architecture.md:
faults are
injected at the botocore client, like Stubber does, or by wrapping the adapter).

Faults are injected with a `before-call` handler on the shared botocore client: returning a response there
short-circuits the call exactly as botocore's Stubber does, so the code sees a real ClientError subclass
(with CancellationReasons for TransactWriteItems), but only for the calls a predicate picks.
"""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr
from botocore.awsrequest import AWSResponse

from devstack.template import REGION
from runs_core import workflow
from runs_core.execution import loop, waits
from runs_core.settings import get_settings
from runs_core.storage import dynamo
from runs_core.stores import get_stores
from runs_core.stream import event_router
from tests.integration.helpers import (
    ASK,
    ECHO,
    agent_with,
    asker_agent,
    assert_contiguous,
    drain_run_events,
    held_thread,
    late_run_events,
    run_to_end,
    start,
    thread_run,
    together,
    until_idle,
)

SCRIPT = [{"tool_calls": [{"name": "echo", "arguments": {"n": 1}}]}, {"text": "done"}]


# ------------------------------------------------------------------------------------------ helpers


def client_error(code: str, message: str = "injected", **extra: Any) -> tuple[AWSResponse, dict[str, Any]]:
    status = 400 if code != "ServiceUnavailable" else 503
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
        **extra,
    }
    return AWSResponse("https://injected.invalid", status, {}, None), parsed


@contextmanager
def inject(
    client: Any, operation: str, fault: Callable[[dict[str, Any]], tuple[AWSResponse, dict[str, Any]] | None]
) -> Iterator[None]:
    """`fault(params)` → an error response for that call, or None to let it through."""
    lock = threading.Lock()

    def handler(params: dict[str, Any], **_: Any) -> Any:
        body = params["body"]  # the serialized request; the operation's parameters as the API sees them
        request = json.loads(body) if isinstance(body, str | bytes) and body else dict(body or {})
        with lock:
            return fault(request)

    event = f"before-call.{client.meta.service_model.endpoint_prefix}.{operation}"
    client.meta.events.register(event, handler, unique_id=f"fault-{id(handler)}")
    try:
        yield
    finally:
        client.meta.events.unregister(event, unique_id=f"fault-{id(handler)}")


def runs_of_org(org_id: str) -> set[str]:
    table = boto3.resource("dynamodb").Table(get_settings().runs_table)
    return {item["id"] for item in table.scan(FilterExpression=Attr("org_id").eq(org_id))["Items"]}


def event_run_ids_of_org(org_id: str) -> set[str]:
    table = boto3.resource("dynamodb").Table(get_settings().events_table)
    return {item["run_id"] for item in table.scan(FilterExpression=Attr("org_id").eq(org_id))["Items"]}


# ------------------------------------------------------------------------------- throttling on create


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]
)
def test_throttled_run_creation_is_a_5xx_and_writes_nothing(make_org, code):
    tenant = make_org()
    agent = agent_with(tenant.api, SCRIPT)
    before = runs_of_org(tenant.org_id)
    fired: list[int] = []

    def throttle(params: dict[str, Any]) -> Any:
        puts = [item.get("Put", {}) for item in params["TransactItems"]]
        if any(put.get("ConditionExpression") == "attribute_not_exists(id)" for put in puts):
            fired.append(len(puts))
            return client_error(code, "Rate of requests exceeds the allowed throughput.")
        return None

    with inject(dynamo.client(), "TransactWriteItems", throttle):
        response = tenant.api.post("/v1/runs", json={"agent": agent})
    assert fired and response.status >= 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert (
        problem["code"] == "internal_error" and "Traceback" not in response.text and code not in response.text
    )
    # nothing half-written: no run without its events, no events without a run
    assert runs_of_org(tenant.org_id) == before
    assert event_run_ids_of_org(tenant.org_id) <= runs_of_org(tenant.org_id)
    # and once the table has capacity again, the same request works
    assert run_to_end(tenant.api, start(tenant.api, agent)["id"])["status"] == "completed"


# ---------------------------------------------------------------- transaction conflicts during a step


def _run_update(params: dict[str, Any], run_id: str) -> bool:
    """The transaction moves `run_id`'s record (a conditional Update on its rev)."""
    for item in params["TransactItems"]:
        update = item.get("Update")
        if update and update.get("Key", {}).get("id", {}).get("S") == run_id:
            return "#rev = :expected_rev" in update.get("ConditionExpression", "")
    return False


@pytest.mark.parametrize("reason", ["ConditionalCheckFailed", "TransactionConflict"])
def test_cancelled_transactions_during_steps_are_retried_and_the_run_completes(api, reason):
    agent = agent_with(api, SCRIPT, [ECHO])
    run = api.post("/v1/runs", json={"agent": agent, "start": False}).json()
    failures = {"left": 4}

    def conflict(params: dict[str, Any]) -> Any:
        if failures["left"] and _run_update(params, run["id"]):
            failures["left"] -= 1
            reasons = [{"Code": reason if i == 0 else "None"} for i in range(len(params["TransactItems"]))]
            return client_error("TransactionCanceledException", "cancelled", CancellationReasons=reasons)
        return None

    with inject(dynamo.client(), "TransactWriteItems", conflict):
        assert api.post(f"/v1/runs/{run['id']}/invoke").status == 200
        done = run_to_end(api, run["id"])
    assert failures["left"] == 0
    assert done["status"] == "completed" and done["output"] == {"answer": "done"}
    _, types = assert_contiguous(api, run["id"])
    assert types.count("tool.result") == 1 and types.count("run.started") == 1


def test_other_transaction_cancellations_fail_the_run_cleanly(api):
    """A cancellation that is not a lost race (e.g. ValidationError on an item) is not retried forever:
    the state machine's Catch fails the run with internal_error."""
    agent = agent_with(api, SCRIPT, [ECHO])
    run = api.post("/v1/runs", json={"agent": agent, "start": False}).json()
    failures = {"left": 1}

    def broken(params: dict[str, Any]) -> Any:
        events = [i for i in params["TransactItems"] if "Put" in i and "seq" in i["Put"]["Item"]]
        types = [event["Put"]["Item"]["type"]["S"] for event in events]
        if failures["left"] and _run_update(params, run["id"]) and "tool.result" in types:
            failures["left"] -= 1
            reasons = [{"Code": "ValidationError"}] + [{"Code": "None"}] * (len(params["TransactItems"]) - 1)
            return client_error("TransactionCanceledException", "bad item", CancellationReasons=reasons)
        return None

    with inject(dynamo.client(), "TransactWriteItems", broken):
        assert api.post(f"/v1/runs/{run['id']}/invoke").status == 200
        done = run_to_end(api, run["id"])
    assert done["status"] == "failed" and done["error"]["code"] == "internal_error", done
    assert "ValidationError" not in json.dumps(done)
    _, types = assert_contiguous(api, run["id"])
    assert "tool.result" not in types


# ------------------------------------------------------------------------- Lambda errors and timeouts


def test_a_step_lambda_timeout_fails_the_run_with_internal_error(api, monkeypatch):
    """Lambda reports a timeout as errorType Sandbox.Timedout: not retried, so the Catch → FailRun."""
    timed_out = type("Sandbox.Timedout", (Exception,), {})
    real = loop.step
    run = start(api, agent_with(api, SCRIPT, [ECHO]), start=False)
    steps = 0

    def slow(run_id: str) -> dict[str, Any]:
        nonlocal steps
        if run_id == run["id"]:  # only this run: another module's run may still be stepping
            steps += 1
            if steps == 2:  # the run's second step (after the tool call) "times out"
                raise timed_out("Task timed out after 300.00 seconds")
        return real(run_id)

    monkeypatch.setattr(loop, "step", slow)
    assert api.post(f"/v1/runs/{run['id']}/invoke").status == 200
    done = run_to_end(api, run["id"])
    assert done["status"] == "failed" and done["error"]["code"] == "internal_error", done
    assert "Timedout" not in json.dumps(done)
    _, types = assert_contiguous(api, run["id"])
    assert types.count("tool.result") == 1


def test_a_crashing_park_fails_a_waiting_run(api, monkeypatch):
    """The wait task's Lambda (park) errors: the run does not hang in waiting_for_input forever."""
    real = waits.park
    asker = agent_with(api, [{"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "?"}}]}], [ASK])
    run = start(api, asker, start=False)

    def broken(run_id: str, step_id: str, task_token: str) -> dict[str, Any]:
        if run_id == run["id"]:  # only this run: another module's run may be parking now
            raise RuntimeError("park failed")
        return real(run_id, step_id, task_token)

    monkeypatch.setattr(waits, "park", broken)
    assert api.post(f"/v1/runs/{run['id']}/invoke").status == 200
    done = run_to_end(api, run["id"])
    assert done["status"] == "failed" and done["error"]["code"] == "internal_error", done
    assert done["pending"] is None
    assert_contiguous(api, run["id"])


# ------------------------------------------------------------------------------ StartExecution failing


def fail_start_of(run_ids: set[str] | None) -> Callable[[dict[str, Any]], Any]:
    def fault(params: dict[str, Any]) -> Any:
        if run_ids is None or params["name"] in run_ids:
            return client_error("ServiceUnavailable", "Step Functions is unavailable")
        return None

    return fault


def test_start_execution_failing_fails_the_run_not_left_queued(make_org):
    tenant = make_org()
    agent = agent_with(tenant.api, SCRIPT, [ECHO])
    with inject(workflow._client(), "StartExecution", fail_start_of(None)):
        response = tenant.api.post("/v1/runs", json={"agent": agent})
        created = tenant.api.post("/v1/runs", json={"agent": agent, "start": False}).json()
        invoked = tenant.api.post(f"/v1/runs/{created['id']}/invoke")
    # The run exists, so the answer is the run, failed: the client learns its id and why (no 5xx whose
    # retry would create a second run without knowing the first).
    assert response.status == 201 and response.json()["status"] == "failed"
    assert invoked.status == 200 and invoked.json()["status"] == "failed"
    assert response.json()["error"] == {"code": "internal_error", "message": "The run could not be started."}
    runs = tenant.api.get("/v1/runs").json()["items"]
    assert {run["id"] for run in runs} == {response.json()["id"], created["id"]}
    for run in runs:
        assert run["status"] == "failed" and run["error"]["code"] == "internal_error", run
        _, types = assert_contiguous(tenant.api, run["id"])
        assert types == ["run.created", "run.queued", "run.failed"]


def test_a_start_that_fails_after_the_run_started_returns_the_run_not_500(api, monkeypatch):
    """StartExecution can fail late (a timeout after Step Functions accepted it; ExecutionAlreadyExists once
    the stream router started and finished it): the run has moved on, so it is returned as it is."""
    executions = get_stores().executions
    real_start = executions.start

    def start_then_fail(run_id: str) -> None:
        real_start(run_id)
        deadline = time.monotonic() + 30
        while get_stores().runs.get(run_id, consistent=True)["status"] == "queued":
            assert time.monotonic() < deadline, "the run never left queued"
            time.sleep(0.05)
        raise RuntimeError("StartExecution timed out")

    monkeypatch.setattr(executions, "start", start_then_fail)
    response = api.post("/v1/runs", json={"agent": agent_with(api, SCRIPT, [ECHO])})
    assert response.status == 201, response.text
    assert response.json()["status"] not in ("queued", "failed"), response.json()
    run = run_to_end(api, response.json()["id"])
    assert run["status"] == "completed"
    assert assert_contiguous(api, run["id"])[1][-1] == "run.completed"


def test_start_execution_failing_at_thread_hand_over_does_not_stick_the_thread(api):
    """The next run of a thread cannot be started: it fails, and the thread passes on to the one after."""
    plain = agent_with(api, [{"text": "b"}])
    thread, first = held_thread(api, asker_agent(api))
    second = thread_run(api, thread["id"], plain).json()
    third = thread_run(api, thread["id"], plain).json()
    with inject(workflow._client(), "StartExecution", fail_start_of({second["id"]})):
        assert api.post(f"/v1/runs/{first['id']}/input", json={"content": "go"}).status == 200
        assert run_to_end(api, first["id"])["status"] == "completed"
        assert run_to_end(api, second["id"])["status"] == "failed"
    assert run_to_end(api, third["id"])["status"] == "completed"
    assert until_idle(api, thread["id"])["status"] == "idle"
    failed, _ = assert_contiguous(api, second["id"])
    assert failed["error"]["code"] == "internal_error"
    for run in (first, third):
        assert assert_contiguous(api, run["id"])[0]["status"] == "completed"


# ---------------------------------------------------------------------- duplicate stream deliveries


def stream_records(run_id: str) -> list[dict[str, Any]]:
    """The event log's INSERT records of `run_id`, as the DynamoDB stream delivers them."""
    items = dynamo.client().query(
        TableName=get_settings().events_table,
        KeyConditionExpression="run_id = :r",
        ExpressionAttributeValues={":r": {"S": run_id}},
        ConsistentRead=True,
    )["Items"]
    return [
        {
            "eventID": f"dup-{run_id}-{item['seq']['N']}",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": {
                "Keys": {"run_id": item["run_id"], "seq": item["seq"]},
                "NewImage": item,
                "SequenceNumber": f"9{int(item['seq']['N']):020d}",
                "SizeBytes": 100,
                "StreamViewType": "NEW_IMAGE",
            },
            "eventSourceARN": f"arn:aws:dynamodb:{REGION}:000000000000:table/Events/stream/dup",
        }
        for item in items
    ]


def test_duplicate_stream_deliveries_put_each_event_on_the_bus_once(api, bus_queue):
    """Lambda redelivers a batch after a partial failure or a timeout (one batch per shard at a time):
    events already on the bus are not put again, duplicates within a batch are put once."""
    run = start(api, agent_with(api, SCRIPT, [ECHO]))
    done = run_to_end(api, run["id"])
    last = done["last_event_seq"]
    first = drain_run_events(bus_queue, run["id"], last)  # the real stream mapping's delivery
    assert sorted(m["detail"]["seq"] for m in first) == list(range(1, last + 1))
    records = stream_records(run["id"])
    assert len(records) == last
    # the same records again: twice in one batch, then once more reversed in another batch
    assert event_router.handle_stream_batch({"Records": records + records}) == {"batchItemFailures": []}
    assert event_router.handle_stream_batch({"Records": records[::-1]}) == {"batchItemFailures": []}
    assert late_run_events(bus_queue, run["id"]) == []


def test_a_terminal_event_delivered_many_times_hands_the_thread_over_once(api):
    """run.completed of the thread's active run, delivered several times at once (and by the real stream
    too): the next queued run starts once, and the one after it is not skipped."""
    plain = agent_with(api, [{"text": "b"}])
    thread, first = held_thread(api, asker_agent(api))
    queued = [thread_run(api, thread["id"], plain).json() for _ in range(2)]
    assert api.post(f"/v1/runs/{first['id']}/input", json={"content": "go"}).status == 200
    assert run_to_end(api, first["id"])["status"] == "completed"
    terminal = [
        r for r in stream_records(first["id"]) if r["dynamodb"]["NewImage"]["type"]["S"] == "run.completed"
    ]
    results = together(*[lambda: event_router.handle_stream_batch({"Records": terminal * 2})] * 4)
    assert results == [{"batchItemFailures": []}] * 4
    finished = [run_to_end(api, run["id"]) for run in queued]
    assert [run["status"] for run in finished] == ["completed", "completed"]
    assert finished[0]["started_at"] <= finished[1]["started_at"]  # in queue order
    assert until_idle(api, thread["id"])["status"] == "idle"
    for run in [first, *queued]:
        _, types = assert_contiguous(api, run["id"])
        assert types.count("run.started") == 1, types
    # a late redelivery after everything finished changes nothing either
    assert event_router.handle_stream_batch({"Records": terminal}) == {"batchItemFailures": []}
    assert api.get(f"/v1/threads/{thread['id']}").json()["status"] == "idle"
    authors = [m["run_id"] for m in api.get(f"/v1/threads/{thread['id']}/messages").json()["items"]]
    assert authors.count(queued[0]["id"]) == authors.count(queued[1]["id"]) == authors.count(first["id"])


def test_a_run_whose_request_died_before_starting_it_is_started_by_the_router(api, monkeypatch):
    """The request wrote the run and its events, then died before StartExecution (nothing started it):
    the stream router, following up on `run.queued`, starts it."""
    from runs_core.logic import runs as runs_logic

    monkeypatch.setattr(runs_logic, "start_execution", lambda run: run)
    agent = agent_with(api, SCRIPT, [ECHO])
    run = api.post("/v1/runs", json={"agent": agent}).json()
    assert run["status"] == "queued"
    assert run_to_end(api, run["id"])["status"] == "completed"
    assert assert_contiguous(api, run["id"])[1][-1] == "run.completed"
