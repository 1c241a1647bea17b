"""Integers and timestamps that were a 500 (issue 10): a 39-digit `after_seq` (more than DynamoDB's 38
digits) on polling, SSE or a WebSocket subscribe, and `created_after` / `created_before` before 1970
(OverflowError minting an id bound). Each is now a 400 problem+json naming the parameter (a WebSocket
error frame), and nothing is written."""

import json
import uuid
from typing import Any

import pytest

from runs_core.models.common import MAX_INTEGER
from tests.integration.helpers import new_thread, ok, problem_fields, problem_of, start

HUGE = "1" * 39  # one digit more than a DynamoDB number holds


@pytest.fixture
def run_id(api):
    return start(api, "demo", input={"name": "Ada"}, start=False)["id"]


@pytest.mark.parametrize("name", ["after_seq", "starting_after", "limit"])
@pytest.mark.parametrize("accept", ["application/json", "text/event-stream"])
def test_huge_integers_on_the_event_log_are_400_before_any_frame(api, run_id, name, accept):
    """Found: a 500 on polling, a stream broken after its 200 on SSE (boto3 cannot serialise the number)."""
    response = api.get(f"/v1/runs/{run_id}/events", query={name: HUGE}, headers={"Accept": accept})
    assert name in problem_fields(problem_of(response, 400, "validation_error"))


def test_an_after_seq_at_the_bound_still_reads(api, run_id):
    page = ok(api.get(f"/v1/runs/{run_id}/events", query={"after_seq": str(MAX_INTEGER)}))
    assert page["items"] == [] and page["next_after_seq"] == MAX_INTEGER
    too_big = api.get(f"/v1/runs/{run_id}/events", query={"after_seq": str(MAX_INTEGER + 1)})
    problem_of(too_big, 400, "validation_error")


def _integer_query_parameters() -> list[tuple[str, str, str]]:
    from runs_core.api.spec import openapi_document

    document = json.loads(openapi_document())
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                kinds = [schema.get("type")] + [option.get("type") for option in schema.get("anyOf", [])]
                if parameter["in"] == "query" and "integer" in kinds:
                    found.append((method.upper(), path, parameter["name"]))
    return found


INTEGER_QUERY_PARAMETERS = _integer_query_parameters()
OWN_ERROR_BODIES = ("/dialects/openai/", "/dialects/langgraph/")


def test_the_sweep_covers_the_known_integer_parameters():
    names = {name for _, _, name in INTEGER_QUERY_PARAMETERS}
    assert {"after_seq", "starting_after", "limit", "timeout", "wait"} <= names


@pytest.mark.parametrize(("method", "path", "name"), INTEGER_QUERY_PARAMETERS)
def test_every_integer_query_parameter_is_bounded(api, run_id, method, path, name):
    thread_id = new_thread(api)["id"]
    concrete = path.replace("{run_id}", run_id).replace("{thread_id}", thread_id).replace("{agent}", "demo")
    before = ok(api.get("/v1/runs", query={"agent": "demo", "limit": "100"}))["items"]
    response = api.request(method, concrete, query={name: HUGE}, json={} if method == "POST" else None)
    if path.startswith(OWN_ERROR_BODIES):  # a dialect's own error body: a 400 that names the parameter
        assert response.status == 400 and name in response.text, response.text
    else:
        assert name in problem_fields(problem_of(response, 400, "validation_error"))
    assert ok(api.get("/v1/runs", query={"agent": "demo", "limit": "100"}))["items"] == before


@pytest.mark.parametrize(
    "body",
    [
        {"max_steps": int("9" * 38)},  # storable (39 digits are refused as JSON DynamoDB cannot hold)
        {"max_tokens": int("9" * 38)},
        {"max_steps": MAX_INTEGER + 1},
    ],
)
def test_huge_integers_in_a_run_body_are_400_on_the_field(api, body):
    response = api.post("/v1/runs", json={"agent": "demo", "start": False, **body})
    assert set(body) <= problem_fields(problem_of(response, 400, "validation_error"))


def test_huge_usage_in_a_script_is_400(api):
    script = [{"text": "hi", "usage": {"input_tokens": MAX_INTEGER + 1}}]
    definition = {"model": {"provider": "scripted", "script": script}}
    response = api.post(
        "/v1/agents", json={"name": f"usage-{uuid.uuid4().hex[:8]}", "definition": definition}
    )
    problem_of(response, 400, "validation_error")


class _Frames:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def post(self, connection_id: str, data: bytes) -> None:
        self.frames.append(json.loads(data))


@pytest.mark.parametrize("after_seq", [int(HUGE), MAX_INTEGER + 1, -1, True, "5", 1.5])
def test_a_websocket_subscribe_with_a_bad_after_seq_is_an_error_frame(api, run_id, after_seq):
    """Found: a 39-digit after_seq crashed the subscribe (boto3 cannot serialise the number)."""
    from runs_core.logic import websocket

    poster, connection_id = _Frames(), f"conn-{uuid.uuid4().hex[:12]}"

    def send(route: str, **extra: Any) -> dict[str, Any]:
        event = {"requestContext": {"routeKey": route, "connectionId": connection_id}, **extra}
        return websocket.handle(event, poster=poster)

    assert send("$connect", queryStringParameters={"api_key": api.key})["statusCode"] == 200
    body = json.dumps({"action": "subscribe", "run_id": run_id, "after_seq": after_seq})
    assert send("subscribe", body=body)["statusCode"] == 200
    assert [(frame["type"], frame["code"]) for frame in poster.frames] == [("error", "invalid")]
    assert connection_id not in websocket.connections().subscribers(run_id)
    send("$disconnect")


def test_a_last_event_id_beyond_the_bound_is_400(api, run_id):
    headers = {"Accept": "text/event-stream", "Last-Event-ID": str(MAX_INTEGER + 1)}
    response = api.get(f"/v1/runs/{run_id}/events", headers=headers, query={"wait": "0"})
    assert "Last-Event-ID" in problem_fields(problem_of(response, 400, "validation_error"))


# ------------------------------------------------------------------------------------------ timestamps


@pytest.mark.parametrize("name", ["created_after", "created_before"])
@pytest.mark.parametrize(
    "moment", ["1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "1960-05-01T00:00:00+02:00"]
)
def test_timestamps_before_1970_are_400(api, name, moment):
    """Found: a 500 (OverflowError minting the id bound in ids.py)."""
    response = api.get("/v1/runs", query={name: moment})
    assert name in problem_fields(problem_of(response, 400, "validation_error"))


def test_the_epoch_itself_is_a_valid_bound(api):
    assert ok(api.get("/v1/runs", query={"created_before": "1970-01-01T00:00:00Z"}))["items"] == []
    after = ok(api.get("/v1/runs", query={"created_after": "1970-01-01T00:00:00Z", "limit": "1"}))
    assert len(after["items"]) == 1
