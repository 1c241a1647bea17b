"""Helpers the integration modules share (agents, runs, threads, the event log, bodies), so that test
modules import from here rather than from each other. Fixtures live in conftest.py."""

import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from devstack.template import REGION, Template
from tests.integration.conftest import GENEROUS_RATE_LIMITS, ApiClient

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

# Run statuses a run does not leave.
TERMINAL = ("completed", "failed", "cancelled")
TERMINAL_EVENTS = ("run.completed", "run.failed", "run.cancelled")

PRICE = {"input_per_mtok": 3.0, "output_per_mtok": 15.0}
ECHO = {"name": "echo", "kind": "builtin"}
PAY = {"name": "pay_invoice", "kind": "builtin", "builtin": "echo", "requires_approval": True}
ASK = {"name": "ask_user", "kind": "builtin"}
MEMORY_SET = {"name": "memory_set", "kind": "builtin"}
MEMORY_GET = {"name": "memory_get", "kind": "builtin"}

WAIT_DEADLINE_S = 30
IDLE_DEADLINE_S = 15


def ok(response, status: int = 200) -> Any:
    assert response.status == status, response.text
    return response.json() if response.body else None


# ------------------------------------------------------------------------------------------ agents, runs


def as_org(key: str | None) -> dict:
    """The client's own key unless another org's key is given."""
    return {"key": key} if key else {}


def agent_with(
    api,
    script,
    actions=(),
    outputs=(),
    limits=None,
    key=None,
    price: dict[str, float] | None = PRICE,
    prefix: str = "exec",
    instructions: str = "Test agent.",
) -> str:
    """A new agent (a fresh name) with a scripted model; price=None leaves the model without a price."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    model: dict[str, Any] = {"provider": "scripted", "script": list(script)}
    if price is not None:
        model["price"] = price
    definition = {
        "instructions": instructions,
        "model": model,
        "actions": list(actions),
        "outputs": list(outputs),
        **({"limits": limits} if limits else {}),
    }
    response = api.request("POST", "/v1/agents", json={"name": name, "definition": definition}, **as_org(key))
    assert response.status == 201, response.text
    return name


@contextmanager
def scratch_table(prefix: str, attributes: Sequence[tuple[str, str]] = (), **extra: Any) -> Iterator[str]:
    """A pk (S) / sk (N) table of a fresh name in the local stack's moto, deleted afterwards. `attributes`:
    more (name, type) definitions for `extra` (GlobalSecondaryIndexes, StreamSpecification, …)."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": kind}
            for attribute, kind in (("pk", "S"), ("sk", "N"), *attributes)
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        **extra,
    )
    try:
        yield name
    finally:
        dynamodb.delete_table(TableName=name)


def create_agent(api, model: dict[str, Any]) -> str:
    """A new agent with this `model` block (any provider) and the echo action."""
    name = f"model-{uuid.uuid4().hex[:8]}"
    definition = {"model": model, "actions": [{"name": "echo", "kind": "builtin"}]}
    assert api.request("POST", "/v1/agents", json={"name": name, "definition": definition}).status == 201
    return name


def start(api, agent, key=None, **body) -> dict[str, Any]:
    """POST /v1/runs (started unless body says start=False): the created run."""
    response = api.request("POST", "/v1/runs", json={"agent": agent, **body}, **as_org(key))
    assert response.status == 201, response.text
    return dict(response.json())


def wait(api, run_id, key=None) -> dict[str, Any]:
    """One POST /v1/runs/{id}/wait of up to 20 s: the run then (not necessarily finished)."""
    response = api.request("POST", f"/v1/runs/{run_id}/wait", query={"timeout": "20"}, **as_org(key))
    assert response.status == 200, response.text
    return dict(response.json())


def settle(api, run_id: str, wanted: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
    """The run once its status is one of `wanted` (waits of 5 s, for up to WAIT_DEADLINE_S)."""
    deadline = time.monotonic() + WAIT_DEADLINE_S
    while True:
        run = ok(api.request("POST", f"/v1/runs/{run_id}/wait", query={"timeout": "5"}))
        if run["status"] in wanted:
            return dict(run)
        assert time.monotonic() < deadline, run


def run_to_end(api, run_id: str) -> dict[str, Any]:
    """The run once it has ended (completed, failed or cancelled)."""
    return settle(api, run_id, TERMINAL)


def execution_done(run_id: str) -> str:
    """The status of the run's Step Functions execution once it has stopped running (fails after
    WAIT_DEADLINE_S). A run's status turns terminal while its last task is still returning; a test that
    reads what that task wrote (metrics on stdout, say) waits for this first."""
    from runs_core.stores import get_stores

    executions = get_stores().executions
    arn = executions.execution_arn(run_id)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    deadline = time.monotonic() + WAIT_DEADLINE_S
    while (status := str(sfn.describe_execution(executionArn=arn)["status"])) == "RUNNING":
        assert time.monotonic() < deadline, f"execution of {run_id} still RUNNING"
        time.sleep(0.05)
    return status


def steps_of(api, run_id):
    return api.request("GET", f"/v1/runs/{run_id}/steps", query={"limit": "100"}).json()["items"]


# ------------------------------------------------------------------------------------------ threads


def new_thread(api, **body):
    response = api.post("/v1/threads", json=body)
    assert response.status == 201, response.text
    return response.json()


def thread_run(api, thread_id, agent, **body):
    return api.post(f"/v1/threads/{thread_id}/runs", json={"agent": agent, **body})


def until_idle(api, thread_id: str) -> dict[str, Any]:
    """The thread once the event router has handed it on after its last run (asynchronously)."""
    deadline = time.monotonic() + IDLE_DEADLINE_S
    while True:
        thread = ok(api.get(f"/v1/threads/{thread_id}"))
        if thread["status"] == "idle":
            return dict(thread)
        assert time.monotonic() < deadline, f"thread {thread_id} stayed busy: {thread}"
        time.sleep(0.05)


def asker_agent(api):
    """An agent whose run asks the user a question (and so holds its thread), then answers."""
    return agent_with(
        api, [{"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "?"}}]}, {"text": "ok"}], [ASK]
    )


def held_thread(api, asker):
    """A new thread and the run that holds it, waiting for input."""
    thread = new_thread(api)
    holder = thread_run(api, thread["id"], asker).json()
    assert wait(api, holder["id"])["status"] == "waiting_for_input"
    return thread, holder


# ------------------------------------------------------------------------------------------ event log


def event_log(api, run_id: str, page: int = 3) -> list[dict[str, Any]]:
    """The whole event log through GET /v1/runs/{id}/events (small pages: paging is exercised too)."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        response = api.get(f"/v1/runs/{run_id}/events", query={"after_seq": str(after), "limit": str(page)})
        assert response.status == 200, response.text
        items = response.json()["items"]
        if not items:
            return events
        events += items
        after = items[-1]["seq"]


def assert_contiguous(api, run_id: str) -> tuple[dict[str, Any], list[str]]:
    """The run is in a defined state and its log is 1..last_event_seq, each seq once, one terminal last."""
    run = api.get(f"/v1/runs/{run_id}").json()
    events = event_log(api, run_id)
    assert [event["seq"] for event in events] == list(range(1, run["last_event_seq"] + 1)), run
    types = [event["type"] for event in events]
    assert types[0] == "run.created"
    terminal = [t for t in types if t in TERMINAL_EVENTS]
    if run["status"] in TERMINAL:
        assert terminal == [f"run.{run['status']}"] and types[-1] == terminal[0], types
    else:
        assert terminal == [], types
    return run, types


DRAIN_DEADLINE_S = 30


def _receive(queue_url: str, run_id: str, received: list[dict[str, Any]]) -> bool:
    """One receive from the bus queue: `run_id`'s messages appended to `received`, all deleted; whether
    there were any messages at all."""
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        body = json.loads(message["Body"])
        if body["detail"]["run_id"] == run_id:
            received.append(body)
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bool(messages)


def drain_run_events(queue_url: str, run_id: str, last_seq: int) -> list[dict[str, Any]]:
    """The bus messages of `run_id` (from conftest's bus_queue), read until `last_seq` has arrived and the
    queue is then empty."""
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + DRAIN_DEADLINE_S
    empty_after_last = 0
    while time.monotonic() < deadline:
        any_messages = _receive(queue_url, run_id, received)
        seen_last = any(m["detail"]["seq"] == last_seq for m in received)
        if seen_last and not any_messages:
            empty_after_last += 1
            if empty_after_last >= 3:  # a late duplicate would have had three polls to show up
                break
        elif not any_messages:
            time.sleep(0.1)
    return received


def late_run_events(queue_url: str, run_id: str, polls: int = 5) -> list[dict[str, Any]]:
    """Bus messages of `run_id` that arrive within a few polls (puts are synchronous: they would be there)."""
    received: list[dict[str, Any]] = []
    for _ in range(polls):
        _receive(queue_url, run_id, received)
        time.sleep(0.05)
    return received


TOGETHER_TIMEOUT_S = 60


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment on real threads; their results in call order (a call that hangs
    fails the test after TOGETHER_TIMEOUT_S instead of hanging the session)."""
    barrier = threading.Barrier(len(calls), timeout=TOGETHER_TIMEOUT_S)
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TOGETHER_TIMEOUT_S)
        assert not thread.is_alive(), "a concurrent call did not return"
    return results


# ------------------------------------------------------------------------------------------ tables, bodies


def template_routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every operation in template.yaml (not the catch-all ANY routes: 405s, which read
    nothing: tests/integration/test_method_not_allowed.py)."""
    return {(event.method, event.path) for event in Template(TEMPLATE).api_operations()}


def new_org(stack) -> ApiClient:
    """A client of a new org (generous limits, credits 100,000)."""
    admin = ApiClient(stack, stack.admin_key)
    body = {"name": f"iso-{secrets.token_hex(4)}", "credits": 100_000, "rate_limits": GENEROUS_RATE_LIMITS}
    created = ok(admin.post("/v1/admin/orgs", json=body), 201)
    return ApiClient(stack, created["api_key"]["key"])


def definition(script: list[dict[str, Any]]) -> dict[str, Any]:
    """An agent definition with the builtins echo, pay_invoice (needs approval), ask_user, memory_set."""
    return {
        "instructions": "Isolation test agent.",
        "model": {"provider": "scripted", "script": script},
        "actions": [ECHO, PAY, ASK, MEMORY_SET],
    }


def fill(value: Any, ids: dict[str, str]) -> Any:
    """`value` with {name} placeholders in its strings (in dicts and lists too) filled from `ids`."""
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, ids) for item in value]
    return value


def multipart(
    *parts: tuple[str, str | None, str | None, bytes], boundary: str = "b0undary"
) -> tuple[bytes, str]:
    """(body, Content-Type) for parts (name, filename, content type, data)."""
    chunks: list[bytes] = []
    for name, filename, content_type, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        chunks.append(head.encode() + b"\r\n" + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


PDF = b"%PDF-1.4\n" + os.urandom(2048) + b"\r\n--not-a-boundary--\r\n%%EOF"


def upload(api, data=PDF, name="invoice.pdf", content_type="application/pdf"):
    """POST /v1/files, multipart (the response, not checked)."""
    body, header = multipart(("file", name, content_type, data))
    return api.request("POST", "/v1/files", body=body, headers={"Content-Type": header})


# ------------------------------------------------------------------------------------------ problems


def problem_of(response, status: int, code: str) -> dict[str, Any]:
    """The problem+json body of a response that must be `status` with problem `code`."""
    assert response.status == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.headers
    problem = response.json()
    assert problem["code"] == code, problem
    return dict(problem)


def problem_fields(problem: dict[str, Any]) -> set[str]:
    """The fields a validation_error problem names."""
    return {error["field"] for error in problem.get("errors", [])}
