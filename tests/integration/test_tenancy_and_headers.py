"""Auth, tenancy and the headers of docs/api.md §1-2: another org's data is a 404 and stays unchanged."""

import uuid

import pytest

SCRIPT = {"model": {"provider": "scripted", "script": [{"text": "ok"}]}}


@pytest.fixture
def two_orgs(api, make_org):
    """Org A with an agent and a run; org B, a stranger."""
    a, b = make_org(credits=100), make_org(credits=100)
    name = f"iso-{uuid.uuid4().hex[:8]}"
    agent = api.request("POST", "/v1/agents", json={"name": name, "definition": SCRIPT}, key=a.key).json()
    run = api.request("POST", "/v1/runs", json={"agent": name, "start": False}, key=a.key).json()
    return a, b, agent, run


def test_other_orgs_resources_are_404_and_unchanged(api, two_orgs):
    a, b, agent, run = two_orgs
    attempts = [
        ("GET", f"/v1/agents/{agent['id']}", None),
        ("GET", f"/v1/agents/{agent['name']}", None),
        ("GET", f"/v1/agents/{agent['id']}/versions", None),
        ("GET", f"/v1/agents/{agent['id']}/versions/0.1.0", None),
        ("POST", f"/v1/agents/{agent['id']}/versions", {"version": "5.0.0", "definition": SCRIPT}),
        ("PUT", f"/v1/agents/{agent['id']}/tags/latest", {"version": "0.1.0"}),
        ("POST", "/v1/runs", {"agent": agent["id"]}),
        ("GET", f"/v1/runs/{run['id']}", None),
        ("POST", f"/v1/runs/{run['id']}/invoke", None),
        ("POST", f"/v1/runs/{run['id']}/cancel", None),
        ("DELETE", f"/v1/api-keys/{a.key_id}", None),
    ]
    for method, path, body in attempts:
        response = api.request(method, path, json=body, key=b.key)
        assert response.status == 404, (method, path, response.json())
        assert response.json()["code"] == "not_found"
    assert api.request("GET", f"/v1/runs/{run['id']}", key=a.key).json() == run
    assert (
        api.request("GET", f"/v1/agents/{agent['id']}/versions", key=a.key).json()["items"][0]["version"]
        == "0.1.0"
    )
    assert api.request("GET", "/v1/org", key=a.key).status == 200  # A's key still works
    assert api.request("GET", "/v1/runs", key=b.key).json()["items"] == []
    assert api.request("GET", "/v1/agents", key=b.key).json()["items"] == []


def test_other_orgs_cursor_is_invalid(api, two_orgs):
    a, b, agent, _ = two_orgs
    api.request("POST", "/v1/runs", json={"agent": agent["id"], "start": False}, key=a.key)
    cursor = api.request("GET", "/v1/runs", query={"limit": "1"}, key=a.key).json()["next_cursor"]
    assert cursor
    response = api.request("GET", "/v1/runs", query={"limit": "1", "cursor": cursor}, key=b.key)
    assert response.status == 400 and response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer {key}"}, {"Authorization": "Api-Key {key}"}, {"x-api-key": "{key}"}],
)
def test_three_key_forms(api, dev_key, headers):
    filled = {name: value.format(key=dev_key) for name, value in headers.items()}
    assert api.request("GET", "/v1/org", headers=filled, key=None).status == 200


@pytest.mark.parametrize("key", [None, "sk_test_unknown", ""])
def test_missing_or_unknown_key_is_401(api, key):
    response = api.request("GET", "/v1/runs", key=key)
    assert response.status == 401 and response.json()["code"] == "unauthorized"


def test_revoked_key_stops_working(api):
    created = api.request("POST", "/v1/api-keys", json={"name": "short-lived"}).json()
    assert created["key"].startswith("sk_") and created["prefix"] == created["key"][:12]
    listed = api.request("GET", "/v1/api-keys").json()["items"]
    assert created["id"] in [key["id"] for key in listed] and "key" not in listed[0]
    # Not used before revocation, so no authorizer cache entry keeps it alive.
    revoked = api.request("DELETE", f"/v1/api-keys/{created['id']}")
    assert revoked.status == 200 and revoked.json()["revoked_at"]
    assert api.request("GET", "/v1/org", key=created["key"]).status == 401


def test_org_id_header_must_match(api, dev_key, make_org):
    other = make_org(credits=1)
    mine = api.request("GET", "/v1/org").json()["id"]
    assert api.request("GET", "/v1/org", headers={"X-Org-Id": mine}).status == 200
    forbidden = api.request("GET", "/v1/org", headers={"X-Org-Id": other.org_id})
    assert forbidden.status == 403 and forbidden.json()["code"] == "forbidden"


def test_request_id_and_api_version(api):
    ok = api.request("GET", "/v1/org")
    assert ok.headers["request-id"] and ok.headers["api-version"] == "2026-11-01"
    pinned = api.request("GET", "/v1/org", headers={"Api-Version": "2026-11-01"})
    assert pinned.status == 200 and pinned.headers["api-version"] == "2026-11-01"
    unknown = api.request("GET", "/v1/org", headers={"Api-Version": "1999-01-01"})
    assert unknown.status == 400 and unknown.json()["code"] == "unknown_api_version"
    assert unknown.json()["request_id"] == unknown.headers["request-id"]


def test_body_rules(api):
    invalid = api.request(
        "POST", "/v1/api-keys", body=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert invalid.status == 400 and invalid.json()["code"] == "invalid_json"
    wrong_type = api.request("POST", "/v1/api-keys", body=b"name=x", headers={"Content-Type": "text/plain"})
    assert wrong_type.status == 415 and wrong_type.json()["code"] == "unsupported_media_type"
    huge = api.request("POST", "/v1/api-keys", json={"name": "x" * (1024 * 1024 + 10)})
    assert huge.status == 413 and huge.json()["code"] == "payload_too_large"
    long_user = api.request("GET", "/v1/org", headers={"X-End-User": "u" * 129})
    assert long_user.status == 400


def test_operators_routes(api, admin_key):
    assert api.request("POST", "/v1/admin/orgs", json={"name": "nope"}).status == 403  # an org's key
    created = api.request("POST", "/v1/admin/orgs", json={"name": "acme", "credits": 50}, key=admin_key)
    assert created.status == 201
    org_id = created.json()["org"]["id"]
    patched = api.request(
        "PATCH",
        f"/v1/admin/orgs/{org_id}",
        json={"credits_balance": 7, "rate_limits": {"runs_per_minute": 5, "requests_per_minute": 50}},
        key=admin_key,
    )
    assert patched.status == 200
    assert patched.json()["credits_balance"] == 7 and patched.json()["rate_limits"]["runs_per_minute"] == 5
    new_key = created.json()["api_key"]["key"]
    assert api.request("GET", "/v1/org", key=new_key).json()["credits_balance"] == 7
    assert (
        api.request("PATCH", "/v1/admin/orgs/org_nope", json={"credits_balance": 1}, key=admin_key).status
        == 404
    )
    assert api.request("GET", "/v1/org", key=admin_key).status == 403  # the admin key has no org


def test_a_just_revoked_key_cannot_manage_keys_while_its_principal_is_cached(api):
    created = api.request("POST", "/v1/api-keys", json={"name": "about-to-go"}).json()
    assert api.request("GET", "/v1/org", key=created["key"]).status == 200  # now in the authorizer's cache
    assert api.request("DELETE", f"/v1/api-keys/{created['id']}").status == 200
    # Other routes may honour the cached principal for up to 60 s (the documented promise); minting and
    # revoking keys read the key again.
    minted = api.request("POST", "/v1/api-keys", json={"name": "escape"}, key=created["key"])
    assert minted.status == 401 and minted.json()["code"] == "unauthorized"
    revoke = api.request("DELETE", f"/v1/api-keys/{created['id']}", key=created["key"])
    assert revoke.status == 401
    names = [key["name"] for key in api.request("GET", "/v1/api-keys", query={"limit": 100}).json()["items"]]
    assert "escape" not in names
