"""The Appstrate dialect (seed 003, /dialects/appstrate) on the local stack over real HTTP, with Appstrate's
own request (POST /api/agents/{scope}/{name}/run with `{}`, Appstrate-User, Idempotency-Key); every response
checked against Appstrate's shapes (tests/contract/dialects/appstrate.json)."""

import uuid

import pytest
import requests

from tests.e2e.dialects import Dialect, check, org_key, until, v1
from tests.e2e.live import TIMEOUT, other_org_key


@pytest.fixture(scope="module")
def appstrate(local_stack) -> Dialect:
    return Dialect(local_stack.origin, "/dialects/appstrate", org_key(local_stack))


@pytest.fixture(scope="module")
def scoped(local_stack) -> str:
    """A scoped agent, `@acme/greeter-…` (agent names may carry a scope), with versions 1.0.0 and 1.1.0."""
    name = f"@acme/greeter-{uuid.uuid4().hex[:6]}"
    definition = {"instructions": "Greet.", "model": {"provider": "scripted", "script": [{"text": "Hi!"}]}}
    made = v1(
        local_stack, "POST", "/agents", json={"name": name, "version": "1.0.0", "definition": definition}
    )
    assert made.status_code == 201 and made.json()["name"] == name, made.text
    newer = {"version": "1.1.0", "definition": definition}
    assert v1(local_stack, "POST", f"/agents/{made.json()['id']}/versions", json=newer).status_code == 201
    return name


def v1_run(local_stack, run_id: str) -> dict:
    return dict(v1(local_stack, "GET", f"/runs/{run_id}").json())


def test_the_seeds_request_runs_the_scoped_agent(appstrate, scoped, local_stack):
    path = f"/api/agents/{scoped}/run"
    headers = {
        "Appstrate-User": "eu_42",
        "Idempotency-Key": uuid.uuid4().hex,
        "Appstrate-Version": "2026-11-01",
    }
    started = appstrate.post(path, json={}, headers=headers)
    assert started.status_code == 202, started.text
    run_id = check("appstrate", "RunStarted", started.json())["runId"]
    replayed = appstrate.post(path, json={}, headers=headers)
    assert replayed.json() == started.json() and replayed.headers["Idempotent-Replayed"] == "true"
    run = until(lambda: v1_run(local_stack, run_id), lambda seen: seen["status"] == "completed")
    assert run["agent_name"] == scoped and run["agent_version"] == "1.1.0"
    assert run["created_by"]["end_user_id"] == "eu_42"

    pinned = appstrate.post(path, params={"version": "~1.0.0"}, json={"metadata": {"job": "j-1"}})
    assert pinned.status_code == 202, pinned.text
    assert v1_run(local_stack, pinned.json()["runId"])["agent_version"] == "1.0.0"

    multipart = appstrate.post(
        path, files={"json": (None, "{}"), "file": ("note.txt", b"hello", "text/plain")}
    )
    assert multipart.status_code == 202, multipart.text
    assert len(v1_run(local_stack, multipart.json()["runId"])["file_ids"]) == 1


def test_errors_are_appstrate_problems(appstrate, scoped, local_stack):
    other = other_org_key(local_stack.base_url, local_stack.admin_key)
    path = f"/api/agents/{scoped}/run"
    cases = [
        (appstrate.call("POST", path, key=other, json={}), 404, "not_found"),
        (appstrate.post("/api/agents/acme/greeter/run", json={}), 400, "validation_error"),
        (appstrate.post(path, json={"input": {}, "agent": "x"}), 400, "validation_error"),
        (appstrate.post(path, params={"version": "not a range!"}, json={}), 400, "invalid_version_selector"),
        (appstrate.post(path, json={}, headers={"Appstrate-User": "alice"}), 400, "validation_error"),
        (
            appstrate.post(path, json={}, headers={"Appstrate-Version": "1999-01-01"}),
            400,
            "unknown_api_version",
        ),
        (appstrate.post(path, json={}, headers={"X-Org-Id": "org_someone_else"}), 403, "forbidden"),
        (requests.post(appstrate.url + path, json={}, timeout=TIMEOUT), 401, "unauthorized"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert check("appstrate", "Problem", response.json())["code"] == code, response.text
    assert cases[1][0].json()["param"] == "scope" and cases[4][0].json()["param"] == "Appstrate-User"
