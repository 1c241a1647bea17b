"""Run records: create, invoke, cancel, read, list with every filter (API.md §4)."""

import threading
import uuid

import pytest

INPUT_SCHEMA = {
    "type": "object",
    "required": ["invoice_id"],
    "properties": {"invoice_id": {"type": "string"}},
}


@pytest.fixture
def agent(api):
    name = f"triage-{uuid.uuid4().hex[:10]}"
    definition = {
        "model": {"provider": "scripted", "script": [{"text": "ok"}]},
        "input_schema": INPUT_SCHEMA,
        "personas": {"formal": {"instructions": "Be formal."}},
        "limits": {"max_steps": 10, "max_tokens": 5000},
    }
    api.request("POST", "/v1/agents", json={"name": name, "version": "1.0.0", "definition": definition})
    api.request("POST", f"/v1/agents/{name}/versions", json={"version": "1.2.0", "definition": definition})
    return name


def create(api, agent, **body):
    return api.request("POST", "/v1/runs", json={"agent": agent, "input": {"invoice_id": "INV-1"}, **body})


def test_create_queued_and_created(api, agent):
    queued = create(api, agent, metadata={"source": "test"})
    assert queued.status == 201
    run = queued.json()
    assert run["status"] == "queued" and run["agent_version"] == "1.2.0" and run["last_event_seq"] == 2
    assert run["max_steps"] == 10 and run["metadata"] == {"source": "test"}
    assert run["created_by"]["api_key_id"].startswith("key_")
    created = create(api, agent, start=False, version="1.0.0").json()
    assert created["status"] == "created" and created["agent_version"] == "1.0.0"
    assert api.request("GET", f"/v1/runs/{run['id']}").json() == run


def test_inputs_list_spelling_and_end_user(api, agent):
    run = api.request(
        "POST",
        "/v1/runs",
        json={"agent": agent, "inputs": [{"name": "invoice_id", "value": "INV-9"}]},
        headers={"X-End-User": "user-7"},
    ).json()
    assert run["input"] == {"invoice_id": "INV-9"} and run["created_by"]["end_user_id"] == "user-7"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"input": {"invoice_id": 5}}, 400, "validation_error"),
        ({"input": {}}, 400, "validation_error"),
        ({"status": "completed"}, 400, "validation_error"),
        ({"usage": {"total_tokens": 1}}, 400, "validation_error"),
        ({"max_steps": 11}, 400, "validation_error"),
        ({"max_steps": 0}, 400, "validation_error"),
        ({"persona": "casual"}, 400, "validation_error"),
        ({"version": "^3"}, 400, "invalid_version_selector"),
        ({"version": "nightly"}, 400, "invalid_version_selector"),
        ({"version": "9.9.9"}, 400, "invalid_version_selector"),
        ({"agent": "no-such-agent"}, 404, "not_found"),
        ({"thread_id": "thr_01J000000000000000000000000"}, 404, "not_found"),
        ({"file_ids": ["file_01J000000000000000000000000"]}, 404, "not_found"),
    ],
)
def test_bad_run_requests_change_nothing(api, agent, body, status, code):
    before = api.request("GET", "/v1/runs", query={"agent": agent}).json()["items"]
    response = create(api, body.pop("agent", agent), **body)
    assert response.status == status and response.json()["code"] == code, response.json()
    assert api.request("GET", "/v1/runs", query={"agent": agent}).json()["items"] == before


def test_lower_limits_and_persona(api, agent):
    run = create(api, agent, max_steps=3, max_tokens=100, persona="formal").json()
    assert (run["max_steps"], run["max_tokens"], run["persona"]) == (3, 100, "formal")


def test_invoke_only_created_runs(api, agent):
    run = create(api, agent, start=False).json()
    invoked = api.request("POST", f"/v1/runs/{run['id']}/invoke")
    assert invoked.status == 200 and invoked.json()["status"] == "queued"
    again = api.request("POST", f"/v1/runs/{run['id']}/invoke")
    assert again.status == 409 and again.json()["code"] == "invalid_state"


def test_cancel_is_idempotent(api, agent):
    run = create(api, agent).json()
    cancelled = api.request("POST", f"/v1/runs/{run['id']}/cancel", json={"reason": "no longer needed"})
    assert cancelled.status == 200
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["cancelled_at"] and body["last_event_seq"] == 3
    again = api.request("POST", f"/v1/runs/{run['id']}/cancel")
    assert again.status == 200 and again.json() == body
    assert api.request("POST", f"/v1/runs/{run['id']}/invoke").status == 409


def test_concurrent_invoke_and_cancel_have_one_consistent_outcome(api, agent):
    """Real threads: invoke and cancel race on a created run; both outcomes are legal, never a mix."""
    for _ in range(10):
        run = create(api, agent, start=False).json()
        results: dict[str, int] = {}

        def call(action: str, run_id: str = run["id"], results: dict[str, int] = results) -> None:
            results[action] = api.request("POST", f"/v1/runs/{run_id}/{action}").status

        threads = [threading.Thread(target=call, args=(action,)) for action in ("invoke", "cancel")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = api.request("GET", f"/v1/runs/{run['id']}").json()
        assert final["status"] == "cancelled" and results["cancel"] == 200
        # created (seq 1): invoke either won first (queued: 2, cancelled: 3) or came after the cancel (409)
        assert (results["invoke"], final["last_event_seq"]) in ((200, 3), (409, 2))


def test_list_filters_and_pages(api, agent):
    ids = [
        create(
            api,
            agent,
            start=index % 2 == 0,
            **({}),
        ).json()["id"]
        for index in range(5)
    ]
    tagged = api.request(
        "POST",
        "/v1/runs",
        json={"agent": agent, "input": {"invoice_id": "X"}},
        headers={"X-End-User": "eu-list"},
    ).json()["id"]
    ids.append(tagged)
    all_runs = api.request("GET", "/v1/runs", query={"agent": agent, "limit": "100"}).json()["items"]
    assert [run["id"] for run in all_runs] == sorted(ids, reverse=True)  # newest first

    seen, cursor = [], None
    while True:
        page = api.request("GET", "/v1/runs", query={"agent": agent, "limit": "2", "cursor": cursor}).json()
        assert len(page["items"]) <= 2
        seen += [run["id"] for run in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(ids, reverse=True)

    created_only = api.request("GET", "/v1/runs", query={"agent": agent, "status": "created"}).json()["items"]
    assert {run["status"] for run in created_only} == {"created"} and len(created_only) == 2
    both = api.request("GET", "/v1/runs", query={"agent": agent, "status": "created,queued"}).json()["items"]
    assert [run["id"] for run in both] == sorted(ids, reverse=True)
    by_user = api.request("GET", "/v1/runs", query={"end_user": "eu-list"}).json()["items"]
    assert [run["id"] for run in by_user] == [tagged]

    middle = next(run for run in all_runs if run["id"] == ids[2])
    before = api.request(
        "GET", "/v1/runs", query={"agent": agent, "created_before": middle["created_at"]}
    ).json()["items"]
    assert all(run["created_at"] < middle["created_at"] for run in before)
    after = api.request(
        "GET", "/v1/runs", query={"agent": agent, "created_after": middle["created_at"]}
    ).json()
    assert all(run["created_at"] > middle["created_at"] for run in after["items"])


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"status": "running,bogus"},
        {"created_after": "yesterday"},
        {"cursor": "not-a-cursor"},
    ],
)
def test_bad_list_queries(api, query):
    response = api.request("GET", "/v1/runs", query=query)
    assert response.status == 400
    assert response.json()["code"] in ("validation_error", "invalid_cursor")


def test_cursor_bound_to_its_query(api, agent):
    for _ in range(3):
        create(api, agent)
    cursor = api.request("GET", "/v1/runs", query={"agent": agent, "limit": "1"}).json()["next_cursor"]
    other = api.request("GET", "/v1/runs", query={"status": "queued", "limit": "1", "cursor": cursor})
    assert other.status == 400 and other.json()["code"] == "invalid_cursor"


def test_no_credits_is_402(api, agent, make_org):
    org = make_org(credits=0)
    name = f"broke-{uuid.uuid4().hex[:8]}"
    definition = {"model": {"provider": "scripted", "script": [{"text": "x"}]}}
    api.request("POST", "/v1/agents", json={"name": name, "definition": definition}, key=org.key)
    response = api.request("POST", "/v1/runs", json={"agent": name}, key=org.key)
    assert response.status == 402 and response.json()["code"] == "insufficient_credits"
