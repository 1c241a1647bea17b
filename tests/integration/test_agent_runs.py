"""Agent-scoped runs (docs/api.md §4): fire-and-forget POST /v1/agents/{agent}/runs and synchronous
POST /v1/agents/{agent}/run."""

from tests.integration.helpers import ASK, PRICE, agent_with, wait

OUTPUTS = [{"key": "decision", "description": "approve or reject", "data_type": "text/plain"}]


def publish(api, agent, version, script):
    definition = {"instructions": "v", "model": {"provider": "scripted", "script": script, "price": PRICE}}
    response = api.post(
        f"/v1/agents/{agent}/versions", json={"version": version, "definition": definition, "tags": []}
    )
    assert response.status == 201, response.text


def test_fire_and_forget_returns_202_and_the_run_completes(api):
    agent = agent_with(api, [{"text": "hi"}])
    response = api.post(f"/v1/agents/{agent}/runs", json={"input": {"a": 1}, "metadata": {"k": "v"}})
    assert response.status == 202, response.text
    run = response.json()
    assert run["status"] == "queued" and run["agent_name"] == agent and run["input"] == {"a": 1}
    assert wait(api, run["id"])["status"] == "completed"
    unstarted = api.post(f"/v1/agents/{agent}/runs", json={"start": False})
    assert unstarted.status == 202 and unstarted.json()["status"] == "created"
    # `agent` belongs to the path here, not the body
    assert api.post(f"/v1/agents/{agent}/runs", json={"agent": agent}).json()["code"] == "validation_error"


def test_version_selector_in_the_query(api):
    agent = agent_with(api, [{"text": "0.1"}])
    publish(api, agent, "1.2.0", [{"text": "1.2"}])
    publish(api, agent, "2.0.0-beta.1", [{"text": "beta"}])
    run = api.post(f"/v1/agents/{agent}/runs", query={"version": "^1.0"}, json={}).json()
    assert run["agent_version"] == "1.2.0"
    nothing = api.post(f"/v1/agents/{agent}/runs", query={"version": "^3"}, json={})
    assert nothing.status == 400 and nothing.json()["code"] == "invalid_version_selector"
    both = api.post(f"/v1/agents/{agent}/runs", query={"version": "1.2.0"}, json={"version": "1.2.0"})
    assert both.status == 400 and both.json()["code"] == "validation_error"
    assert api.post("/v1/agents/no-such-agent/runs", json={}).status == 404


def test_sync_run_returns_typed_outputs_with_cost_and_run_id(api):
    usage = {"input_tokens": 1000, "output_tokens": 100}
    agent = agent_with(
        api, [{"text": "ok", "outputs": {"decision": "approve"}, "usage": usage}], outputs=OUTPUTS
    )
    response = api.post(f"/v1/agents/{agent}/run", json={"input": {}})
    assert response.status == 200, response.text
    run_id = response.headers["Run-Id"]
    run = api.get(f"/v1/runs/{run_id}").json()
    assert run["status"] == "completed"
    assert response.json() == [
        {
            "key": "decision",
            "description": "approve or reject",
            "data_type": "text/plain",
            "value": "approve",
            "cost": run["usage"]["cost_usd"],
        }
    ]
    assert run["usage"]["cost_usd"] > 0


def test_sync_run_waiting_for_input_is_202_with_location(api):
    agent = agent_with(
        api, [{"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "?"}}]}, {"text": "ok"}], [ASK]
    )
    response = api.post(f"/v1/agents/{agent}/run", query={"timeout": 20}, json={})
    assert response.status == 202, response.text
    run = response.json()
    assert run["status"] == "waiting_for_input"
    assert response.headers["Location"] == f"/v1/runs/{run['id']}" and response.headers["Run-Id"] == run["id"]


def test_sync_run_not_finished_in_time_is_202(api, monkeypatch):
    """Executions held back (neither the request nor the router can start one), so the run is surely not
    finished when `timeout` is up: 202, not a race with a fast scripted run."""
    from runs_core.stores import get_stores

    monkeypatch.setattr(get_stores().executions, "start", lambda run_id: None)
    agent = agent_with(api, [{"text": "ok"}])
    response = api.post(f"/v1/agents/{agent}/run", query={"timeout": 1}, json={})
    assert response.status == 202, response.text
    run = response.json()
    assert run["status"] == "queued" and response.headers["Location"] == f"/v1/runs/{run['id']}"
    assert api.post(f"/v1/runs/{run['id']}/cancel").json()["status"] == "cancelled"


def test_sync_run_that_fails_is_422_run_failed(api):
    agent = agent_with(
        api, [{"tool_calls": [{"name": "echo", "arguments": {}}]}] * 3, [{"name": "echo", "kind": "builtin"}]
    )
    response = api.post(f"/v1/agents/{agent}/run", json={"max_steps": 1})
    assert response.status == 422, response.text
    problem = response.json()
    assert problem["code"] == "run_failed" and problem["error"]["code"] == "max_steps_exceeded"
    assert api.get(f"/v1/runs/{problem['run_id']}").json()["status"] == "failed"


def test_sync_run_refuses_start_false_and_bad_timeout(api):
    agent = agent_with(api, [{"text": "ok"}])
    before = api.get("/v1/runs", query={"agent": agent}).json()["items"]
    assert api.post(f"/v1/agents/{agent}/run", json={"start": False}).status == 400
    assert api.post(f"/v1/agents/{agent}/run", query={"timeout": 26}, json={}).status == 400
    assert api.get("/v1/runs", query={"agent": agent}).json()["items"] == before


def test_other_orgs_agent_is_404(api, make_org):
    agent = agent_with(api, [{"text": "ok"}])
    other = make_org()
    assert other.api.post(f"/v1/agents/{agent}/run", json={}).status == 404
    assert other.api.post(f"/v1/agents/{agent}/runs", json={}).status == 404
