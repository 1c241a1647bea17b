"""The deployed SSE path: EventsFunction's Lambda Web Adapter server (runs_core.api.lwa_server) on a
real socket on 127.0.0.1, sent requests shaped as LWA sends them (the API Gateway request context,
with the authorizer's context, in `x-amzn-request-context`), over the in-process moto stack.

The authorizer context comes from the real authorizer function, as API Gateway would pass it. Frames
are read as they arrive: the run waits for input while the stream is open, and is answered only after
its first frames were read. Bounded waits only: every socket read has a timeout.
"""

import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.apigw import _authorizer_context
from runs_core.api.lwa_server import (
    LAMBDA_CONTEXT_HEADER,
    REQUEST_CONTEXT_HEADER,
    StreamingServer,
    make_server,
)
from tests.integration.helpers import ASK, agent_with, start, wait

RESOURCE = "/v1/runs/{run_id}/events"
SSE = {"Accept": "text/event-stream"}
READ_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def server(stack) -> Iterator[StreamingServer]:
    events_function = stack.functions["EventsFunction"]

    def handler(event: dict[str, Any], context: Any) -> Any:
        # Through the function's execution environments and its template policy (devstack.iam), as the
        # local stack invokes every function; `stream=True` is what the web server calls: stream_handler.
        return events_function.invoke(event, context, stream=True)

    running = make_server(handler)
    thread = threading.Thread(target=running.serve_forever, name="lwa-server", daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()
    thread.join(timeout=10)


def request_context(stack, key: str, run_id: str) -> dict[str, Any]:
    """API Gateway's requestContext for GET /v1/runs/{run_id}/events, with what the authorizer said."""
    request_id = str(uuid.uuid4())
    method_arn = f"arn:aws:execute-api:us-east-1:000000000000:local/api/GET/v1/runs/{run_id}/events"
    headers = {"Authorization": f"Bearer {key}"}
    decision = stack.functions["AuthorizerFunction"].invoke(
        {
            "type": "REQUEST",
            "methodArn": method_arn,
            "resource": RESOURCE,
            "path": f"/v1/runs/{run_id}/events",
            "httpMethod": "GET",
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "pathParameters": {"run_id": run_id},
            "requestContext": {"requestId": request_id, "resourcePath": RESOURCE, "httpMethod": "GET"},
        }
    )
    authorizer = _authorizer_context(decision)  # what a REST API passes on: string values
    assert authorizer is not None, decision
    return {
        "accountId": "000000000000",
        "apiId": "local",
        "resourcePath": RESOURCE,
        "httpMethod": "GET",
        "path": f"/api/v1/runs/{run_id}/events",
        "stage": "api",
        "requestId": request_id,
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "runs-api-tests"},
        "authorizer": authorizer,
    }


def lambda_context() -> dict[str, Any]:
    """LWA's `x-amzn-lambda-context`: the invocation's Lambda context, serialized by the Rust runtime."""
    return {
        "request_id": str(uuid.uuid4()),
        "deadline": int(time.time() * 1000) + 120_000,
        "invoked_function_arn": "arn:aws:lambda:us-east-1:000000000000:function:EventsFunction",
        "xray_trace_id": "",
        "env_config": {"function_name": "EventsFunction", "memory": 512, "version": "$LATEST"},
    }


def open_events(
    server: StreamingServer,
    stack,
    key: str,
    run_id: str,
    headers: dict[str, str] | None = None,
    query: str = "",
    context: dict[str, Any] | None = None,
) -> http.client.HTTPResponse:
    """GET /v1/runs/{run_id}/events as LWA forwards it (path without the stage, the client's headers)."""
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=READ_TIMEOUT_S)
    sent = {
        "Authorization": f"Bearer {key}",
        REQUEST_CONTEXT_HEADER: json.dumps(context or request_context(stack, key, run_id)),
        LAMBDA_CONTEXT_HEADER: json.dumps(lambda_context()),
        **(headers or {}),
    }
    connection.request("GET", f"/v1/runs/{run_id}/events{query}", headers=sent)
    return connection.getresponse()


def next_frame(response: http.client.HTTPResponse) -> dict[str, str] | None:
    """The next SSE frame (field → value; comments skipped) as soon as it arrives; None at the end."""
    fields: dict[str, str] = {}
    while True:
        line = response.readline()
        if not line:
            return fields or None
        text = line.decode("utf-8").rstrip("\n")
        if not text:
            if fields:
                return fields
            continue
        if not text.startswith(":"):
            name, _, value = text.partition(": ")
            fields[name] = value


def frames_until(response: http.client.HTTPResponse, event_type: str) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []
    while (frame := next_frame(response)) is not None:
        seen.append(frame)
        if frame.get("event") == event_type:
            return seen
    raise AssertionError(f"the stream ended before {event_type}: {seen}")


@pytest.fixture(scope="module")
def asking_run(stack) -> str:
    """A run that waits for input: it ends only when a test answers it."""
    from tests.integration.conftest import ApiClient

    api = ApiClient(stack, stack.dev_key)
    script = [{"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "Which?"}}]}, {"text": "Ok."}]
    agent = agent_with(api, script, [ASK], price=None, prefix="lwa")
    run_id = start(api, agent)["id"]
    assert wait(api, run_id)["status"] == "waiting_for_input"
    return run_id


def test_frames_stream_before_the_run_ends_and_resume_after_last_event_id(server, stack, api, asking_run):
    # wait=900: accepted where the stream is live (buffered, the bound is 25 s).
    response = open_events(server, stack, stack.dev_key, asking_run, SSE, "?wait=900")
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/event-stream")
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Cache-Control") == "no-cache"
    assert response.getheader("Request-Id") and response.getheader("Api-Version")
    before = frames_until(response, "run.waiting_for_input")
    # The run is still waiting: these frames left while it runs. Answer it on the open stream.
    assert api.get(f"/v1/runs/{asking_run}").json()["status"] == "waiting_for_input"
    assert api.post(f"/v1/runs/{asking_run}/input", json={"content": "A"}).status == 200
    after = frames_until(response, "run.completed")
    assert next_frame(response) is None  # the stream ends right after the terminal event
    response.close()

    streamed = before + after
    seqs = [int(frame["id"]) for frame in streamed]
    assert seqs == list(range(1, len(seqs) + 1))
    logged = api.get(f"/v1/runs/{asking_run}/events", query={"limit": 1000}).json()["items"]
    assert [json.loads(frame["data"]) for frame in streamed] == logged

    # Reconnect after the last frame read before the answer: the rest, none twice.
    resumed_after = before[-1]["id"]
    resumed = open_events(server, stack, stack.dev_key, asking_run, {**SSE, "Last-Event-ID": resumed_after})
    assert resumed.status == 200
    rest = frames_until(resumed, "run.completed")
    assert next_frame(resumed) is None
    resumed.close()
    assert [frame["id"] for frame in rest] == [frame["id"] for frame in after]


def test_another_orgs_run_is_404_problem_json(server, stack, make_org, asking_run):
    other = make_org()
    for headers in (SSE, {}):
        response = open_events(server, stack, other.key, asking_run, headers)
        body = json.loads(response.read())
        assert response.status == 404, body
        assert response.getheader("Content-Type", "").startswith("application/problem+json")
        assert body["code"] == "not_found"


def test_bad_last_event_id_and_too_long_wait_are_400_problem_json(server, stack, asking_run):
    for headers, query in (({**SSE, "Last-Event-ID": "nope"}, ""), (SSE, "?wait=901")):
        response = open_events(server, stack, stack.dev_key, asking_run, headers, query)
        body = json.loads(response.read())
        assert response.status == 400, body
        assert response.getheader("Content-Type", "").startswith("application/problem+json")
        assert body["code"] == "validation_error"


def test_polling_json_is_served_on_the_same_url(server, stack, asking_run):
    response = open_events(server, stack, stack.dev_key, asking_run, {}, "?limit=2")
    page = json.loads(response.read())
    assert response.status == 200, page
    assert response.getheader("Content-Type", "").startswith("application/json")
    assert [item["seq"] for item in page["items"]] == [1, 2] and page["next_after_seq"] == 2


def test_without_the_request_context_nothing_is_served(server, stack, asking_run):
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=READ_TIMEOUT_S)
    connection.request("GET", f"/v1/runs/{asking_run}/events", headers={"Authorization": "Bearer x", **SSE})
    response = connection.getresponse()
    body = json.loads(response.read())
    assert response.status == 403 and body["code"] == "forbidden"


def test_readiness_check_is_answered_by_the_server(server):
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=READ_TIMEOUT_S)
    connection.request("GET", "/")
    response = connection.getresponse()
    assert response.status == 200 and response.read() == b"ready"
