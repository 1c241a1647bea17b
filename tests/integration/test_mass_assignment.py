"""No mass assignment (docs/api.md §1): a body field the client must not set is a 400 validation_error on
every
POST/PUT/PATCH route with a JSON body, and nothing changes. Table-driven; the table is checked against
template.yaml so a new body route without a case fails."""

import json
import uuid
from typing import Any

import pytest

from tests.integration.helpers import (
    TERMINAL,
    definition,
    fill,
    multipart,
    new_org,
    ok,
    settle,
    template_routes,
)

APPROVAL = [{"tool_calls": [{"name": "pay_invoice", "arguments": {}}]}, {"text": "ok"}]
INPUT = [{"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "?"}}]}, {"text": "ok"}]
RUN_FIELDS = [
    "id", "object", "org_id", "status", "usage", "created_at", "started_at", "completed_at", "rev",
    "last_event_seq", "output", "outputs", "step_count", "pending", "error", "created_by", "trace_id",
    "agent_id", "agent_version", "task_token", "credits_balance", "duration_ms",
]  # fmt: skip

# route → (path with {ids}, a valid body, fields the client must not set). Admin routes use the admin key.
BODY_ROUTES: dict[tuple[str, str], tuple[str, dict[str, Any], list[str]]] = {
    ("POST", "/v1/agents"): (
        "/v1/agents",
        {"name": "{new_name}", "definition": definition(APPROVAL)},
        ["id", "org_id", "created_at", "dist_tags", "latest", "object", "rev", "credits_balance"],
    ),
    ("POST", "/v1/agents/{agent}/versions"): (
        "/v1/agents/{agent}/versions",
        {"version": "7.0.0", "definition": definition(APPROVAL)},
        ["agent_id", "org_id", "created_at", "id"],
    ),
    ("PUT", "/v1/agents/{agent}/tags/{tag}"): (
        "/v1/agents/{agent}/tags/beta",
        {"version": "0.1.0"},
        ["agent_id", "org_id", "dist_tags", "id"],
    ),
    ("POST", "/v1/runs"): ("/v1/runs", {"agent": "{agent}", "start": False}, RUN_FIELDS),
    ("POST", "/v1/agents/{agent}/runs"): ("/v1/agents/{agent}/runs", {"start": False}, RUN_FIELDS),
    ("POST", "/v1/agents/{agent}/run"): ("/v1/agents/{agent}/run", {}, RUN_FIELDS),
    ("POST", "/v1/runs/{run_id}/cancel"): (
        "/v1/runs/{approval}/cancel",
        {"reason": "x"},
        ["status", "cancelled_at", "org_id", "rev", "last_event_seq"],
    ),
    ("POST", "/v1/runs/{run_id}/input"): (
        "/v1/runs/{input}/input",
        {"content": "x"},
        ["status", "pending", "step_id", "org_id", "output", "rev"],
    ),
    ("POST", "/v1/runs/{run_id}/approval"): (
        "/v1/runs/{approval}/approval",
        {"decision": "approve"},
        ["status", "pending", "step_id", "org_id", "usage", "rev"],
    ),
    ("PUT", "/v1/runs/{run_id}/memory/{key}"): (
        "/v1/runs/{created}/memory/k",
        {"value": 1},
        ["org_id", "run_id", "key", "scope", "expires_at"],
    ),
    ("POST", "/v1/threads"): (
        "/v1/threads",
        {"metadata": {}},
        ["id", "org_id", "status", "active_run_id", "queue", "queued_run_ids", "rev", "created_at"],
    ),
    ("POST", "/v1/threads/{thread_id}/runs"): (
        "/v1/threads/{thread}/runs",
        {"agent": "{agent}", "start": False},
        [*RUN_FIELDS, "run_id"],
    ),
    ("PUT", "/v1/threads/{thread_id}/memory/{key}"): (
        "/v1/threads/{thread}/memory/k",
        {"value": 1},
        ["org_id", "thread_id", "scope"],
    ),
    ("POST", "/v1/api-keys"): (
        "/v1/api-keys",
        {"name": "k"},
        ["id", "org_id", "key", "key_hash", "hash", "prefix", "revoked_at", "created_at", "credits_balance"],
    ),
    ("POST", "/v1/files/uploads"): (
        "/v1/files/uploads",
        {"name": "a.pdf", "content_type": "application/pdf", "size_bytes": 10},
        ["id", "org_id", "status", "sha256", "created_at", "key", "bucket"],
    ),
    ("POST", "/v1/admin/orgs"): (
        "/v1/admin/orgs",
        {"name": "{new_name}"},
        ["id", "org_id", "credits_balance", "created_at", "api_key"],
    ),
    ("PATCH", "/v1/admin/orgs/{org_id}"): (
        "/v1/admin/orgs/{org_id}",
        {"credits_balance": 5},
        ["id", "name", "created_at", "credits", "api_keys"],
    ),
}
# Body routes without a JSON body model: multipart (checked below), or no body at all.
# The dialects' body routes (docs/api.md §8): their error bodies are their seeds', so the check is the status
# and the field named in the body.
DIALECT_BODY_ROUTES: dict[tuple[str, str], tuple[str, dict[str, Any], list[str]]] = {
    ("POST", "/dialects/tr/v1/threads/{thread_id}/runs"): (
        "/dialects/tr/v1/threads/{thread}/runs",
        {"persona_id": "{agent}"},
        ["run_id", "status", "org_id", "trace_id"],
    ),
    ("POST", "/dialects/tr/v1/runs/{run_id}/input"): (
        "/dialects/tr/v1/runs/{input}/input",
        {"content": "x"},
        ["status", "ok"],
    ),
    ("POST", "/dialects/ziet/v1/runs"): (
        "/dialects/ziet/v1/runs",
        {"agent_id": "{agent}"},
        ["id", "status", "steps", "memory", "output", "created_at"],
    ),
    ("POST", "/dialects/kognitos/v2/runs"): (
        "/dialects/kognitos/v2/runs",
        {"name": "n", "process_id": "{agent}", "agent_id": "A1", "stage": "Published"},
        ["id", "status", "outputs", "created_at"],
    ),
    ("POST", "/dialects/appstrate/api/agents/{scope}/{name}/run"): (
        "/dialects/appstrate/api/agents/@ma/{scoped}/run",
        {"start": False},
        ["id", "status", "org_id", "usage", "runId"],
    ),
}
OTHER_BODY_ROUTES = {
    ("POST", "/dialects/tr/v1/runs/{run_id}"),  # `:cancel`: no body
    ("POST", "/dialects/ziet/v1/runs/{run_id}/invoke"),  # no body
    ("POST", "/dialects/roe/v1/agents/run/{agent_id}"),  # every key is one of the agent's inputs
    ("POST", "/v1/files"),  # multipart part `file`; no JSON fields
    ("POST", "/v1/runs/{run_id}/invoke"),  # no body
    ("POST", "/v1/runs/{run_id}/wait"),  # no body
    # OpenAI Responses: an unknown field is a 400 in OpenAI's error body (the test below)
    ("POST", "/dialects/openai/v1/responses"),
    ("POST", "/dialects/openai/v1/responses/{response_id}/cancel"),  # no body
    # Agent Protocol: the SDK sends every option it has, so fields the dialect does not use are dropped
    # (never stored); the cancel has no body
    ("POST", "/dialects/langgraph/assistants/search"),
    ("POST", "/dialects/langgraph/threads"),
    ("POST", "/dialects/langgraph/threads/{thread_id}/runs"),
    ("POST", "/dialects/langgraph/threads/{thread_id}/runs/wait"),
    ("POST", "/dialects/langgraph/threads/{thread_id}/runs/stream"),
    ("POST", "/dialects/langgraph/threads/{thread_id}/runs/{run_id}/cancel"),
}


def test_openai_dialect_refuses_fields_it_does_not_know(stack):
    api = new_org(stack)
    for field in ("id", "status", "usage", "output", "created_at"):
        response = api.post("/dialects/openai/v1/responses", json={"model": "demo", "input": "hi", field: 1})
        assert response.status == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error" and error["param"] == field, error
    assert ok(api.get("/v1/runs"))["items"] == []


def test_every_body_route_has_a_case():
    body_routes = {route for route in template_routes() if route[0] in ("POST", "PUT", "PATCH")}
    cases = set(BODY_ROUTES) | set(DIALECT_BODY_ROUTES) | OTHER_BODY_ROUTES
    assert body_routes == cases, body_routes ^ cases


@pytest.fixture(scope="module")
def tenant(stack):
    api = new_org(stack)
    agent = ok(
        api.post(
            "/v1/agents", json={"name": f"ma-{uuid.uuid4().hex[:8]}", "definition": definition(APPROVAL)}
        ),
        201,
    )
    ask = ok(
        api.post("/v1/agents", json={"name": f"ma-{uuid.uuid4().hex[:8]}", "definition": definition(INPUT)}),
        201,
    )
    ids = {
        "agent": agent["id"],
        "approval": ok(api.post("/v1/runs", json={"agent": agent["id"]}), 201)["id"],
        "input": ok(api.post("/v1/runs", json={"agent": ask["id"]}), 201)["id"],
        "created": ok(api.post("/v1/runs", json={"agent": agent["id"], "start": False}), 201)["id"],
        "thread": ok(api.post("/v1/threads", json={}), 201)["id"],
        "org_id": ok(api.get("/v1/org"))["id"],
        "scoped": f"s-{uuid.uuid4().hex[:8]}",
    }
    ok(api.post("/v1/agents", json={"name": f"@ma/{ids['scoped']}", "definition": definition(INPUT)}), 201)
    settle(api, ids["approval"], ("waiting_approval",))
    settle(api, ids["input"], ("waiting_for_input",))
    return api, ids


def state(api, ids) -> dict[str, Any]:
    reads = ["/v1/org", "/v1/agents", "/v1/runs", "/v1/threads", "/v1/api-keys", f"/v1/agents/{ids['agent']}"]
    reads += [
        f"/v1/agents/{ids['agent']}/versions",
        f"/v1/runs/{ids['created']}/memory",
        f"/v1/threads/{ids['thread']}/memory",
    ]
    reads += [f"/v1/runs/{ids[name]}" for name in ("approval", "input", "created")]
    reads += [f"/v1/runs/{ids[name]}/events" for name in ("approval", "input", "created")]
    return {
        path: ok(api.get(path, query={"limit": "100"} if "memory" not in path else None)) for path in reads
    }


CASES = [
    pytest.param(route, forbidden, id=f"{route[0]} {route[1]} {forbidden}")
    for route, (_, _, fields) in BODY_ROUTES.items()
    for forbidden in fields
]


def test_a_field_the_client_must_not_set_is_400_and_changes_nothing(tenant, admin_api):
    api, ids = tenant
    before = state(api, ids)
    for route, forbidden in [param.values for param in CASES]:
        path, body, _ = BODY_ROUTES[route]
        client = admin_api if route[1].startswith("/v1/admin/") else api
        sent = fill(
            {**body, forbidden: "completed" if forbidden == "status" else 10**6},
            {**ids, "new_name": f"ma-{uuid.uuid4().hex[:8]}"},
        )
        response = client.request(route[0], fill(path, ids), json=sent, query={"timeout": "1"})
        where = (route, forbidden, response.status, response.text[:300])
        assert response.status == 400, where
        problem = response.json()
        assert problem["code"] == "validation_error", where
        assert any(forbidden in json.dumps(error) for error in problem.get("errors", [])), where
    assert state(api, ids) == before
    # the valid bodies do work (the 400s above are about the one extra field)
    assert api.post(fill("/v1/runs/{approval}/approval", ids), json={"decision": "approve"}).status == 200
    assert settle(api, ids["approval"], TERMINAL)["status"] == "completed"


def test_a_dialect_refuses_a_field_the_client_must_not_set_and_changes_nothing(tenant):
    api, ids = tenant
    before = state(api, ids)
    for route, (path, body, fields) in DIALECT_BODY_ROUTES.items():
        for forbidden in fields:
            sent = fill({**body, forbidden: "completed" if forbidden == "status" else 10**6}, ids)
            response = api.request(route[0], fill(path, ids), json=sent)
            assert response.status == 400 and forbidden in response.text, (route, forbidden, response.text)
    assert state(api, ids) == before


def test_multipart_json_part_with_a_field_the_client_must_not_set(tenant):
    api, ids = tenant
    runs_before = ok(api.get("/v1/runs", query={"limit": "100"}))["items"]
    for forbidden in ("status", "org_id", "usage", "id"):
        part = json.dumps({"agent": ids["agent"], "start": False, forbidden: "x"}).encode()
        body, header = multipart(("json", None, "application/json", part))
        response = api.request("POST", "/v1/runs", body=body, headers={"Content-Type": header})
        assert response.status == 400 and response.json()["code"] == "validation_error", response.text
    assert ok(api.get("/v1/runs", query={"limit": "100"}))["items"] == runs_before


def test_credits_cannot_be_set_by_an_org_and_are_operator_only(tenant, admin_api):
    api, ids = tenant
    balance = ok(api.get("/v1/org"))["credits_balance"]
    # there is no org-level PATCH; the operators' route refuses an org's key
    assert api.patch(f"/v1/admin/orgs/{ids['org_id']}", json={"credits_balance": 10**12}).status == 403
    assert api.patch("/v1/org", json={"credits_balance": 10**12}).status in (404, 405)
    assert ok(api.get("/v1/org"))["credits_balance"] == balance
