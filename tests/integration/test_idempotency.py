"""Idempotency-Key (docs/api.md §7): replays, conflicts, in-flight requests, concurrency, scope, what is
kept."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from runs_core.logic import runs

SCRIPT = {"model": {"provider": "scripted", "script": [{"text": "ok"}]}}


@pytest.fixture
def tenant(make_org):
    """A fresh org with one agent, so that counting its runs counts only this test's runs."""
    org = make_org(credits=1000)
    name = f"idem-{uuid.uuid4().hex[:8]}"
    response = org.api.post("/v1/agents", json={"name": name, "definition": SCRIPT})
    assert response.status == 201, response.text
    return org, name


def run_count(client) -> int:
    return len(client.get("/v1/runs", query={"limit": "100"}).json()["items"])


def key() -> str:
    return f"idem-{uuid.uuid4()}"


def test_replay_returns_the_first_response_and_creates_nothing(tenant):
    org, agent = tenant
    headers = {"Idempotency-Key": key()}
    first = org.api.post("/v1/runs", json={"agent": agent, "start": False}, headers=headers)
    assert first.status == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    # The same body with other key order and spacing is the same request (canonical JSON).
    again = org.api.request(
        "POST",
        "/v1/runs",
        body=b'{ "start": false,  "agent": "%s" }' % agent.encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert again.status == 201
    assert again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.headers["Request-Id"] != first.headers["Request-Id"]  # a new request all the same
    assert run_count(org.api) == 1


def test_different_body_is_422_and_changes_nothing(tenant):
    org, agent = tenant
    headers = {"Idempotency-Key": key()}
    first = org.api.post("/v1/runs", json={"agent": agent, "start": False}, headers=headers)
    assert first.status == 201
    other = org.api.post(
        "/v1/runs", json={"agent": agent, "start": False, "metadata": {"x": "1"}}, headers=headers
    )
    assert other.status == 422, other.text
    assert other.headers["Content-Type"] == "application/problem+json"
    assert other.json()["code"] == "idempotency_conflict"
    assert run_count(org.api) == 1
    assert org.api.get(f"/v1/runs/{first.json()['id']}").json() == first.json()


def test_key_is_per_path_and_method(tenant):
    org, agent = tenant
    headers = {"Idempotency-Key": key()}
    assert org.api.post("/v1/runs", json={"agent": agent, "start": False}, headers=headers).status == 201
    created = org.api.post("/v1/api-keys", json={"name": "other"}, headers=headers)
    assert created.status == 201 and "Idempotent-Replayed" not in created.headers


def test_in_flight_is_409_until_the_first_finishes(tenant, monkeypatch):
    org, agent = tenant
    entered, release = threading.Event(), threading.Event()
    real_create_run = runs.create_run

    def slow_create_run(*args, **kwargs):
        entered.set()
        assert release.wait(10)
        return real_create_run(*args, **kwargs)

    monkeypatch.setattr(runs, "create_run", slow_create_run)
    headers = {"Idempotency-Key": key()}
    body = {"agent": agent, "start": False}
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(org.api.post, "/v1/runs", json=body, headers=headers)
        assert entered.wait(10)
        during = org.api.post("/v1/runs", json=body, headers=headers)
        release.set()
        first_response = first.result(timeout=20)
    assert during.status == 409, during.text
    assert during.json()["code"] == "idempotency_in_progress"
    assert during.headers["Content-Type"] == "application/problem+json"
    assert first_response.status == 201
    after = org.api.post("/v1/runs", json=body, headers=headers)
    assert after.status == 201 and after.body == first_response.body
    assert after.headers["Idempotent-Replayed"] == "true"
    assert run_count(org.api) == 1


def test_six_concurrent_identical_requests_create_one_run(tenant):
    org, agent = tenant
    headers = {"Idempotency-Key": key()}
    body = {"agent": agent, "start": False}
    barrier = threading.Barrier(6)

    def post():
        barrier.wait(10)
        return org.api.post("/v1/runs", json=body, headers=headers)

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: post(), range(6)))
    statuses = sorted(response.status for response in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status == 201]
    assert len({r.body for r in created}) == 1  # replays carry the one run
    assert sum(1 for r in created if "Idempotent-Replayed" not in r.headers) == 1
    assert all(r.json()["code"] == "idempotency_in_progress" for r in responses if r.status == 409)
    assert run_count(org.api) == 1


def test_key_is_scoped_per_org(tenant, make_org):
    org_a, agent = tenant
    org_b = make_org(credits=1000)
    assert org_b.api.post("/v1/agents", json={"name": agent, "definition": SCRIPT}).status == 201
    headers = {"Idempotency-Key": key()}
    body = {"agent": agent, "start": False}
    a = org_a.api.post("/v1/runs", json=body, headers=headers)
    b = org_b.api.post("/v1/runs", json=body, headers=headers)
    assert a.status == b.status == 201
    assert "Idempotent-Replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
    assert run_count(org_a.api) == run_count(org_b.api) == 1


def test_a_5xx_is_not_kept(tenant, monkeypatch):
    org, agent = tenant
    real_create_run = runs.create_run
    calls = []

    def failing_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real_create_run(*args, **kwargs)

    monkeypatch.setattr(runs, "create_run", failing_once)
    headers = {"Idempotency-Key": key()}
    body = {"agent": agent, "start": False}
    failed = org.api.post("/v1/runs", json=body, headers=headers)
    assert failed.status == 500 and failed.json()["code"] == "internal_error"
    retried = org.api.post("/v1/runs", json=body, headers=headers)
    assert retried.status == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert len(calls) == 2 and run_count(org.api) == 1


def test_a_4xx_is_kept(tenant):
    org, _ = tenant
    headers = {"Idempotency-Key": key()}
    first = org.api.post("/v1/runs", json={"agent": "no-such-agent", "start": False}, headers=headers)
    assert first.status == 404
    again = org.api.post("/v1/runs", json={"agent": "no-such-agent", "start": False}, headers=headers)
    assert again.status == 404 and again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"


def test_operators_routes_are_idempotent_too(admin_api):
    headers = {"Idempotency-Key": key()}
    body = {"name": f"org-{uuid.uuid4().hex[:6]}", "credits": 1}
    first = admin_api.post("/v1/admin/orgs", json=body, headers=headers)
    again = admin_api.post("/v1/admin/orgs", json=body, headers=headers)
    assert first.status == again.status == 201
    assert again.body == first.body and again.headers["Idempotent-Replayed"] == "true"


def test_key_too_long_is_400(tenant):
    org, agent = tenant
    response = org.api.post("/v1/runs", json={"agent": agent}, headers={"Idempotency-Key": "k" * 256})
    assert response.status == 400
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"][0]["field"] == "Idempotency-Key"
    assert run_count(org.api) == 0
    ok = org.api.post(
        "/v1/runs", json={"agent": agent, "start": False}, headers={"Idempotency-Key": "k" * 255}
    )
    assert ok.status == 201


def test_get_ignores_the_header(tenant):
    org, _ = tenant
    headers = {"Idempotency-Key": key()}
    assert org.api.get("/v1/runs", headers=headers).status == 200
    second = org.api.get("/v1/runs", headers=headers)
    assert second.status == 200 and "Idempotent-Replayed" not in second.headers
