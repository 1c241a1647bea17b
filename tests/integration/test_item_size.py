"""Items over DynamoDB's 400 KB that fit the 1 MiB body limit were a 500 (issue 10): a run's input, an agent
definition (personas, input schema, script). Each is now a 413 problem+json with the limit in `detail`, and
nothing is written."""

import uuid
from typing import Any

import pytest

from runs_core.storage.dynamo import MAX_ITEM_BYTES
from tests.integration.helpers import ASK, agent_with, new_thread, ok, problem_of, start, steps_of, wait

# Under the 1 MiB body limit, over DynamoDB's 400 KB item.
BIG_TEXT = "x" * (450 * 1024)


def _assert_too_large(response) -> None:
    problem = problem_of(response, 413, "payload_too_large")
    assert str(MAX_ITEM_BYTES) in problem["detail"], problem


def test_a_run_input_over_the_item_limit_is_413_and_nothing_is_written(api):
    agent = agent_with(api, [{"text": "ok"}], prefix="big")
    for path, body in [
        ("/v1/runs", {"agent": agent, "input": {"text": BIG_TEXT}}),
        ("/v1/runs", {"agent": agent, "inputs": [{"name": "text", "value": BIG_TEXT}], "start": False}),
        (f"/v1/agents/{agent}/runs", {"input": {"text": BIG_TEXT}}),
        (f"/v1/agents/{agent}/run", {"input": {"text": BIG_TEXT}}),
    ]:
        _assert_too_large(api.post(path, json=body))
    assert ok(api.get("/v1/runs", query={"agent": agent}))["items"] == []
    ok(api.post("/v1/runs", json={"agent": agent, "input": {"text": "x" * (300 * 1024)}}), 201)  # fits


def test_a_thread_run_over_the_item_limit_leaves_the_thread_untouched(api):
    agent = agent_with(api, [{"text": "ok"}], prefix="big")
    thread_id = new_thread(api)["id"]
    body = {"agent": agent, "message": "hello", "input": {"text": BIG_TEXT}}
    _assert_too_large(api.post(f"/v1/threads/{thread_id}/runs", json=body))
    thread = ok(api.get(f"/v1/threads/{thread_id}"))
    assert thread["status"] == "idle" and thread["queued_run_ids"] == []
    assert ok(api.get(f"/v1/threads/{thread_id}/messages"))["items"] == []
    assert ok(api.get(f"/v1/threads/{thread_id}/runs"))["items"] == []


def _definition(**extra: Any) -> dict[str, Any]:
    return {"model": {"provider": "scripted", "script": [{"text": "ok"}]}, **extra}


BIG_DEFINITIONS = {
    "personas": _definition(personas={f"p{i}": {"instructions": "y" * 99_000} for i in range(5)}),
    "input_schema": _definition(input_schema={"type": "object", "description": BIG_TEXT}),
    "script": _definition(model={"provider": "scripted", "script": [{"text": BIG_TEXT}]}),
}


@pytest.mark.parametrize("kind", sorted(BIG_DEFINITIONS))
def test_an_agent_over_the_item_limit_is_413_and_nothing_is_written(api, kind):
    name = f"big-{uuid.uuid4().hex[:8]}"
    _assert_too_large(api.post("/v1/agents", json={"name": name, "definition": BIG_DEFINITIONS[kind]}))
    problem_of(api.get(f"/v1/agents/{name}"), 404, "not_found")
    # The name was not claimed either: the agent can be created with a definition that fits.
    ok(api.post("/v1/agents", json={"name": name, "version": "1.0.0", "definition": _definition()}), 201)
    published = {"version": "2.0.0", "definition": BIG_DEFINITIONS[kind]}
    _assert_too_large(api.post(f"/v1/agents/{name}/versions", json=published))
    versions = ok(api.get(f"/v1/agents/{name}/versions"))["items"]
    assert [version["version"] for version in versions] == ["1.0.0"]
    assert ok(api.get(f"/v1/agents/{name}"))["dist_tags"] == {"latest": "1.0.0"}


def test_an_input_answer_over_the_item_limit_is_413_and_the_run_still_waits(api):
    asker = agent_with(
        api, [{"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "?"}}]}, {"text": "ok"}], [ASK]
    )
    run_id = start(api, asker)["id"]
    assert wait(api, run_id)["status"] == "waiting_for_input"
    steps = steps_of(api, run_id)
    _assert_too_large(api.post(f"/v1/runs/{run_id}/input", json={"data": {"text": BIG_TEXT}}))
    assert ok(api.get(f"/v1/runs/{run_id}"))["status"] == "waiting_for_input"
    assert steps_of(api, run_id) == steps
    ok(api.post(f"/v1/runs/{run_id}/input", json={"content": "fits"}))
