"""Request bodies are validated strictly (issue 10): `"max_steps": true` is not 1 and `"start": "false"` is
not false. Query strings are text and still parse as their types. An org's key on the operators' routes is
403 whatever the body (the role is checked before the body is validated)."""

import re
import uuid
from typing import Any

import pytest

from tests.integration.helpers import ok, problem_fields, problem_of, start


def _definition(**extra: Any) -> dict[str, Any]:
    return {"model": {"provider": "scripted", "script": [{"text": "ok"}]}, **extra}


@pytest.fixture
def run_id(api):
    return start(api, "demo", input={"name": "Ada"}, start=False)["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_steps": True}, "max_steps"),
        ({"max_steps": "3"}, "max_steps"),
        ({"max_tokens": 5.0}, "max_tokens"),
        ({"start": "false"}, "start"),
        ({"start": 0}, "start"),
        ({"name": 5}, "name"),
        ({"metadata": {"k": 1}}, "metadata.k"),
    ],
)
def test_run_bodies_are_not_coerced(api, body, field):
    """Found: `"max_steps": true` became 1 and `"start": "false"` became false."""
    before = ok(api.get("/v1/runs", query={"agent": "demo", "limit": "100"}))["items"]
    response = api.post("/v1/runs", json={"agent": "demo", **body})
    assert field in problem_fields(problem_of(response, 400, "validation_error"))
    assert ok(api.get("/v1/runs", query={"agent": "demo", "limit": "100"}))["items"] == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/agents", {"name": "strict", "definition": _definition(limits={"max_steps": True})}),
        (
            "/v1/agents",
            {
                "name": "strict",
                "definition": _definition(
                    actions=[{"name": "echo", "kind": "builtin", "requires_approval": "yes"}]
                ),
            },
        ),
        ("/v1/api-keys", {"name": 7}),
        ("/v1/files/uploads", {"name": "a.txt", "content_type": "text/plain", "size_bytes": "12"}),
    ],
)
def test_other_bodies_are_not_coerced(api, path, body):
    problem_of(api.post(path, json=body), 400, "validation_error")


def test_query_strings_still_parse_as_their_types(api, run_id):
    """Query strings are text: strict bodies must not make `?timeout=0` or `?limit=2` a 400."""
    assert ok(api.post(f"/v1/runs/{run_id}/wait", query={"timeout": "0"}))["id"] == run_id
    assert len(ok(api.get("/v1/runs", query={"limit": "2"}))["items"]) <= 2
    assert ok(api.get(f"/v1/runs/{run_id}/events", query={"after_seq": "0", "limit": "1"}))["items"]


def test_json_floats_still_fill_floatproblem_fields(api):
    model = {
        "provider": "scripted",
        "script": [{"text": "ok"}],
        "price": {"input_per_mtok": 3, "output_per_mtok": 1.5},
    }
    name = f"price-{uuid.uuid4().hex[:8]}"
    ok(api.post("/v1/agents", json={"name": name, "definition": {"model": model}}), 201)


# ------------------------------------------------------------------------------------------ operators


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/admin/orgs", {"name": ""}),
        ("POST", "/v1/admin/orgs", {"name": "x", "credits": "many"}),
        ("POST", "/v1/admin/orgs", ["not", "an", "object"]),
        ("PATCH", "/v1/admin/orgs/org_x", {"credits_balance": True}),
        ("PATCH", "/v1/admin/orgs/org_x", {"bogus": 1}),
    ],
)
def test_an_org_key_on_operators_routes_is_403_whatever_the_body(api, admin_api, method, path, body):
    """Found: an org's key with a bad body got the admin schema's errors (400) instead of 403."""
    problem = problem_of(api.request(method, path, json=body), 403, "forbidden")
    assert "errors" not in problem and not re.search(r"credits|name|bogus", problem["detail"])
    problem_of(admin_api.request(method, path, json=body), 400, "validation_error")


def test_an_org_key_on_operators_routes_is_403_even_for_bodies_that_are_not_json(api):
    response = api.request(
        "POST", "/v1/admin/orgs", body=b"{not json", headers={"Content-Type": "application/json"}
    )
    problem_of(response, 403, "forbidden")
