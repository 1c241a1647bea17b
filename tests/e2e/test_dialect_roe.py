"""The Roe AI dialect (seed 002, /dialects/roe) on the local stack over real HTTP, with Roe's own request
(its curl: `{"inputs": {"key": "value"}}` to /v1/agents/run/{agent_id}/); every response checked against
Roe's schemas (tests/contract/dialects/roe.json)."""

import uuid

import pytest
import requests

from tests.e2e.dialects import Dialect, asking_agent, check, make_agent, org_key, v1
from tests.e2e.live import TIMEOUT, other_org_key

OUTPUTS = {"summary": "All good.", "score": 0.9, "tags": ["a", "b"]}


def roe_agent(local_stack, script: list) -> str:
    """An agent with typed outputs and a price (so runs cost something)."""
    return make_agent(
        local_stack,
        f"roe-{uuid.uuid4().hex[:8]}",
        script,
        model={
            "provider": "scripted",
            "script": script,
            "price": {"input_per_mtok": 3.0, "output_per_mtok": 15.0},
        },
        outputs=[
            {"key": "summary", "description": "A summary", "data_type": "text/plain"},
            {"key": "score", "data_type": "application/json"},
            {"key": "tags", "data_type": "application/json"},
        ],
    )


@pytest.fixture(scope="module")
def roe(local_stack) -> Dialect:
    return Dialect(local_stack.origin, "/dialects/roe", org_key(local_stack))


@pytest.fixture(scope="module")
def agent(local_stack) -> str:
    return roe_agent(local_stack, [{"text": "Done.", "outputs": OUTPUTS}])


def test_the_seeds_curl_runs_the_agent_and_answers_its_outputs(roe, agent, local_stack):
    response = roe.post(f"/v1/agents/run/{agent}/", json={"inputs": {"key": "value"}})
    assert response.status_code == 200, response.text
    data = check("roe", "AgentData", response.json())
    assert {datum["key"]: datum["value"] for datum in data} == {
        "summary": "All good.",
        "score": "0.9",
        "tags": '["a","b"]',
    }
    assert data[0]["description"] == "A summary" and data[1]["data_type"] == "application/json"
    assert all(datum["cost"] > 0 for datum in data)
    run = v1(local_stack, "GET", f"/runs/{response.headers['Run-Id']}").json()
    assert run["input"] == {"key": "value"} and run["status"] == "completed"  # the same run in /v1

    org = v1(local_stack, "GET", "/org").json()["id"]
    top_level = roe.post(
        f"/v1/agents/run/{agent}",
        params={"organization_id": org},
        json={"question": "why?", "metadata": '{"job": "j-1", "n": 2}'},
    )
    assert top_level.status_code == 200, top_level.text
    run = v1(local_stack, "GET", f"/runs/{top_level.headers['Run-Id']}").json()
    assert run["input"] == {"question": "why?"} and run["metadata"] == {"job": "j-1", "n": "2"}


def test_errors_are_roes(roe, agent, local_stack):
    other = other_org_key(local_stack.base_url, local_stack.admin_key)
    response = roe.call("POST", f"/v1/agents/run/{agent}/", key=other, json={"inputs": {"key": "value"}})
    assert response.status_code == 404 and check("roe", "ErrorResponse", response.json())
    other_org = roe.post(f"/v1/agents/run/{agent}/", params={"organization_id": "org_other"}, json={})
    assert other_org.status_code == 403 and check("roe", "ErrorResponse", other_org.json())
    bad = roe.post(f"/v1/agents/run/{agent}/", json={"metadata": "[1]"})
    assert bad.status_code == 400 and "metadata" in check("roe", "ErrorResponse", bad.json())["message"]
    broke_org = {"name": f"broke-{uuid.uuid4().hex[:6]}", "credits": 0}
    broke = v1(local_stack, "POST", "/admin/orgs", key=local_stack.admin_key, json=broke_org)
    assert broke.status_code == 201, broke.text
    broke_key = broke.json()["api_key"]["key"]
    poor_agent = {"instructions": "x", "model": {"provider": "scripted", "script": [{"text": "x"}]}}
    v1(local_stack, "POST", "/agents", key=broke_key, json={"name": "poor", "definition": poor_agent})
    poor = roe.call("POST", "/v1/agents/run/poor/", key=broke_key, json={})
    assert poor.status_code == 402 and check("roe", "ErrorResponse", poor.json())
    unauthorized = requests.post(roe.url + f"/v1/agents/run/{agent}/", json={}, timeout=TIMEOUT)
    assert unauthorized.status_code == 401 and check("roe", "ErrorResponse", unauthorized.json())


def test_a_run_that_waits_for_someone_is_504_and_goes_on(roe, local_stack):
    asking = asking_agent(local_stack, "roe-ask")
    response = roe.post(f"/v1/agents/run/{asking}/", json={})
    assert (
        response.status_code == 504 and "goes on" in check("roe", "ErrorResponse", response.json())["message"]
    )
