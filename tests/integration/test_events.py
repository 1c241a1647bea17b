"""The event log over HTTP (docs/api.md §6): polling pages and buffered Server-Sent Events."""

import json

import pytest

from tests.integration.helpers import ASK, TERMINAL_EVENTS, agent_with, start, wait

SSE = {"Accept": "text/event-stream"}


def make_agent(api, script, actions=()):
    """An agent of this module: a scripted model without a price."""
    return agent_with(api, script, actions, price=None, prefix="events")


def events(api, run_id, **query):
    response = api.get(f"/v1/runs/{run_id}/events", query=query)
    assert response.status == 200, response.text
    return response.json()


def frames(text):
    """SSE text → (frames as dicts of field → value, comment lines, retry values)."""
    parsed, comments, retries = [], [], []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.split("\n"):
            if not line:
                continue
            if line.startswith(":"):
                comments.append(line)
                continue
            name, _, value = line.partition(": ")
            if name == "retry":
                retries.append(int(value))
            else:
                fields[name] = value
        if fields:
            parsed.append(fields)
    return parsed, comments, retries


@pytest.fixture(scope="module")
def completed_run(stack):
    from tests.integration.conftest import ApiClient

    api = ApiClient(stack, stack.dev_key)
    agent = make_agent(api, [{"text": "Hello there."}])
    run_id = start(api, agent)["id"]
    assert wait(api, run_id)["status"] == "completed"
    return run_id


def test_polling_returns_contiguous_seqs_from_one(api, completed_run):
    page = events(api, completed_run, limit=1000)
    assert page["object"] == "list" and page["run_status"] == "completed"
    seqs = [item["seq"] for item in page["items"]]
    assert seqs == list(range(1, len(seqs) + 1))
    types = [item["type"] for item in page["items"]]
    assert types[:3] == ["run.created", "run.queued", "run.started"] and types[-1] == "run.completed"
    assert page["next_after_seq"] == seqs[-1]
    for item in page["items"]:
        assert set(item) == {"seq", "type", "run_id", "data", "created_at"}
        assert item["run_id"] == completed_run
    assert page["items"][-1]["data"]["status"] == "completed"


def test_paging_with_after_seq_and_limit(api, completed_run):
    everything = events(api, completed_run, limit=1000)["items"]
    collected, after = [], 0
    for _ in range(len(everything) + 1):
        page = events(api, completed_run, after_seq=after, limit=2)
        assert len(page["items"]) <= 2
        if not page["items"]:
            assert page["next_after_seq"] == after  # nothing new: stay where you are
            break
        collected.extend(page["items"])
        after = page["next_after_seq"]
        assert after == page["items"][-1]["seq"]
    assert collected == everything
    assert events(api, completed_run)["items"] == everything[:100]  # default limit 100


def test_starting_after_is_an_alias(api, completed_run):
    by_after = events(api, completed_run, after_seq=2, limit=3)
    assert [item["seq"] for item in by_after["items"]] == [3, 4, 5]
    assert events(api, completed_run, starting_after=2, limit=3) == by_after
    assert events(api, completed_run, starting_after=2, after_seq=2, limit=3) == by_after
    conflict = api.get(f"/v1/runs/{completed_run}/events", query={"after_seq": 1, "starting_after": 2})
    assert conflict.status == 400 and conflict.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    "query",
    [{"after_seq": "-1"}, {"after_seq": "abc"}, {"starting_after": "x"}, {"limit": "0"}, {"limit": "1001"}],
)
def test_bad_parameters_are_400(api, completed_run, query):
    response = api.get(f"/v1/runs/{completed_run}/events", query=query)
    assert response.status == 400, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_error"


def test_another_orgs_run_is_404(api, make_org, completed_run):
    other = make_org()
    for headers in ({}, SSE):
        response = other.api.get(f"/v1/runs/{completed_run}/events", headers=headers)
        assert response.status == 404, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.json()["code"] == "not_found"
    missing = api.get("/v1/runs/run_doesnotexist/events", headers=SSE)
    assert missing.status == 404 and missing.json()["code"] == "not_found"


def test_bad_key_is_401(api, completed_run):
    for headers in ({}, SSE):
        response = api.get(f"/v1/runs/{completed_run}/events", headers=headers, key="sk_test_nope")
        assert response.status == 401


def test_sse_buffered_body_ends_with_the_terminal_event(api, completed_run):
    everything = events(api, completed_run, limit=1000)["items"]
    response = api.get(f"/v1/runs/{completed_run}/events", headers=SSE)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["Cache-Control"] == "no-cache"
    parsed, _, retries = frames(response.text)
    assert retries == []  # it ended with the run, not with the wait
    assert [int(frame["id"]) for frame in parsed] == [item["seq"] for item in everything]
    assert [frame["event"] for frame in parsed] == [item["type"] for item in everything]
    assert [json.loads(frame["data"]) for frame in parsed] == everything
    assert parsed[-1]["event"] in TERMINAL_EVENTS
    assert response.text.endswith("\n\n")


def test_sse_resumes_after_last_event_id_or_after_seq(api, completed_run):
    everything = events(api, completed_run, limit=1000)["items"]
    for headers, query in (
        ({**SSE, "Last-Event-ID": "3"}, {}),
        (SSE, {"after_seq": 3}),
        (SSE, {"starting_after": 3}),
        ({**SSE, "Last-Event-ID": "1"}, {"after_seq": 3}),  # the query parameter wins
    ):
        response = api.get(f"/v1/runs/{completed_run}/events", headers=headers, query=query)
        assert response.status == 200, response.text
        parsed, _, _ = frames(response.text)
        assert [int(frame["id"]) for frame in parsed] == [item["seq"] for item in everything[3:]]
    # Resuming after the terminal event: nothing more will come, so the stream ends at once.
    last = str(everything[-1]["seq"])
    done = api.get(f"/v1/runs/{completed_run}/events", headers={**SSE, "Last-Event-ID": last})
    assert done.status == 200 and frames(done.text) == ([], [], [])
    bad = api.get(f"/v1/runs/{completed_run}/events", headers={**SSE, "Last-Event-ID": "nope"})
    assert bad.status == 400 and bad.json()["code"] == "validation_error"


def test_sse_on_a_waiting_run_ends_after_wait_with_retry(api):
    agent = make_agent(
        api,
        [{"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "Which?"}}]}, {"text": "Ok."}],
        [ASK],
    )
    run_id = start(api, agent)["id"]
    assert wait(api, run_id)["status"] == "waiting_for_input"
    response = api.get(f"/v1/runs/{run_id}/events", headers=SSE, query={"wait": 0})
    assert response.status == 200
    parsed, _, retries = frames(response.text)
    assert parsed[-1]["event"] == "run.waiting_for_input" and retries == [1000]
    assert response.text.endswith("retry: 1000\n\n")
    seen = int(parsed[-1]["id"])
    assert api.post(f"/v1/runs/{run_id}/input", json={"content": "A"}).status == 200
    assert wait(api, run_id)["status"] == "completed"
    resumed = api.get(f"/v1/runs/{run_id}/events", headers={**SSE, "Last-Event-ID": str(seen)})
    more, _, retries = frames(resumed.text)
    assert int(more[0]["id"]) == seen + 1 and more[-1]["event"] == "run.completed" and retries == []
    too_long = api.get(f"/v1/runs/{run_id}/events", headers=SSE, query={"wait": 26})
    assert too_long.status == 400
