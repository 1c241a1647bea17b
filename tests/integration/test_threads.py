"""Threads (docs/api.md §5): turn-taking (enqueue / reject), messages, shared memory, tenancy."""

import itertools
import threading
from types import SimpleNamespace

from tests.integration.helpers import (
    MEMORY_GET,
    MEMORY_SET,
    agent_with,
    asker_agent,
    held_thread,
    new_thread,
    steps_of,
    thread_run,
    until_idle,
    wait,
)


def test_thread_create_get_list(api, make_org):
    thread = new_thread(api, metadata={"customer": "acme"})
    assert thread["id"].startswith("thr_") and thread["object"] == "thread"
    assert thread["status"] == "idle" and thread["metadata"] == {"customer": "acme"}
    assert api.get(f"/v1/threads/{thread['id']}").json() == thread
    second = new_thread(api)
    page = api.get("/v1/threads", query={"limit": 1}).json()
    assert [item["id"] for item in page["items"]] == [second["id"]]
    rest = api.get("/v1/threads", query={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert rest["items"][0]["id"] == thread["id"]

    other = make_org()
    assert other.api.get(f"/v1/threads/{thread['id']}").status == 404
    assert other.api.post(f"/v1/threads/{thread['id']}/runs", json={"agent": "demo"}).status == 404
    assert other.api.get(f"/v1/threads/{thread['id']}/messages").status == 404
    assert other.api.get(f"/v1/threads/{thread['id']}/memory").status == 404
    assert (
        other.api.get("/v1/threads", query={"cursor": page["next_cursor"]}).json()["code"] == "invalid_cursor"
    )
    assert api.post("/v1/threads", json={"status": "busy"}).json()["code"] == "validation_error"


def test_messages_in_order_and_runs_listed(api):
    agent = agent_with(api, [{"text": "Hello Ada."}])
    thread = new_thread(api)
    created = thread_run(api, thread["id"], agent, message="Hi, I am Ada.")
    assert created.status == 201, created.text
    first = created.json()
    assert first["run_id"] == first["id"] and first["thread_id"] == thread["id"]
    assert wait(api, first["id"])["status"] == "completed"
    second = thread_run(api, thread["id"], agent, message="What is my name?").json()
    assert wait(api, second["id"])["status"] == "completed"

    messages = api.get(f"/v1/threads/{thread['id']}/messages").json()["items"]
    assert [(m["role"], m["content"], m["run_id"]) for m in messages] == [
        ("user", "Hi, I am Ada.", first["id"]),
        ("assistant", "Hello Ada.", first["id"]),
        ("user", "What is my name?", second["id"]),
        ("assistant", "Hello Ada.", second["id"]),
    ]
    page = api.get(f"/v1/threads/{thread['id']}/messages", query={"limit": 3}).json()
    after = api.get(f"/v1/threads/{thread['id']}/messages", query={"cursor": page["next_cursor"]}).json()
    assert [m["id"] for m in page["items"] + after["items"]] == [m["id"] for m in messages]

    runs = api.get(f"/v1/threads/{thread['id']}/runs").json()["items"]
    assert [run["id"] for run in runs] == [second["id"], first["id"]]
    assert (
        api.get("/v1/runs", query={"thread_id": thread["id"], "status": "completed"}).json()["items"] == runs
    )
    # the thread route is the thread: a different thread_id in the body is refused
    other_thread = new_thread(api)["id"]
    conflicting = api.post(
        f"/v1/threads/{thread['id']}/runs", json={"agent": agent, "thread_id": other_thread}
    )
    assert conflicting.status == 400


def test_busy_thread_rejects_or_enqueues(api):
    """A run waiting for input holds the thread: `reject` is 409, `enqueue` waits and starts after it."""
    quick = agent_with(api, [{"text": "done"}])
    thread, holder = held_thread(api, asker_agent(api))
    busy = api.get(f"/v1/threads/{thread['id']}").json()
    assert busy["status"] == "busy" and busy["active_run_id"] == holder["id"]

    rejected = thread_run(api, thread["id"], quick, multitask_strategy="reject")
    assert rejected.status == 409 and rejected.json()["code"] == "thread_busy"
    runs = api.get(f"/v1/threads/{thread['id']}/runs").json()["items"]
    assert [run["id"] for run in runs] == [holder["id"]]  # the rejected run was not created

    queued = thread_run(api, thread["id"], quick, message="next").json()
    cancelled = thread_run(api, thread["id"], quick).json()
    last = thread_run(api, thread["id"], quick).json()
    assert api.get(f"/v1/threads/{thread['id']}").json()["queued_run_ids"] == [
        queued["id"],
        cancelled["id"],
        last["id"],
    ]
    assert api.post(f"/v1/runs/{cancelled['id']}/cancel").status == 200
    assert api.post(f"/v1/runs/{queued['id']}/wait", query={"timeout": 1}).json()["status"] == "queued"

    assert api.post(f"/v1/runs/{holder['id']}/input", json={"content": "go"}).status == 200
    assert wait(api, holder["id"])["status"] == "completed"
    assert wait(api, queued["id"])["status"] == "completed"
    assert wait(api, last["id"])["status"] == "completed"  # the cancelled one was skipped
    assert api.get(f"/v1/runs/{cancelled['id']}").json()["status"] == "cancelled"
    finished = [run for run in (holder, queued, last)]
    started = [api.get(f"/v1/runs/{run['id']}").json()["started_at"] for run in finished]
    completed = [api.get(f"/v1/runs/{run['id']}").json()["completed_at"] for run in finished]
    assert started[1] >= completed[0] and started[2] >= completed[1]  # one at a time, in order
    idle = until_idle(api, thread["id"])
    assert idle["status"] == "idle" and idle["queued_run_ids"] == []


def test_a_thread_is_free_as_soon_as_its_run_has_ended(api, monkeypatch):
    """The event router hands a thread on after its run's end; a run created before it has (a client
    that saw the first run end) is not refused: the request hands the thread over itself."""
    from runs_core.logic import follow_up

    monkeypatch.setattr(follow_up, "threads", SimpleNamespace(hand_over=lambda *_: None))  # a late router
    quick = agent_with(api, [{"text": "done"}])
    thread = new_thread(api)
    first = thread_run(api, thread["id"], quick).json()
    assert wait(api, first["id"])["status"] == "completed"
    assert api.get(f"/v1/threads/{thread['id']}").json()["active_run_id"] == first["id"]  # not handed on
    second = thread_run(api, thread["id"], quick, multitask_strategy="reject")
    assert second.status == 201, second.text
    assert wait(api, second.json()["id"])["status"] == "completed"


def test_concurrent_runs_on_an_idle_thread_take_turns(api):
    """Six runs created at once on an idle thread: one holds it, the others queue; all complete."""
    agent = agent_with(api, [{"text": "done"}])
    thread = new_thread(api)
    results = []
    barrier = threading.Barrier(6)

    def create():
        barrier.wait()
        results.append(thread_run(api, thread["id"], agent))

    workers = [threading.Thread(target=create) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(response.status for response in results) == [201] * 6
    for response in results:
        assert wait(api, response.json()["id"])["status"] == "completed"
    runs = [api.get(f"/v1/runs/{r.json()['id']}").json() for r in results]
    spans = sorted((run["started_at"], run["completed_at"]) for run in runs)
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))


def test_thread_memory_is_shared_by_its_runs(api):
    writer = agent_with(
        api,
        [
            {"tool_calls": [{"name": "memory_set", "arguments": {"key": "plan", "value": "gold"}}]},
            {"text": "saved"},
        ],
        [MEMORY_SET],
    )
    reader = agent_with(
        api,
        [{"tool_calls": [{"name": "memory_get", "arguments": {"key": "plan"}}]}, {"text": "read"}],
        [MEMORY_GET],
    )
    thread = new_thread(api)
    first = thread_run(api, thread["id"], writer).json()
    assert wait(api, first["id"])["status"] == "completed"
    assert api.get(f"/v1/threads/{thread['id']}/memory").json() == {"items": {"plan": "gold"}}
    assert api.get(f"/v1/runs/{first['id']}/memory").json() == {"items": {"plan": "gold"}}
    second = thread_run(api, thread["id"], reader).json()
    assert wait(api, second["id"])["status"] == "completed"
    action = next(step for step in steps_of(api, second["id"]) if step["type"] == "action")
    assert "gold" in str(action["output"])

    assert api.put(f"/v1/threads/{thread['id']}/memory/tier", json={"value": 2}).status == 200
    assert api.delete(f"/v1/threads/{thread['id']}/memory/plan").status == 204
    assert api.get(f"/v1/threads/{thread['id']}/memory").json() == {"items": {"tier": 2}}
    assert api.delete(f"/v1/threads/{thread['id']}/memory/plan").status == 404


def test_unknown_thread_on_run_creation_is_404_and_creates_nothing(api):
    before = api.get("/v1/runs", query={"limit": 1}).json()["items"]
    response = api.post("/v1/runs", json={"agent": "demo", "thread_id": "thr_01JZZZZZZZZZZZZZZZZZZZZZZZ"})
    assert response.status == 404 and response.json()["code"] == "not_found"
    assert api.get("/v1/runs", query={"limit": 1}).json()["items"] == before


def test_created_run_in_a_thread_waits_for_its_turn_when_invoked(api):
    quick = agent_with(api, [{"text": "done"}])
    thread = new_thread(api)
    later = thread_run(api, thread["id"], quick, start=False).json()
    holder = thread_run(api, thread["id"], asker_agent(api)).json()
    assert wait(api, holder["id"])["status"] == "waiting_for_input"
    invoked = api.post(f"/v1/runs/{later['id']}/invoke")
    assert invoked.status == 200 and invoked.json()["status"] == "queued"
    assert api.get(f"/v1/threads/{thread['id']}").json()["queued_run_ids"] == [later["id"]]
    api.post(f"/v1/runs/{holder['id']}/cancel")
    assert wait(api, later["id"])["status"] == "completed"


def test_runs_carry_a_trace_id_and_thread_runs_return_it(api):
    """The run object has `trace_id` (the X-Ray trace of the request that created it), and
    POST /v1/threads/{id}/runs answers {run_id, trace_id, …run}: without an X-Ray trace header (locally)
    the run still gets one, in X-Ray's format."""
    import re

    thread = new_thread(api)
    response = thread_run(api, thread["id"], "demo")
    assert response.status == 201, response.text
    created = response.json()
    assert created["run_id"] == created["id"]
    assert re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", created["trace_id"] or ""), created["trace_id"]
    assert api.get(f"/v1/runs/{created['id']}").json()["trace_id"] == created["trace_id"]
    direct = api.post("/v1/runs", json={"agent": "demo"}).json()
    assert direct["trace_id"] and direct["trace_id"] != created["trace_id"]


def test_a_run_queues_on_a_thread_however_many_others_queue_first(api, monkeypatch):
    """A failed turn write means another run took its turn first (progress), so a creation keeps trying:
    here more runs than a plain write's MAX_WRITE_ATTEMPTS queue on the thread, each just before this one
    writes (creation's own bound is threads.MAX_TURN_ATTEMPTS)."""
    from runs_core.changes import ThreadTurn
    from runs_core.logic.run_writes import MAX_WRITE_ATTEMPTS
    from runs_core.stores import get_stores

    thread, holder = held_thread(api, asker_agent(api))
    org_id = api.get("/v1/org").json()["id"]
    stores = get_stores()
    real_create = stores.runs.create
    others = [f"run_other{n}" for n in range(MAX_WRITE_ATTEMPTS + 2)]
    pending = list(others)

    def others_queue_first(run, change, *args):
        if change.turn is not None and pending:  # another creation's turn lands just before this one's
            current = stores.threads.get(org_id, thread["id"], consistent=True)
            stores.threads.set_turn(ThreadTurn(current, holder["id"], [*current["queue"], pending.pop(0)]))
        return real_create(run, change, *args)

    monkeypatch.setattr(stores.runs, "create", others_queue_first)
    response = thread_run(api, thread["id"], asker_agent(api))
    assert response.status == 201, response.json()
    after = stores.threads.get(org_id, thread["id"], consistent=True)
    assert after["active_run_id"] == holder["id"]
    assert after["queue"] == [*others, response.json()["id"]]
