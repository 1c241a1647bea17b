"""The Ziet dialect (seed 000, /dialects/ziet/v1) on the local stack over real HTTP, with Ziet's own key
header (`Authorization: Api-Key …`); every response checked against Ziet's schemas
(tests/contract/dialects/ziet.json)."""

import pytest
import requests

from tests.e2e.dialects import Dialect, check, org_key, until, v1
from tests.e2e.live import TIMEOUT, other_org_key


def api_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Api-Key {key}"}


@pytest.fixture(scope="module")
def ziet(local_stack) -> Dialect:
    return Dialect(local_stack.origin, "/dialects/ziet/v1", org_key(local_stack), api_key)


def run_of(ziet: Dialect, run_id: str) -> dict:
    response = ziet.get(f"/runs/{run_id}")
    assert response.status_code == 200, response.text
    return check("ziet", "Run", response.json())


def test_a_run_is_created_invoked_and_read_with_its_steps(ziet, local_stack):
    body = {"agent_id": "demo", "input": {"name": "Ada"}, "max_steps": 10, "metadata": {"ticket": "T-1"}}
    created = ziet.post("/runs", json=body)
    assert created.status_code == 201, created.text
    run = check("ziet", "Run", created.json())
    assert run["status"] == "created" and run["agent_id"] == "demo" and run["steps"] == []
    assert run["memory"]["run_id"] == run["id"] and run["metadata"] == {"ticket": "T-1"}

    invoked = ziet.post(f"/runs/{run['id']}/invoke")
    assert invoked.status_code == 200, invoked.text
    assert check("ziet", "Run", invoked.json())["status"] == "running"  # queued is Ziet's running
    done = until(lambda: run_of(ziet, run["id"]), lambda seen: seen["status"] == "completed")
    assert done["output"] == {"greeting": "Hello from the demo agent!"} and done["completed_at"]
    assert {step["type"] for step in done["steps"]} >= {"decision", "action"}
    assert any(step.get("action_id") == "echo" for step in done["steps"])
    seen = v1(local_stack, "GET", f"/runs/{run['id']}").json()
    assert seen["status"] == "completed" and seen["external_ids"] == {"agent_id": "demo"}

    again = ziet.post(f"/runs/{run['id']}/invoke")
    assert again.status_code == 409 and check("ziet", "Error", again.json())["error"] == "invalid_state"


def test_errors_are_zietS_and_another_orgs_runs_are_404(ziet, local_stack):
    run_id = ziet.post("/runs", json={"agent_id": "demo"}).json()["id"]
    other = other_org_key(local_stack.base_url, local_stack.admin_key)
    for method, path in (("GET", f"/runs/{run_id}"), ("POST", f"/runs/{run_id}/invoke")):
        response = ziet.call(method, path, key=other)
        assert response.status_code == 404, response.text
        assert check("ziet", "Error", response.json())["error"] == "not_found"
    assert run_of(ziet, run_id)["status"] == "created"  # untouched
    for body in ({}, {"agent_id": "demo", "max_steps": "ten"}, {"agent_id": "demo", "status": "completed"}):
        response = ziet.post("/runs", json=body)
        assert (
            response.status_code == 400
            and check("ziet", "Error", response.json())["error"] == "validation_error"
        )
    missing = ziet.post("/runs", json={"agent_id": "no-such-agent"})
    assert missing.status_code == 404 and check("ziet", "Error", missing.json())["error"] == "not_found"
    not_allowed = ziet.call("DELETE", f"/runs/{run_id}")
    assert (
        not_allowed.status_code == 405
        and check("ziet", "Error", not_allowed.json())["error"] == "method_not_allowed"
    )
    unauthorized = requests.get(ziet.url + f"/runs/{run_id}", timeout=TIMEOUT)
    assert (
        unauthorized.status_code == 401
        and check("ziet", "Error", unauthorized.json())["error"] == "unauthorized"
    )


def test_a_created_run_of_a_v1_thread_is_invoked_in_its_turn(ziet, local_stack):
    """The same runs through every dialect: a run created (not started) in a /v1 thread is invoked here."""
    thread = v1(local_stack, "POST", "/threads", json={}).json()["id"]
    created = v1(local_stack, "POST", f"/threads/{thread}/runs", json={"agent": "demo", "start": False})
    assert created.status_code == 201, created.text
    invoked = ziet.post(f"/runs/{created.json()['id']}/invoke")
    assert invoked.status_code == 200, invoked.text
    assert check("ziet", "Run", invoked.json())["agent_id"] == created.json()["agent_id"]
    until(lambda: run_of(ziet, created.json()["id"]), lambda seen: seen["status"] == "completed")
