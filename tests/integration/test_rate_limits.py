"""Per-org rate limits (docs/api.md §7): 429 rate_limited with Retry-After, RateLimit-* headers, per-org
limits set by operators, replays that cost no run quota, and a throttled counter table that fails open."""

import time
import uuid

import pytest
from botocore.exceptions import ClientError

from runs_core import auth
from runs_core.logic import rate_limits
from runs_core.settings import get_settings
from runs_core.storage import dynamo

SCRIPT = {"model": {"provider": "scripted", "script": [{"text": "ok"}]}}
RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


@pytest.fixture(autouse=True)
def one_window(monkeypatch):
    """Keep each test's burst inside one window, whatever the wall clock does meanwhile."""
    frozen = time.time()
    monkeypatch.setattr(rate_limits, "now", lambda: frozen)
    return frozen


@pytest.fixture
def limited_org(make_org, admin_api):
    """make_limited(runs_per_minute, requests_per_minute) → an org with an agent whose limits an
    operator set (PATCH /v1/admin/orgs/{id}) before its key was first used."""

    def make(runs_per_minute: int = 100, requests_per_minute: int = 1000):
        org = make_org(credits=1000)
        limits = {"runs_per_minute": runs_per_minute, "requests_per_minute": requests_per_minute}
        patched = admin_api.patch(f"/v1/admin/orgs/{org.org_id}", json={"rate_limits": limits})
        assert patched.status == 200 and patched.json()["rate_limits"] == limits
        agent = f"rl-{uuid.uuid4().hex[:8]}"
        assert org.api.post("/v1/agents", json={"name": agent, "definition": SCRIPT}).status == 201
        return org, agent

    return make


def assert_rate_limited(response, limit: int) -> None:
    assert response.status == 429, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "rate_limited" and problem["status"] == 429
    assert isinstance(problem["retry_after"], int) and 1 <= problem["retry_after"] <= 60
    assert response.headers["Retry-After"] == str(problem["retry_after"])
    assert response.headers["RateLimit-Limit"] == str(limit)
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["RateLimit-Reset"] == str(problem["retry_after"])


def run_count(client) -> int:
    return len(client.get("/v1/runs", query={"limit": "100"}).json()["items"])


def test_run_creation_over_the_limit_is_429(limited_org, make_org):
    org, agent = limited_org(runs_per_minute=3)
    body = {"agent": agent, "start": False}
    created = [org.api.post("/v1/runs", json=body) for _ in range(3)]
    assert [r.status for r in created] == [201, 201, 201]
    assert [r.headers["RateLimit-Remaining"] for r in created] == ["2", "1", "0"]
    assert all(r.headers["RateLimit-Limit"] == "3" for r in created)
    refused = org.api.post("/v1/runs", json=body)
    assert_rate_limited(refused, limit=3)
    assert run_count(org.api) == 3  # the refused request created nothing
    # Other requests of the org still pass (they use the requests bucket, whose headers they carry).
    listed = org.api.get("/v1/runs")
    assert listed.status == 200 and listed.headers["RateLimit-Limit"] == "1000"
    # Another org is not affected.
    other, other_agent = limited_org(runs_per_minute=3)
    assert other.api.post("/v1/runs", json={"agent": other_agent, "start": False}).status == 201


def test_a_replay_costs_no_run_quota(limited_org):
    org, agent = limited_org(runs_per_minute=1)
    headers = {"Idempotency-Key": f"rl-{uuid.uuid4()}"}
    body = {"agent": agent, "start": False}
    first = org.api.post("/v1/runs", json=body, headers=headers)
    assert first.status == 201
    replay = org.api.post("/v1/runs", json=body, headers=headers)
    assert replay.status == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.body == first.body
    assert_rate_limited(org.api.post("/v1/runs", json=body), limit=1)


def test_a_429_is_not_kept_for_its_idempotency_key(limited_org, admin_api):
    org, agent = limited_org(runs_per_minute=0)
    headers = {"Idempotency-Key": f"rl-{uuid.uuid4()}"}
    body = {"agent": agent, "start": False}
    assert_rate_limited(org.api.post("/v1/runs", json=body, headers=headers), limit=0)
    limits = {"runs_per_minute": 5, "requests_per_minute": 1000}
    assert admin_api.patch(f"/v1/admin/orgs/{org.org_id}", json={"rate_limits": limits}).status == 200
    auth._cache.clear()  # as if the authorizer's 60 s cache had expired
    retried = org.api.post("/v1/runs", json=body, headers=headers)
    assert retried.status == 201 and "Idempotent-Replayed" not in retried.headers


def test_requests_over_the_limit_are_429_on_every_function(limited_org):
    org, agent = limited_org(requests_per_minute=5)  # the agent's creation was request 1
    run = org.api.post("/v1/runs", json={"agent": agent, "start": False})
    assert run.status == 201 and run.headers["RateLimit-Limit"] == "100"  # runs bucket on creation
    events = org.api.get(f"/v1/runs/{run.json()['id']}/events")  # the events function
    assert events.status == 200 and events.headers["RateLimit-Limit"] == "5"
    assert events.headers["RateLimit-Remaining"] == "2"
    assert org.api.get("/v1/org").status == 200
    assert org.api.get("/v1/agents").status == 200
    assert_rate_limited(org.api.get("/v1/org"), limit=5)
    assert_rate_limited(org.api.get(f"/v1/runs/{run.json()['id']}/events"), limit=5)
    assert_rate_limited(org.api.post("/v1/runs", json={"agent": agent, "start": False}), limit=5)


def test_an_operators_change_applies_once_the_authorizer_cache_expires(limited_org, admin_api):
    org, _ = limited_org(runs_per_minute=100)
    assert org.api.get("/v1/org").headers["RateLimit-Limit"] == "1000"
    limits = {"runs_per_minute": 100, "requests_per_minute": 2}
    assert admin_api.patch(f"/v1/admin/orgs/{org.org_id}", json={"rate_limits": limits}).status == 200
    auth._cache.clear()  # at most auth.CACHE_SECONDS later
    response = org.api.get("/v1/org")
    assert response.status == 429 and response.headers["RateLimit-Limit"] == "2"


def test_headers_on_a_normal_response(api):
    response = api.get("/v1/org")
    assert response.status == 200
    for name in RATE_HEADERS:
        assert response.headers[name].isdigit(), name
    assert 1 <= int(response.headers["RateLimit-Reset"]) <= 60
    assert response.headers["RateLimit-Limit"] == str(response.json()["rate_limits"]["requests_per_minute"])
    rejected = api.get("/v1/org", headers={"Api-Version": "1999-01-01"})
    assert rejected.status == 400 and all(name in rejected.headers for name in RATE_HEADERS)


def test_operators_and_public_routes_are_not_limited(admin_api, api):
    for response in (
        api.get("/v1/health", key=None),
        api.get("/v1/openapi.json", key=None),
        admin_api.post("/v1/admin/orgs", json={"name": "unlimited-check"}),
    ):
        assert response.status in (200, 201)
        assert not any(name in response.headers for name in RATE_HEADERS)


def test_a_throttled_counter_table_fails_open(limited_org, monkeypatch):
    org, _ = limited_org(requests_per_minute=1)
    real_client = dynamo.client()
    table = get_settings().rate_limits_table

    class ThrottledCounters:
        def __getattr__(self, name):
            return getattr(real_client, name)

        def update_item(self, **request):
            if request["TableName"] == table:
                error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
                raise ClientError({"Error": error}, "UpdateItem")
            return real_client.update_item(**request)

    monkeypatch.setattr(dynamo, "client", ThrottledCounters)
    responses = [org.api.get("/v1/org") for _ in range(3)]
    assert [r.status for r in responses] == [200, 200, 200]
    assert responses[-1].headers["RateLimit-Limit"] == "1"
    assert responses[-1].headers["RateLimit-Remaining"] == "1"  # unknown: reported as the full limit
