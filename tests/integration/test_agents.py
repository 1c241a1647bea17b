"""Agents, versions and dist-tags through the real handlers (docs/api.md §3)."""

import uuid

SCRIPT = {"model": {"provider": "scripted", "script": [{"text": "ok"}]}}


def new_name() -> str:
    return f"agent-{uuid.uuid4().hex[:10]}"


def test_create_get_by_name_and_id(api):
    name = new_name()
    created = api.request("POST", "/v1/agents", json={"name": name, "definition": SCRIPT})
    assert created.status == 201
    agent = created.json()
    assert agent["id"].startswith("agt_") and agent["dist_tags"] == {"latest": "0.1.0"}
    assert agent["latest"]["definition"]["model"]["provider"] == "scripted"
    for ref in (name, agent["id"]):
        fetched = api.request("GET", f"/v1/agents/{ref}")
        assert fetched.status == 200 and fetched.json()["id"] == agent["id"]


def test_duplicate_name_is_409_and_writes_nothing(api):
    name = new_name()
    first = api.request("POST", "/v1/agents", json={"name": name, "definition": SCRIPT}).json()
    again = api.request("POST", "/v1/agents", json={"name": name, "version": "9.9.9", "definition": SCRIPT})
    assert again.status == 409 and again.json()["code"] == "name_taken"
    versions = api.request("GET", f"/v1/agents/{first['id']}/versions").json()["items"]
    assert [version["version"] for version in versions] == ["0.1.0"]


def test_versions_are_immutable_and_tags_move(api):
    name = new_name()
    api.request("POST", "/v1/agents", json={"name": name, "version": "1.0.0", "definition": SCRIPT})
    published = api.request(
        "POST", f"/v1/agents/{name}/versions", json={"version": "1.1.0", "definition": SCRIPT}
    )
    assert published.status == 201 and published.json()["tags"] == ["latest"]
    pre = api.request(
        "POST", f"/v1/agents/{name}/versions", json={"version": "2.0.0-rc.1", "definition": SCRIPT}
    )
    assert pre.json()["tags"] == []  # a pre-release does not move latest by default
    again = api.request(
        "POST", f"/v1/agents/{name}/versions", json={"version": "1.1.0", "definition": SCRIPT}
    )
    assert again.status == 409 and again.json()["code"] == "version_exists"

    moved = api.request("PUT", f"/v1/agents/{name}/tags/beta", json={"version": "2.0.0-rc.1"})
    assert moved.status == 200
    assert moved.json()["dist_tags"] == {"latest": "1.1.0", "beta": "2.0.0-rc.1"}
    missing = api.request("PUT", f"/v1/agents/{name}/tags/beta", json={"version": "3.0.0"})
    assert missing.status == 404
    assert api.request("GET", f"/v1/agents/{name}").json()["dist_tags"]["beta"] == "2.0.0-rc.1"

    one = api.request("GET", f"/v1/agents/{name}/versions/1.0.0")
    assert one.status == 200 and one.json()["version"] == "1.0.0"
    assert api.request("GET", f"/v1/agents/{name}/versions/7.0.0").status == 404


def test_versions_page_newest_first(api):
    name = new_name()
    api.request("POST", "/v1/agents", json={"name": name, "version": "1.0.0", "definition": SCRIPT})
    for version in ("1.0.1", "1.0.2", "1.0.3"):
        api.request("POST", f"/v1/agents/{name}/versions", json={"version": version, "definition": SCRIPT})
    seen, cursor = [], None
    while True:
        page = api.request(
            "GET", f"/v1/agents/{name}/versions", query={"limit": "3", "cursor": cursor}
        ).json()
        seen += [item["version"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["1.0.3", "1.0.2", "1.0.1", "1.0.0"]


def test_bad_agents_are_400_with_field_errors(api):
    cases = [
        ({"name": "Bad Name", "definition": SCRIPT}, "name"),
        ({"name": new_name(), "version": "1.0", "definition": SCRIPT}, "version"),
        ({"name": new_name(), "definition": {"model": {"provider": "nope"}}}, "definition.model.provider"),
        ({"name": new_name(), "definition": SCRIPT, "dist_tags": {}}, "dist_tags"),
    ]
    for body, field in cases:
        response = api.request("POST", "/v1/agents", json=body)
        assert response.status == 400, body
        problem = response.json()
        assert problem["code"] == "validation_error"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in [error["field"] for error in problem["errors"]], problem
    assert api.request("GET", "/v1/agents/Bad-Name").status == 404


def test_model_keys_must_be_the_orgs_own_secrets(api):
    org_id = api.request("GET", "/v1/org").json()["id"]
    model = {"provider": "openai", "id": "gpt", "base_url": "https://models.example.com/v1"}
    for secret, status in [
        ("runs-api/runs-api-stack/webhook-signing", 400),  # the deployment's own secret
        ("runs-api/org_someone_else/key", 400),
        ("arn:aws:secretsmanager:us-east-1:1:secret:runs-api/org_other/key-AbCdEf", 400),
        (f"runs-api/{org_id}/openai", 201),
        (f"arn:aws:secretsmanager:us-east-1:1:secret:runs-api/{org_id}/key-AbCdEf", 201),
        (f"/runs-api/{org_id}/openai", 201),
    ]:
        definition = {"model": {**model, "api_key_secret": secret}}
        response = api.request("POST", "/v1/agents", json={"name": new_name(), "definition": definition})
        assert response.status == status, (secret, response.json())
