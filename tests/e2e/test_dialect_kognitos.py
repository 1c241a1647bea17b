"""The Kognitos dialect (seed 001, /dialects/kognitos/v2) on the local stack over real HTTP, with Kognitos'
own requests (`x-api-key`, named inputs, stage Published); every response checked against Kognitos'
schemas (tests/contract/dialects/kognitos.json)."""

import uuid

import pytest
import requests

from tests.e2e.dialects import Dialect, asking_agent, check, org_key, until, v1
from tests.e2e.live import TIMEOUT, other_org_key


def x_api_key(key: str) -> dict[str, str]:
    return {"x-api-key": key}


@pytest.fixture(scope="module")
def kognitos(local_stack) -> Dialect:
    return Dialect(local_stack.origin, "/dialects/kognitos/v2", org_key(local_stack), x_api_key)


def start(kognitos: Dialect, **fields) -> dict:
    body = {"name": "Greet Ada", "process_id": "demo", "agent_id": "AGENT1", "stage": "Published", **fields}
    response = kognitos.post("/runs", json=body)
    assert response.status_code == 201, response.text
    return check("kognitos", "RunResource", response.json())


def get(kognitos: Dialect, run_id: str) -> dict:
    response = kognitos.get(f"/runs/{run_id}")
    assert response.status_code == 200, response.text
    return check("kognitos", "RunResource", response.json())


def test_a_run_is_started_read_and_listed(kognitos, local_stack):
    agent_id = f"A{uuid.uuid4().hex[:12].upper()}"
    run = start(kognitos, agent_id=agent_id, inputs=[{"name": "name", "value": "Ada"}])
    assert run["status"] == "Created" and run["agent_id"] == agent_id and run["process_id"] == "demo"
    assert len(run["id"]) == 26 and run["stage"] == "Published" and run["name"] == "Greet Ada"
    done = until(lambda: get(kognitos, run["id"]), lambda seen: seen["status"] == "Succeeded")
    assert done["outputs"] == [{"name": "greeting", "value": "Hello from the demo agent!"}]
    seen = v1(local_stack, "GET", f"/runs/run_{run['id']}")
    assert seen.json()["input"] == {"name": "Ada"} and get(kognitos, f"run_{run['id']}")["id"] == run["id"]

    draft = start(kognitos, agent_id=agent_id, stage="Draft", name="Draft run")
    query = {"process_id": "demo", "agent_id": agent_id, "limit": 1}
    first = check("kognitos", "ListOfRuns", kognitos.get("/runs", params=query).json())
    assert [item["id"] for item in first["items"]] == [draft["id"]] and first["continuation_token"]
    second = kognitos.get("/runs", params={**query, "continuation_token": first["continuation_token"]})
    assert [item["id"] for item in check("kognitos", "ListOfRuns", second.json())["items"]] == [run["id"]]
    drafts = kognitos.get("/runs", params={**query, "limit": 10, "stage": "Draft"}).json()
    assert [item["id"] for item in check("kognitos", "ListOfRuns", drafts)["items"]] == [draft["id"]]


def test_statuses_map_onto_kognitos(kognitos, local_stack):
    run = start(kognitos, process_id=asking_agent(local_stack, "kog"))
    until(lambda: get(kognitos, run["id"]), lambda seen: seen["status"] == "Running")  # waiting for input
    cancel = v1(local_stack, "POST", f"/runs/run_{run['id']}/cancel")
    assert cancel.status_code == 200, cancel.text
    assert get(kognitos, run["id"])["status"] == "Stopped"


def test_errors_are_kognitos_and_another_orgs_runs_are_404(kognitos, local_stack):
    run = start(kognitos)
    other = other_org_key(local_stack.base_url, local_stack.admin_key)
    for path, params in (
        (f"/runs/{run['id']}", None),
        ("/runs", {"process_id": "demo", "agent_id": "AGENT1"}),
    ):
        response = kognitos.call("GET", path, key=other, params=params)
        assert response.status_code == 404, response.text
        assert check("kognitos", "ErrorModel", response.json())["status_code"] == 404
    refused = kognitos.post(
        "/runs", json={"name": "x", "process_id": "demo", "agent_id": "A1", "stage": "Live"}
    )
    error = check("kognitos", "ErrorModel", refused.json())
    assert refused.status_code == 400 and error["status_code"] == 400
    assert {"name": "stage", "value": error["details"][0]["value"]} in error["details"]
    missing = kognitos.get("/runs", params={"process_id": "demo"})  # agent_id is required
    assert (
        missing.status_code == 400 and check("kognitos", "ErrorModel", missing.json())["status_code"] == 400
    )
    unauthorized = requests.get(kognitos.url + f"/runs/{run['id']}", timeout=TIMEOUT)
    assert unauthorized.status_code == 401 and check("kognitos", "ErrorModel", unauthorized.json())
