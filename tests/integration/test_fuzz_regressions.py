"""What schemathesis found (tests/contract/test_fuzz.py), one regression test per bug.

Each was a 500 (or http.server's HTML 501) that is now the 4xx problem+json the contract documents."""

import base64
import http.client
import json
import threading
import uuid

import pytest

from devstack.server import LocalApiServer
from tests.integration.helpers import new_thread, start
from tests.support import serving


@pytest.fixture
def run_id(api):
    return start(api, "demo", input={"name": "Ada"}, start=False)["id"]


@pytest.fixture
def thread_id(api):
    return new_thread(api)["id"]


def _send(api, method: str, path: str, body: bytes):
    return api.request(method, path, body=body, headers={"Content-Type": "application/json"})


def _assert_problem(response, status: int, code: str) -> None:
    assert response.status == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_a_body_that_is_not_utf8_is_invalid_json_not_500(api, run_id):
    """Found: POST /v1/agents, POST …/approval, PUT …/memory/{key} with bytes like b'\\xff9\\xfe' → 500
    (UnicodeDecodeError decoding the base64 body in Powertools)."""
    for method, path in [
        ("POST", "/v1/agents"),
        ("POST", f"/v1/runs/{run_id}/approval"),
        ("PUT", f"/v1/runs/{run_id}/memory/k"),
    ]:
        _assert_problem(_send(api, method, path, b"\xff9\xfe*\x05"), 400, "invalid_json")


def test_an_unpaired_surrogate_escape_is_invalid_json(api, thread_id):
    lone = _send(api, "PUT", f"/v1/threads/{thread_id}/memory/k", b'{"value": "\\udae1x"}')
    _assert_problem(lone, 400, "invalid_json")
    paired = _send(api, "PUT", f"/v1/threads/{thread_id}/memory/k", b'{"value": "\\ud83d\\ude00"}')
    assert paired.status == 200, paired.text
    assert paired.json()["value"] == "\N{GRINNING FACE}"


def test_empty_metadata_keys_are_rejected_and_lists_keep_working(api):
    """Found: POST /v1/threads {"metadata": {"": ""}} → 201, then GET /v1/threads → 500 (a map with an empty
    key could not be read back); the same through POST /v1/agents/{agent}/run → 500."""
    response = api.post("/v1/threads", json={"metadata": {"": ""}})
    _assert_problem(response, 400, "validation_error")
    response = api.post("/v1/agents/demo/runs", json={"metadata": {"": "x"}})
    _assert_problem(response, 400, "validation_error")
    assert api.get("/v1/threads").status == 200


def test_memory_values_that_cannot_be_stored_are_400(api, run_id, thread_id):
    """Found: PUT memory {"value": {"": 1}} → GET memory 500 afterwards; {"value": 3.26e+248} → 500 (beyond
    DynamoDB's number range)."""
    for path in (f"/v1/runs/{run_id}/memory/k", f"/v1/threads/{thread_id}/memory/k"):
        _assert_problem(api.put(path, json={"value": {"": 1}}), 400, "validation_error")
        _assert_problem(
            _send(api, "PUT", path, b'{"value": 3.2697053578886857e+248}'), 400, "validation_error"
        )
        _assert_problem(_send(api, "PUT", path, b'{"value": 1' + b"0" * 40 + b"}"), 400, "validation_error")
        _assert_problem(_send(api, "PUT", path, b'{"value": NaN}'), 400, "invalid_json")
        assert api.put(path, json={"value": {"nested": [1.5, 10**37, "x"]}}).status == 200
        memory = api.get(path.rsplit("/", 2)[0] + "/memory")
        assert memory.status == 200, memory.text
        assert memory.json()["items"]["k"] == {"nested": [1.5, 10**37, "x"]}


def test_json_nested_deeper_than_dynamodb_stores_is_400(api, thread_id):
    """Found in review: 5,000 nested arrays → RecursionError: 500, and with an Idempotency-Key an unhandled
    Lambda error (502). DynamoDB nests at most 32 levels: deeper bodies are 400 before anything runs."""
    path = f"/v1/threads/{thread_id}/memory/k"
    for depth in (33, 5000):
        body = b'{"value": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
        _assert_problem(_send(api, "PUT", path, body), 400, "validation_error")
        retried = api.request(
            "POST",
            "/v1/threads",
            body=b'{"metadata": {"k": ' + b"[" * depth + b"]" * depth + b"}}",
            headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
        )
        _assert_problem(retried, 400, "validation_error")
    assert api.get(f"/v1/threads/{thread_id}/memory").json()["items"] == {}  # nothing was stored
    deepest = {"value": json.loads("[" * 31 + "]" * 31)}  # 32 levels with the body itself
    assert api.put(path, json=deepest).status == 200


def test_a_base64_utf8_json_body_still_works(api):
    """The UTF-8 check decodes what API Gateway base64-encodes; valid UTF-8 JSON sent that way is fine."""
    event_body = json.dumps({"metadata": {"k": "v"}}).encode()
    from runs_core.api.app import _not_json_text

    assert _not_json_text({"body": base64.b64encode(event_body).decode(), "isBase64Encoded": True}) is None
    assert _not_json_text({"body": base64.b64encode(b"\xff").decode(), "isBase64Encoded": True}) is not None


def test_methods_no_route_serves_are_problem_json_over_http(stack, dev_key):
    """Found: TRACE and QUERY requests to the local stack got http.server's HTML 501."""
    with serving(LocalApiServer(stack, "127.0.0.1", 0)) as server:
        for method in ("TRACE", "QUERY", f"X{uuid.uuid4().hex[:6].upper()}"):
            connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
            connection.request(method, "/v1/agents", headers={"Authorization": f"Bearer {dev_key}"})
            response = connection.getresponse()
            body = response.read()
            connection.close()
            assert 400 <= response.status < 500, (method, response.status, body)
            assert response.getheader("Content-Type", "").startswith("application/problem+json"), method


def test_concurrent_requests_in_two_copies_of_a_function_keep_their_own_event():
    """Found as GET /v1/threads/{id}/memory answering a page of messages under concurrent fuzzing: Powertools
    keeps the current event on a class, so a request in one copy of a function (the local stack's execution
    environments are threads of one process) resolved the route, and authorized, with another's event."""
    from aws_lambda_powertools.event_handler.api_gateway import Router

    from runs_core.api.app import create_app

    router = Router()
    both_resolving = threading.Barrier(2, timeout=10)

    @router.get("/v1/echo/<name>")
    def echo(name: str) -> dict[str, str]:
        both_resolving.wait()  # both requests are in flight now
        return {"name": name, "path": router.current_event.path}

    apps = [create_app(router), create_app(router)]  # two execution environments of one function
    answers: dict[str, dict] = {}

    def call(app, name: str) -> None:
        event = {
            "httpMethod": "GET",
            "path": f"/v1/echo/{name}",
            "resource": "/v1/echo/{name}",
            "headers": {},
            "requestContext": {"requestId": name, "resourcePath": "/v1/echo/{name}"},
            "pathParameters": {"name": name},
        }
        answers[name] = json.loads(app.resolve(event, None)["body"])

    threads = [
        threading.Thread(target=call, args=(app, name)) for app, name in zip(apps, ("a", "b"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert answers == {"a": {"name": "a", "path": "/v1/echo/a"}, "b": {"name": "b", "path": "/v1/echo/b"}}
