"""Tenant isolation over every route of template.yaml (docs/api.md §1: another org's resource is a 404,
never a
403, and stays unchanged), plus the WebSocket subscribe and the operators' routes.

Org A owns one of everything; org B calls every route with A's ids and A's cursors. The table of cases is
checked against the template's Api events, so a new route without a case fails `test_every_route_has_a_case`.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from runs_core.stream import websocket
from tests.integration.conftest import ApiClient
from tests.integration.helpers import (
    TERMINAL,
    definition,
    fill,
    new_org,
    ok,
    settle,
    template_routes,
    until_idle,
    upload,
)

DONE = [
    {"tool_calls": [{"name": "echo", "arguments": {"x": 1}}]},
    {"tool_calls": [{"name": "memory_set", "arguments": {"key": "k", "value": "v"}}]},
    {"text": "done"},
]
APPROVAL = [{"tool_calls": [{"name": "pay_invoice", "arguments": {"amount": 1}}]}, {"text": "paid"}]
INPUT = [{"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "which?"}}]}, {"text": "thanks"}]


def cursor_of(api: ApiClient, path: str, **query: Any) -> str:
    page = ok(api.get(path, query={"limit": 1, **query}))
    assert page["next_cursor"], (path, page)
    return str(page["next_cursor"])


@dataclass
class World:
    a: ApiClient
    b: ApiClient
    ids: dict[str, str]  # A's ids (and B's, prefixed b_), to fill path templates
    cursors: dict[str, str] = field(default_factory=dict)  # route path → a cursor of A's for it
    a_org: str = ""
    b_org: str = ""


def build_a(a: ApiClient) -> dict[str, str]:
    ids: dict[str, str] = {}
    agent = ok(
        a.post("/v1/agents", json={"name": f"iso-{uuid.uuid4().hex[:8]}", "definition": definition(DONE)}),
        201,
    )
    ids |= {"agent": agent["id"], "agent_name": agent["name"]}
    scoped = f"s-{uuid.uuid4().hex[:8]}"  # an agent in a scope: the Appstrate dialect names agents so
    ok(a.post("/v1/agents", json={"name": f"@iso/{scoped}", "definition": definition(DONE)}), 201)
    ids["scoped_agent"] = scoped
    ok(
        a.post(
            f"/v1/agents/{agent['id']}/versions", json={"version": "0.2.0", "definition": definition(DONE)}
        ),
        201,
    )
    ok(a.put(f"/v1/agents/{agent['id']}/tags/beta", json={"version": "0.1.0"}))
    for name, script in (("approval_agent", APPROVAL), ("input_agent", INPUT)):
        made = ok(
            a.post(
                "/v1/agents", json={"name": f"iso-{uuid.uuid4().hex[:8]}", "definition": definition(script)}
            ),
            201,
        )
        ids[name] = made["id"]

    file = ok(upload(a), 201)
    ids["file"] = file["id"]
    completed = ok(a.post("/v1/runs", json={"agent": agent["id"], "file_ids": [file["id"]]}), 201)
    ids["completed"] = completed["id"]
    ids["approval"] = ok(a.post("/v1/runs", json={"agent": ids["approval_agent"]}), 201)["id"]
    ids["input"] = ok(a.post("/v1/runs", json={"agent": ids["input_agent"]}), 201)["id"]
    ids["created"] = ok(a.post("/v1/runs", json={"agent": agent["id"], "start": False}), 201)["id"]
    ids["cancelled"] = ok(a.post("/v1/runs", json={"agent": agent["id"], "start": False}), 201)["id"]
    ok(a.post(f"/v1/runs/{ids['cancelled']}/cancel", json={"reason": "test"}))
    assert settle(a, ids["completed"], TERMINAL)["status"] == "completed"
    settle(a, ids["approval"], ("waiting_approval",))
    settle(a, ids["input"], ("waiting_for_input",))
    ok(a.put(f"/v1/runs/{ids['created']}/memory/note", json={"value": {"x": 1}}))

    thread = ok(a.post("/v1/threads", json={"metadata": {"who": "a"}}), 201)
    ids["thread"] = thread["id"]
    ok(a.post("/v1/threads", json={}), 201)  # a second thread: the thread list has a cursor
    for message in ("first", "second"):
        run = ok(
            a.post(f"/v1/threads/{thread['id']}/runs", json={"agent": agent["id"], "message": message}), 201
        )
        settle(a, run["id"], TERMINAL)
        until_idle(a, thread["id"])
        ids["thread_run"] = run["id"]
    ok(a.put(f"/v1/threads/{thread['id']}/memory/topic", json={"value": "invoices"}))
    ids["key_id"] = ok(a.post("/v1/api-keys", json={"name": "second"}), 201)["id"]
    return ids


def build_b(b: ApiClient) -> dict[str, str]:
    """B's own resources, so that B reaches the cursor check of nested lists."""
    agent = ok(
        b.post("/v1/agents", json={"name": f"iso-{uuid.uuid4().hex[:8]}", "definition": definition(DONE)}),
        201,
    )
    thread = ok(b.post("/v1/threads", json={}), 201)
    run = ok(b.post(f"/v1/threads/{thread['id']}/runs", json={"agent": agent["id"], "message": "hi"}), 201)
    settle(b, run["id"], TERMINAL)
    until_idle(b, thread["id"])
    scoped = f"s-{uuid.uuid4().hex[:8]}"
    ok(b.post("/v1/agents", json={"name": f"@b/{scoped}", "definition": definition(DONE)}), 201)
    return {"b_agent": agent["id"], "b_thread": thread["id"], "b_run": run["id"], "b_scoped_agent": scoped}


@pytest.fixture(scope="module")
def world(stack) -> World:
    a, b = new_org(stack), new_org(stack)
    ids = build_a(a) | build_b(b)
    w = World(a, b, ids, a_org=ok(a.get("/v1/org"))["id"], b_org=ok(b.get("/v1/org"))["id"])
    w.cursors = {
        "/v1/agents": cursor_of(a, "/v1/agents"),
        "/v1/agents/{agent}/versions": cursor_of(a, f"/v1/agents/{ids['agent']}/versions"),
        "/v1/runs": cursor_of(a, "/v1/runs"),
        "/v1/runs/{run_id}/steps": cursor_of(a, f"/v1/runs/{ids['completed']}/steps"),
        "/v1/threads": cursor_of(a, "/v1/threads"),
        "/v1/threads/{thread_id}/runs": cursor_of(a, f"/v1/threads/{ids['thread']}/runs"),
        "/v1/threads/{thread_id}/messages": cursor_of(a, f"/v1/threads/{ids['thread']}/messages"),
        "/v1/api-keys": cursor_of(a, "/v1/api-keys"),
    }
    return w


# --------------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    path: str  # filled with str.format(**ids)
    expect: int | str = 404  # a status, or "invalid_cursor"
    body: Any = None
    query: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    cursor: bool = False  # add A's cursor for this route to the query


RUN = {"agent": "{b_agent}"}


def kognitos_run(process: str) -> dict[str, str]:
    return {"name": "b", "process_id": process, "agent_id": "B1", "stage": "Published"}


# Routes that hold no other tenant's data: B gets its own answer (checked for status), A stays unchanged.
OWN = "own"

CASES: dict[tuple[str, str], list[Case]] = {
    ("POST", "/v1/agents"): [
        # A's agent name is free in B's namespace: no name_taken (which would leak that A has it)
        Case("/v1/agents", 201, {"name": "{agent_name}", "definition": definition(DONE)}),
    ],
    ("GET", "/v1/agents"): [Case("/v1/agents", "invalid_cursor", cursor=True)],
    ("GET", "/v1/agents/{agent}"): [Case("/v1/agents/{agent}"), Case("/v1/agents/{approval_agent}")],
    ("POST", "/v1/agents/{agent}/versions"): [
        Case("/v1/agents/{agent}/versions", body={"version": "9.0.0", "definition": definition(DONE)}),
    ],
    ("GET", "/v1/agents/{agent}/versions"): [
        Case("/v1/agents/{agent}/versions"),
        Case("/v1/agents/{b_agent}/versions", "invalid_cursor", cursor=True),
    ],
    ("GET", "/v1/agents/{agent}/versions/{version}"): [
        Case("/v1/agents/{agent}/versions/0.1.0"),
        Case("/v1/agents/{agent}/versions/0.2.0"),
    ],
    ("PUT", "/v1/agents/{agent}/tags/{tag}"): [
        Case("/v1/agents/{agent}/tags/latest", body={"version": "0.1.0"}),
        Case("/v1/agents/{agent}/tags/beta", body={"version": "0.2.0"}),
    ],
    ("POST", "/v1/runs"): [
        Case("/v1/runs", body={"agent": "{agent}"}),
        Case("/v1/runs", body={"agent": "{agent_name}"}),
        Case("/v1/runs", body={**RUN, "thread_id": "{thread}"}),
        Case("/v1/runs", body={**RUN, "file_ids": ["{file}"]}),
    ],
    ("GET", "/v1/runs"): [Case("/v1/runs", "invalid_cursor", cursor=True)],
    ("GET", "/v1/runs/{run_id}"): [
        Case("/v1/runs/{" + name + "}") for name in ("completed", "approval", "input", "created", "cancelled")
    ],
    ("POST", "/v1/runs/{run_id}/invoke"): [Case("/v1/runs/{created}/invoke")],
    ("POST", "/v1/runs/{run_id}/cancel"): [
        Case("/v1/runs/{approval}/cancel", body={"reason": "b"}),
        Case("/v1/runs/{created}/cancel"),
        Case("/v1/runs/{cancelled}/cancel"),  # idempotent for the owner; still a 404 for B
    ],
    ("GET", "/v1/runs/{run_id}/steps"): [
        Case("/v1/runs/{completed}/steps"),
        Case("/v1/runs/{b_run}/steps", "invalid_cursor", cursor=True),
    ],
    ("POST", "/v1/runs/{run_id}/input"): [Case("/v1/runs/{input}/input", body={"content": "from b"})],
    ("POST", "/v1/runs/{run_id}/approval"): [
        Case("/v1/runs/{approval}/approval", body={"decision": "approve"}),
        Case("/v1/runs/{approval}/approval", body={"decision": "reject"}),
    ],
    ("POST", "/v1/runs/{run_id}/wait"): [
        Case("/v1/runs/{completed}/wait", query={"timeout": "1"}),
        Case("/v1/runs/{approval}/wait", query={"timeout": "1"}),
    ],
    ("GET", "/v1/runs/{run_id}/memory"): [
        Case("/v1/runs/{created}/memory"),
        Case("/v1/runs/{completed}/memory"),
    ],
    ("PUT", "/v1/runs/{run_id}/memory/{key}"): [
        Case("/v1/runs/{created}/memory/note", body={"value": "b"}),
        Case("/v1/runs/{created}/memory/fresh", body={"value": "b"}),
    ],
    ("DELETE", "/v1/runs/{run_id}/memory/{key}"): [Case("/v1/runs/{created}/memory/note")],
    ("POST", "/v1/agents/{agent}/runs"): [
        Case("/v1/agents/{agent}/runs", body={}),
        Case("/v1/agents/{b_agent}/runs", body={"thread_id": "{thread}"}),
        Case("/v1/agents/{b_agent}/runs", body={"file_ids": ["{file}"]}),
    ],
    ("POST", "/v1/agents/{agent}/run"): [
        Case("/v1/agents/{agent}/run", body={}, query={"timeout": "1"}),
        Case("/v1/agents/{b_agent}/run", body={"thread_id": "{thread}"}, query={"timeout": "1"}),
    ],
    ("POST", "/v1/threads"): [Case("/v1/threads", 201, {"metadata": {"who": "b"}})],
    ("GET", "/v1/threads"): [Case("/v1/threads", "invalid_cursor", cursor=True)],
    ("GET", "/v1/threads/{thread_id}"): [Case("/v1/threads/{thread}")],
    ("POST", "/v1/threads/{thread_id}/runs"): [
        Case("/v1/threads/{thread}/runs", body={"agent": "{b_agent}", "message": "hijack"}),
        Case("/v1/threads/{thread}/runs", body={"agent": "{agent}"}),
        Case("/v1/threads/{b_thread}/runs", body={"agent": "{agent}"}),
    ],
    ("GET", "/v1/threads/{thread_id}/runs"): [
        Case("/v1/threads/{thread}/runs"),
        Case("/v1/threads/{b_thread}/runs", "invalid_cursor", cursor=True),
    ],
    ("GET", "/v1/threads/{thread_id}/messages"): [
        Case("/v1/threads/{thread}/messages"),
        Case("/v1/threads/{b_thread}/messages", "invalid_cursor", cursor=True),
    ],
    ("GET", "/v1/threads/{thread_id}/memory"): [Case("/v1/threads/{thread}/memory")],
    ("PUT", "/v1/threads/{thread_id}/memory/{key}"): [
        Case("/v1/threads/{thread}/memory/topic", body={"value": "b"}),
    ],
    ("DELETE", "/v1/threads/{thread_id}/memory/{key}"): [Case("/v1/threads/{thread}/memory/topic")],
    ("GET", "/v1/runs/{run_id}/events"): [
        Case("/v1/runs/{completed}/events"),
        Case("/v1/runs/{completed}/events", query={"after_seq": "0", "limit": "5"}),
        Case("/v1/runs/{completed}/events", headers={"Accept": "text/event-stream"}, query={"wait": "1"}),
        Case("/v1/runs/{approval}/events", headers={"Accept": "text/event-stream", "Last-Event-ID": "1"}),
    ],
    ("GET", "/v1/org"): [Case("/v1/org", 200)],
    ("POST", "/v1/api-keys"): [Case("/v1/api-keys", 201, {"name": "b-key"})],
    ("GET", "/v1/api-keys"): [Case("/v1/api-keys", "invalid_cursor", cursor=True)],
    ("DELETE", "/v1/api-keys/{key_id}"): [Case("/v1/api-keys/{key_id}")],
    ("POST", "/v1/admin/orgs"): [Case("/v1/admin/orgs", 403, {"name": "b-made"})],
    ("PATCH", "/v1/admin/orgs/{org_id}"): [
        Case("/v1/admin/orgs/{a_org}", 403, {"credits_balance": 10**9}),
        Case("/v1/admin/orgs/{b_org}", 403, {"credits_balance": 10**9}),
    ],
    ("GET", "/v1/health"): [Case("/v1/health", 200)],
    ("GET", "/v1/openapi.json"): [Case("/v1/openapi.json", 200)],
    ("GET", "/v1/docs"): [Case("/v1/docs", 200)],
    ("POST", "/v1/files"): [Case("/v1/files", 201)],  # multipart; sent by `call`
    ("POST", "/v1/files/uploads"): [
        Case("/v1/files/uploads", 201, {"name": "b.pdf", "content_type": "application/pdf", "size_bytes": 10})
    ],
    ("GET", "/v1/files/{file_id}"): [Case("/v1/files/{file}")],
    # the threads/runs dialect (/dialects/tr/v1): the same 404s, problem+json
    ("POST", "/dialects/tr/v1/threads/{thread_id}/runs"): [
        Case("/dialects/tr/v1/threads/{thread}/runs", body={}),
        Case("/dialects/tr/v1/threads/{thread}/runs", body={"persona_id": "{b_agent}"}),
        Case("/dialects/tr/v1/threads/{b_thread}/runs", body={"persona_id": "{agent}"}),
    ],
    ("GET", "/dialects/tr/v1/threads/{thread_id}/runs"): [Case("/dialects/tr/v1/threads/{thread}/runs")],
    ("GET", "/dialects/tr/v1/runs"): [Case("/dialects/tr/v1/runs", 200, query={"before": "{completed}"})],
    ("GET", "/dialects/tr/v1/runs/{run_id}"): [
        Case("/dialects/tr/v1/runs/{" + name + "}") for name in ("completed", "approval", "thread_run")
    ],
    ("POST", "/dialects/tr/v1/runs/{run_id}"): [
        Case("/dialects/tr/v1/runs/{approval}:cancel"),
        Case("/dialects/tr/v1/runs/{cancelled}:cancel"),
    ],
    ("POST", "/dialects/tr/v1/runs/{run_id}/input"): [
        Case("/dialects/tr/v1/runs/{input}/input", body={"content": "from b"}),
        Case("/dialects/tr/v1/runs/{approval}/input", body={"content": "approve"}),
    ],
    ("GET", "/dialects/tr/v1/runs/{run_id}/events"): [
        Case("/dialects/tr/v1/runs/{completed}/events", query={"wait": "1"}),
        Case("/dialects/tr/v1/runs/{approval}/events", query={"after_seq": "1", "wait": "1"}),
    ],
    # Ziet (/dialects/ziet/v1): 404 {error: not_found, message}
    ("POST", "/dialects/ziet/v1/runs"): [
        Case("/dialects/ziet/v1/runs", body={"agent_id": "{agent}"}),
        Case("/dialects/ziet/v1/runs", body={"agent_id": "{agent_name}"}),
    ],
    ("GET", "/dialects/ziet/v1/runs/{run_id}"): [
        Case("/dialects/ziet/v1/runs/{" + name + "}") for name in ("completed", "created", "approval")
    ],
    ("POST", "/dialects/ziet/v1/runs/{run_id}/invoke"): [Case("/dialects/ziet/v1/runs/{created}/invoke")],
    # Kognitos (/dialects/kognitos/v2): 404 {status_code, message, details}
    ("POST", "/dialects/kognitos/v2/runs"): [
        Case("/dialects/kognitos/v2/runs", body=kognitos_run("{agent}")),
        Case("/dialects/kognitos/v2/runs", body={**kognitos_run("{b_agent}"), "file_ids": ["{file}"]}),
    ],
    ("GET", "/dialects/kognitos/v2/runs"): [
        Case("/dialects/kognitos/v2/runs", query={"process_id": "{agent}", "agent_id": "{agent}"}),
        Case(
            "/dialects/kognitos/v2/runs",
            "invalid_cursor",
            query={"process_id": "{b_agent}", "agent_id": "x", "continuation_token": "{runs_cursor}"},
        ),
    ],
    ("GET", "/dialects/kognitos/v2/runs/{run_id}"): [
        Case("/dialects/kognitos/v2/runs/{completed}"),
        Case("/dialects/kognitos/v2/runs/{completed_ulid}"),
    ],
    # Roe AI (/dialects/roe): 404 {message}
    ("POST", "/dialects/roe/v1/agents/run/{agent_id}"): [
        Case("/dialects/roe/v1/agents/run/{agent}/", body={}),
        Case("/dialects/roe/v1/agents/run/{agent_name}", body={"inputs": {"x": "1"}}),
    ],
    # Appstrate (/dialects/appstrate): 404 problem+json with Appstrate's members
    ("POST", "/dialects/appstrate/api/agents/{scope}/{name}/run"): [
        Case("/dialects/appstrate/api/agents/@iso/{scoped_agent}/run", body={}),
        Case("/dialects/appstrate/api/agents/@b/{b_scoped_agent}/run", body={"thread_id": "{thread}"}),
        Case("/dialects/appstrate/api/agents/@b/{b_scoped_agent}/run", body={"file_ids": ["{file}"]}),
    ],
    # OpenAI Responses (/dialects/openai/v1): 404 {error: {message, type, param, code}}
    ("POST", "/dialects/openai/v1/responses"): [
        Case("/dialects/openai/v1/responses", body={"model": "{agent}", "input": "hi"}),
        Case(
            "/dialects/openai/v1/responses",
            body={"model": "{b_agent}", "input": "hi", "previous_response_id": "{completed}"},
        ),
        Case(
            "/dialects/openai/v1/responses",
            body={"model": "{b_agent}", "input": "approve", "previous_response_id": "{approval}"},
        ),
    ],
    ("GET", "/dialects/openai/v1/responses/{response_id}"): [
        Case("/dialects/openai/v1/responses/{completed}"),
        Case("/dialects/openai/v1/responses/{approval}", query={"stream": "true", "starting_after": "1"}),
    ],
    ("DELETE", "/dialects/openai/v1/responses/{response_id}"): [
        Case("/dialects/openai/v1/responses/{" + name + "}") for name in ("completed", "input")
    ],
    ("POST", "/dialects/openai/v1/responses/{response_id}/cancel"): [
        Case("/dialects/openai/v1/responses/{approval}/cancel")
    ],
    # Agent Protocol / LangGraph (/dialects/langgraph): 404 {detail, code}
    ("POST", "/dialects/langgraph/assistants/search"): [
        Case("/dialects/langgraph/assistants/search", 200, body={"graph_id": "{agent_name}"})
    ],
    ("GET", "/dialects/langgraph/assistants/{assistant_id}"): [
        Case("/dialects/langgraph/assistants/{agent}")
    ],
    ("POST", "/dialects/langgraph/threads"): [Case("/dialects/langgraph/threads", 200, body={})],
    ("GET", "/dialects/langgraph/threads/{thread_id}"): [Case("/dialects/langgraph/threads/{thread}")],
    ("GET", "/dialects/langgraph/threads/{thread_id}/state"): [
        Case("/dialects/langgraph/threads/{thread}/state")
    ],
    ("POST", "/dialects/langgraph/threads/{thread_id}/runs"): [
        Case("/dialects/langgraph/threads/{thread}/runs", body={"assistant_id": "{b_agent}"}),
        Case("/dialects/langgraph/threads/{thread}/runs", body={"command": {"resume": True}}),
    ],
    ("GET", "/dialects/langgraph/threads/{thread_id}/runs"): [
        Case("/dialects/langgraph/threads/{thread}/runs")
    ],
    ("POST", "/dialects/langgraph/threads/{thread_id}/runs/wait"): [
        Case("/dialects/langgraph/threads/{thread}/runs/wait", body={"assistant_id": "{b_agent}"})
    ],
    ("POST", "/dialects/langgraph/threads/{thread_id}/runs/stream"): [
        Case("/dialects/langgraph/threads/{thread}/runs/stream", body={"assistant_id": "{b_agent}"})
    ],
    ("GET", "/dialects/langgraph/threads/{thread_id}/runs/{run_id}"): [
        Case("/dialects/langgraph/threads/{thread}/runs/{thread_run}")
    ],
    ("POST", "/dialects/langgraph/threads/{thread_id}/runs/{run_id}/cancel"): [
        Case("/dialects/langgraph/threads/{thread}/runs/{thread_run}/cancel")
    ],
    ("GET", "/dialects/langgraph/threads/{thread_id}/runs/{run_id}/join"): [
        Case("/dialects/langgraph/threads/{thread}/runs/{thread_run}/join")
    ],
    ("GET", "/dialects/langgraph/threads/{thread_id}/runs/{run_id}/stream"): [
        Case("/dialects/langgraph/threads/{thread}/runs/{thread_run}/stream")
    ],
}
# Last: after it, B has an agent of its own under A's agent's name (so `agent_name` then resolves to B's).
CASES[("POST", "/v1/agents")] = CASES.pop(("POST", "/v1/agents"))


# The dialects with their own error bodies: where each puts our error code.
DIALECT_ERROR_CODES: dict[str, Callable[[Any], str]] = {
    "/dialects/ziet/": lambda body: body["error"],
    "/dialects/kognitos/": lambda body: next(d["value"] for d in body["details"] if d["name"] == "code"),
    # Roe's bodies carry no code (only the status says it): a body of exactly {message} stands for it.
    "/dialects/roe/": lambda body: "not_found" if list(body) == ["message"] else str(body),
    "/dialects/appstrate/": lambda body: body["code"],
    "/dialects/openai/": lambda body: body["error"]["code"],
    "/dialects/langgraph/": lambda body: body["code"],
}


def error_code(path: str, response) -> str:
    for base, code_of in DIALECT_ERROR_CODES.items():
        if path.startswith(base):
            return code_of(response.json())
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    return str(response.json()["code"])


def call(world: World, route: tuple[str, str], case: Case):
    method, template_path = route
    ids = {
        **world.ids,
        "a_org": world.a_org,
        "b_org": world.b_org,
        "runs_cursor": world.cursors["/v1/runs"],
        "completed_ulid": world.ids["completed"].removeprefix("run_"),
    }
    query = fill(dict(case.query or {}), ids)
    if case.cursor:
        query |= {"limit": "1", "cursor": world.cursors[template_path]}
    if route == ("POST", "/v1/files"):
        return upload(world.b)
    return world.b.request(
        method, fill(case.path, ids), json=fill(case.body, ids), query=query or None, headers=case.headers
    )


def snapshot(a: ApiClient, ids: dict[str, str]) -> dict[str, Any]:
    """Everything of A's that B might have changed, as A sees it."""
    reads = [
        "/v1/org",
        "/v1/agents?",
        "/v1/api-keys?",
        "/v1/runs?",
        "/v1/threads?",
        f"/v1/agents/{ids['agent']}",
        f"/v1/agents/{ids['agent']}/versions",
        f"/v1/agents/{ids['agent']}/versions/0.1.0",
        f"/v1/runs/{ids['created']}/memory",
        f"/v1/runs/{ids['completed']}/steps",
        f"/v1/threads/{ids['thread']}",
        f"/v1/threads/{ids['thread']}/runs",
        f"/v1/threads/{ids['thread']}/messages",
        f"/v1/threads/{ids['thread']}/memory",
    ]
    for name in ("completed", "approval", "input", "created", "cancelled", "thread_run"):
        reads += [f"/v1/runs/{ids[name]}", f"/v1/runs/{ids[name]}/events"]
    state: dict[str, Any] = {}
    for path in reads:
        query = (
            {"limit": "100"}
            if path.endswith("?") or path.endswith(("versions", "steps", "runs", "messages"))
            else None
        )
        state[path] = ok(a.get(path.rstrip("?"), query=query))
    file = ok(a.get(f"/v1/files/{ids['file']}"))
    state["file"] = {k: v for k, v in file.items() if not k.startswith("download_url")}
    return state


# --------------------------------------------------------------------------------------- the tests


def test_every_route_has_a_case():
    routes = template_routes()
    assert len(routes) >= 40
    assert routes == set(CASES), {"no case": routes - set(CASES), "no route": set(CASES) - routes}
    assert all(CASES.values())


def test_another_org_gets_404_on_every_route_and_changes_nothing(world: World):
    before = snapshot(world.a, world.ids)
    seen: list[str] = []
    for route, cases in CASES.items():
        for case in cases:
            response = call(world, route, case)
            where = (route, case.path, case.body, response.status, response.text[:300])
            assert response.status < 500 and response.status not in (401,), where
            if case.expect == "invalid_cursor":
                assert response.status == 400 and error_code(route[1], response) == "invalid_cursor", where
            elif case.expect == 404:
                assert response.status == 404, where
                assert error_code(route[1], response) == "not_found", where
            elif case.expect == 403:
                assert response.status == 403 and response.json()["code"] == "forbidden", where
            else:
                assert response.status == case.expect, where
            assert world.ids["agent"] not in response.text or case.expect == 404, where
            seen.append(route[1])
    # B's own lists hold none of A's things, and filtering them by A's ids finds nothing
    text = "".join(
        world.b.get(path, query={"limit": "100"}).text
        for path in ("/v1/agents", "/v1/runs", "/v1/threads", "/v1/api-keys")
    )
    for name in ("agent", "completed", "approval", "thread", "key_id", "file"):
        assert world.ids[name] not in text, name
    for query in (
        {"thread_id": world.ids["thread"]},
        {"agent": world.ids["agent"]},
        {"agent": world.ids["agent_name"]},
    ):
        page = ok(world.b.get("/v1/runs", query=query))
        assert page["items"] == [] and page["next_cursor"] is None, query

    after = snapshot(world.a, world.ids)
    for path in before:
        assert after[path] == before[path], path
    assert ok(world.a.get("/v1/org"))["credits_balance"] == before["/v1/org"]["credits_balance"]


def test_a_key_of_another_org_cannot_be_revoked_nor_used_to_read(world: World):
    keys = ok(world.a.get("/v1/api-keys", query={"limit": "100"}))["items"]
    assert all(key["revoked_at"] is None for key in keys)
    assert world.b.delete(f"/v1/api-keys/{world.ids['key_id']}").status == 404
    assert ok(world.a.get("/v1/api-keys", query={"limit": "100"}))["items"] == keys


def test_org_id_header_of_another_org_is_403(world: World):
    response = world.b.get(f"/v1/runs/{world.ids['completed']}", headers={"X-Org-Id": world.a_org})
    assert response.status == 403 and response.json()["code"] == "forbidden"


class Frames:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def post(self, connection_id: str, data: bytes) -> None:
        self.sent.append((connection_id, json.loads(data)))


def test_websocket_subscribe_to_another_orgs_run_is_refused(world: World):
    connection_id = f"conn-{uuid.uuid4().hex[:12]}"
    frames = Frames()

    def send(route: str, body: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        event = {"requestContext": {"routeKey": route, "connectionId": connection_id}, **extra}
        if body is not None:
            event["body"] = json.dumps(body)
        return websocket.handle(event, poster=frames)

    assert send("$connect", queryStringParameters={"api_key": world.b.key})["statusCode"] == 200
    for run in ("completed", "approval"):
        send("subscribe", {"action": "subscribe", "run_id": world.ids[run], "after_seq": 0})
        assert frames.sent[-1][1]["type"] == "error" and frames.sent[-1][1]["code"] == "not_found"
        assert connection_id not in websocket.connections().subscribers(world.ids[run])
    assert all(
        world.ids["completed"] not in json.dumps(frame) or frame["type"] == "error"
        for _, frame in frames.sent
    )
    # the same connection may subscribe to its own org's run (the refusal above is about the org)
    send("subscribe", {"action": "subscribe", "run_id": world.ids["b_run"], "after_seq": 0})
    types = [frame.get("type") for _, frame in frames.sent]
    assert "subscribed" in types and "run.completed" in types
    send("$disconnect")
    # A's key on $connect, the admin key refused (it has no org)
    assert send("$connect", queryStringParameters={"api_key": world.b.stack.admin_key})["statusCode"] == 401
