"""405 method_not_allowed (docs/api.md §2): a method a known path does not serve, through the template's
catch-all ANY routes (MethodNotAllowedFunction) and the emulator's precedence (a resource's own method
wins over ANY); an unknown path stays 404, and a caller without a key gets 401 first."""

import uuid

import pytest

RUN = "run_01J000000000000000000000000"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", f"/v1/runs/{RUN}", "GET"),
        ("PUT", "/v1/agents", "GET, POST"),
        ("PATCH", "/v1/agents/demo", "GET"),
        ("GET", f"/v1/runs/{RUN}/cancel", "POST"),
        ("POST", f"/v1/runs/{RUN}/memory/note", "DELETE, PUT"),
        ("DELETE", "/v1/threads", "GET, POST"),
        ("POST", "/v1/api-keys/key_01J000000000000000000000000", "DELETE"),
        ("GET", "/v1/files/uploads", "POST"),  # the literal resource, not GET /v1/files/{file_id}
        ("OPTIONS", "/v1/runs", "GET, POST"),
        ("HEAD", f"/v1/runs/{RUN}/events", "GET"),
    ],
)
def test_a_method_the_path_does_not_serve_is_405_with_allow(api, method, path, allow):
    response = api.request(method, path)
    assert response.status == 405, (method, path, response.body)
    assert response.headers["Allow"] == allow
    assert response.headers["Request-Id"]
    assert response.headers["Api-Version"]
    if method == "HEAD":
        return  # (no body to read: the emulator's caller gets it, an HTTP client would not)
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem == {
        "type": "/problems/method_not_allowed",
        "title": "Method not allowed",
        "status": 405,
        "code": "method_not_allowed",
        "detail": problem["detail"],
        "request_id": response.headers["Request-Id"],
    }
    assert method in problem["detail"] and allow in problem["detail"]


def test_a_405_has_no_side_effects_and_is_not_kept_for_idempotency(api):
    name = f"405-{uuid.uuid4().hex[:8]}"
    agents_before = api.get("/v1/agents", query={"limit": "100"}).json()
    key = {"Idempotency-Key": f"405-once-{name}"}
    definition = {"model": {"provider": "scripted", "script": [{"text": "x"}]}}
    first = api.request("PUT", "/v1/agents", json={"name": name, "definition": definition}, headers=key)
    again = api.request("PUT", "/v1/agents", json={"name": name, "definition": definition}, headers=key)
    assert first.status == again.status == 405
    assert "Idempotent-Replayed" not in again.headers
    # the agent the PUT would have created does not exist, and the list did not change
    assert api.get(f"/v1/agents/{name}").status == 404
    assert api.get("/v1/agents", query={"limit": "100"}).json() == agents_before
    # and the Idempotency-Key was not kept: a real request with it now is not a replay
    created = api.post("/v1/agents", json={"name": name, "definition": definition}, headers=key)
    assert created.status == 201, created.text
    assert "Idempotent-Replayed" not in created.headers


def test_405_comes_before_body_rules(api):
    response = api.request("PUT", "/v1/runs", body=b"not json", headers={"Content-Type": "text/plain"})
    assert response.status == 405 and response.json()["code"] == "method_not_allowed"


def test_without_a_key_the_answer_is_401_first(api):
    for method, path in (("DELETE", f"/v1/runs/{RUN}"), ("PUT", "/v1/agents"), ("GET", "/v1/admin/orgs")):
        response = api.request(method, path, key=None)
        assert response.status == 401, (method, path)
        assert response.json()["code"] == "unauthorized"


def test_public_paths_answer_405_without_a_key(api):
    for path in ("/v1/health", "/v1/openapi.json", "/v1/docs"):
        response = api.request("DELETE", path, key=None)
        assert response.status == 405, path
        assert response.headers["Allow"] == "GET"
        assert response.json()["code"] == "method_not_allowed"


def test_admin_paths_answer_405_too(api, admin_key):
    # (Any valid key: the authorizer admits it, the admin check is the handlers'. The admin routes are
    # in the public OpenAPI document anyway.)
    for key in (admin_key, api.key):
        response = api.request("DELETE", "/v1/admin/orgs", key=key)
        assert response.status == 405 and response.headers["Allow"] == "POST"


def test_unknown_paths_stay_404(api):
    for method, path in (("GET", "/v1/no-such-thing"), ("DELETE", "/v1/no-such-thing"), ("PUT", "/nope")):
        response = api.request(method, path)
        assert response.status == 404, (method, path)
        assert response.json()["code"] == "not_found"
        assert "Allow" not in response.headers


def test_served_methods_are_unchanged(api):
    assert api.get("/v1/health", key=None).status == 200
    assert api.get("/v1/agents").status == 200
    assert api.get(f"/v1/runs/{RUN}").status == 404  # a real route: the handler's not_found
