"""Run records: create, invoke, cancel, read, list with every filter (docs/api.md §4)."""

import threading
import time
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
    # The first decision asks the user, so a started run parks in waiting_for_input: runs here never
    # finish on their own, and their status only changes when a test changes it.
    definition = {
        "model": {
            "provider": "scripted",
            "script": [{"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "?"}}]}, {"text": "ok"}],
        },
        "actions": [{"name": "ask_user", "kind": "builtin"}],
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
    assert api.request("GET", f"/v1/runs/{created['id']}").json() == created
    fetched = api.request("GET", f"/v1/runs/{run['id']}").json()  # started: it moves on by itself
    fields = ("id", "agent_id", "agent_version", "input", "metadata", "created_by", "created_at")
    assert {key: fetched[key] for key in fields} == {key: run[key] for key in fields}


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
    waiting = api.request("POST", f"/v1/runs/{run['id']}/wait", query={"timeout": "20"}).json()
    assert waiting["status"] == "waiting_for_input"  # the invoke really started it
    again = api.request("POST", f"/v1/runs/{run['id']}/invoke")
    assert again.status == 409 and again.json()["code"] == "invalid_state"


def test_cancel_is_idempotent(api, agent):
    run = create(api, agent, start=False).json()
    cancelled = api.request("POST", f"/v1/runs/{run['id']}/cancel", json={"reason": "no longer needed"})
    assert cancelled.status == 200
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["cancelled_at"] and body["last_event_seq"] == 2
    assert (
        api.request("POST", f"/v1/runs/{run['id']}/wait", query={"timeout": "5"}).json() == body
    )  # it stays
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
        # Invoke won first (200; its execution may have written events before the cancel), or came
        # after the cancel (409: created 1, cancelled 2). Never an invoke that restarts a cancelled run.
        if results["invoke"] == 409:
            assert final["last_event_seq"] == 2
        else:
            assert results["invoke"] == 200 and final["last_event_seq"] >= 3


def test_list_filters_and_pages(api, agent):
    # Created runs, some then cancelled: statuses that stay put while the test lists them.
    ids = []
    for _ in range(5):
        ids.append(create(api, agent, start=False).json()["id"])
        time.sleep(0.002)  # distinct creation milliseconds, so the time filters have runs on both sides
    cancelled_ids = ids[1::2]
    for run_id in cancelled_ids:
        assert api.request("POST", f"/v1/runs/{run_id}/cancel").status == 200
    tagged = api.request(
        "POST",
        "/v1/runs",
        json={"agent": agent, "input": {"invoice_id": "X"}, "start": False},
        headers={"X-End-User": "eu-list"},
    ).json()["id"]
    ids.append(tagged)
    newest_first = sorted(ids, reverse=True)
    all_runs = api.request("GET", "/v1/runs", query={"agent": agent, "limit": "100"}).json()["items"]
    assert [run["id"] for run in all_runs] == newest_first

    seen, cursor = [], None
    while True:
        page = api.request("GET", "/v1/runs", query={"agent": agent, "limit": "2", "cursor": cursor}).json()
        assert len(page["items"]) <= 2
        seen += [run["id"] for run in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == newest_first

    cancelled = api.request("GET", "/v1/runs", query={"agent": agent, "status": "cancelled"}).json()["items"]
    assert [run["id"] for run in cancelled] == sorted(cancelled_ids, reverse=True)
    both = api.request("GET", "/v1/runs", query={"agent": agent, "status": "created,cancelled"}).json()[
        "items"
    ]
    assert [run["id"] for run in both] == newest_first
    paged_statuses, cursor = [], None
    while True:
        query = {"agent": agent, "status": "created,cancelled", "limit": "4", "cursor": cursor}
        page = api.request("GET", "/v1/runs", query=query).json()
        paged_statuses += [run["id"] for run in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert paged_statuses == newest_first  # the merged multi-status query pages without loss or repeats
    by_user = api.request("GET", "/v1/runs", query={"end_user": "eu-list"}).json()["items"]
    assert [run["id"] for run in by_user] == [tagged]

    middle = next(run for run in all_runs if run["id"] == ids[2])
    before = api.request("GET", "/v1/runs", query={"agent": agent, "created_before": middle["created_at"]})
    after = api.request("GET", "/v1/runs", query={"agent": agent, "created_after": middle["created_at"]})
    assert [run["id"] for run in before.json()["items"]] == sorted(ids[:2], reverse=True)
    assert [run["id"] for run in after.json()["items"]] == sorted(ids[3:], reverse=True)


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
