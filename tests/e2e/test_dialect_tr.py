"""The threads/runs dialect (seed 004, /dialects/tr/v1) on the local stack over real HTTP, with the seed's
own requests; every response checked against the seed's shapes (tests/contract/dialects/tr.json)."""

import pytest
import requests

from tests.e2e.dialects import Dialect, asking_agent, check, org_key, sse_data, until, v1
from tests.e2e.live import TIMEOUT, other_org_key

BASE = "/dialects/tr/v1"


@pytest.fixture(scope="module")
def tr(local_stack) -> Dialect:
    return Dialect(local_stack.origin, BASE, org_key(local_stack))


def thread_of(local_stack, agent: str) -> str:
    created = v1(local_stack, "POST", "/threads", json={"agent": agent})
    assert created.status_code == 201, created.text
    assert created.json()["agent_id"].startswith("agt_")
    return str(created.json()["id"])


def status_of(tr: Dialect, run_id: str) -> str:
    response = tr.get(f"/runs/{run_id}")
    assert response.status_code == 200, response.text
    return str(check("tr", "RunDetails", response.json())["status"])


def test_a_run_in_a_thread_is_created_watched_read_and_listed(tr, local_stack):
    thread_id = thread_of(local_stack, "demo")
    created = tr.post(f"/threads/{thread_id}/runs", json={})
    assert created.status_code == 201, created.text
    run_id = check("tr", "CreateRunResponse", created.json())["run_id"]
    second = tr.post(f"/threads/{thread_id}/runs", json={"persona_id": "demo@1.0.0", "route_id": "r-1"})
    assert second.status_code == 201, second.text  # queued behind the first: the thread takes turns

    with tr.get(f"/runs/{run_id}/events", headers={"Accept": "text/event-stream"}, stream=True) as stream:
        assert stream.status_code == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
        events = [check("tr", "Event", data) for data in sse_data(stream)]
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "run.completed"
    resumed = tr.get(f"/runs/{run_id}/events", params={"after_seq": len(events) - 1})
    assert [event["seq"] for event in sse_data(resumed)] == [len(events)]

    details = check("tr", "RunRow", tr.get(f"/runs/{run_id}").json())
    assert details["status"] == "completed" and details["thread_id"] == thread_id
    assert details["persona_id"] == "demo@1.0.0" and details["total_output_tokens"] > 0
    assert v1(local_stack, "GET", f"/runs/{run_id}").json()["status"] == "completed"  # the same run in /v1

    listed = check("tr", "ThreadRuns", tr.get(f"/threads/{thread_id}/runs", params={"limit": 10}).json())
    assert [item["run_id"] for item in listed] == [second.json()["run_id"], run_id]
    until(lambda: status_of(tr, second.json()["run_id"]), lambda status: status == "completed")

    rows = check("tr", "RunList", tr.get("/runs", params={"limit": 2, "status": "completed"}).json())
    assert [row["run_id"] for row in rows] == [second.json()["run_id"], run_id]
    older = check("tr", "RunList", tr.get("/runs", params={"limit": 1, "before": rows[0]["run_id"]}).json())
    assert [row["run_id"] for row in older] == [run_id]


def test_input_and_cancel(tr, local_stack):
    thread_id = thread_of(local_stack, asking_agent(local_stack, "tr-ask"))
    answered = tr.post(f"/threads/{thread_id}/runs").json()["run_id"]
    until(lambda: status_of(tr, answered), lambda status: status == "waiting_for_input")
    ok = tr.post(f"/runs/{answered}/input", json={"content": "savings"})
    assert ok.status_code == 200 and check("tr", "Ok", ok.json()) == {"ok": True}
    until(lambda: status_of(tr, answered), lambda status: status == "completed")

    cancelled = tr.post(f"/threads/{thread_id}/runs").json()["run_id"]
    for _ in range(2):  # cancelling a cancelled run is fine too
        response = tr.post(f"/runs/{cancelled}:cancel")
        assert response.status_code == 200 and check("tr", "Ok", response.json()) == {"ok": True}
    assert status_of(tr, cancelled) == "cancelled"
    finished = tr.post(f"/runs/{answered}:cancel")
    assert finished.status_code == 409 and check("tr", "Error", finished.json())["code"] == "invalid_state"


def test_errors_and_another_orgs_ids(tr, local_stack):
    thread_id = thread_of(local_stack, "demo")
    run_id = tr.post(f"/threads/{thread_id}/runs").json()["run_id"]
    other = other_org_key(local_stack.base_url, local_stack.admin_key)
    for method, path in (
        ("GET", f"/runs/{run_id}"),
        ("POST", f"/runs/{run_id}:cancel"),
        ("POST", f"/threads/{thread_id}/runs"),
        ("GET", f"/threads/{thread_id}/runs"),
        ("GET", f"/runs/{run_id}/events"),
    ):
        response = tr.call(method, path, key=other)
        assert response.status_code == 404, (method, path, response.text)
        assert check("tr", "Error", response.json())["code"] == "not_found"
    no_agent = v1(local_stack, "POST", "/threads", json={}).json()["id"]
    refused = tr.post(f"/threads/{no_agent}/runs", json={})
    assert refused.status_code == 400 and "persona_id" in check("tr", "Error", refused.json())["detail"]
    assert tr.get("/runs", params={"status": "sleeping"}).status_code == 400
    assert tr.post(f"/runs/{run_id}:pause").status_code == 404
    assert requests.get(tr.url + "/runs", timeout=TIMEOUT).status_code == 401
