"""Races with real threads: a cancel against a finishing step, many times (docs/architecture.md:
conditional writes)."""

import threading
import uuid

import boto3
from boto3.dynamodb.conditions import Key

from runs_core.changes import Change, NewEvent
from runs_core.execution import tasks
from runs_core.settings import get_settings
from runs_core.stores import get_stores
from tests.integration.conftest import GENEROUS_RATE_LIMITS
from tests.integration.helpers import (
    ASK,
    agent_with,
    assert_contiguous,
    new_thread,
    run_to_end,
    start,
    steps_of,
    thread_run,
    together,
    until_idle,
    wait,
)


def queued_without_execution(api, agent: str) -> str:
    """A queued run no state machine drives: the test calls the step handler itself."""
    run = api.request("POST", "/v1/runs", json={"agent": agent, "start": False}).json()
    record = get_stores().runs.get(run["id"], consistent=True)
    get_stores().runs.commit(
        record,
        Change({"status": "queued"}, [NewEvent("run.queued", {"status": "queued"})]),
        "2026-01-01T00:00:00.000Z",
        0,
    )
    return run["id"]


def event_log(run_id: str) -> list[dict]:
    table = boto3.resource("dynamodb").Table(get_settings().events_table)
    return table.query(KeyConditionExpression=Key("run_id").eq(run_id), ConsistentRead=True)["Items"]


def test_cancel_vs_finishing_step_50_times(api):
    name = f"race-{uuid.uuid4().hex[:8]}"
    definition = {"model": {"provider": "scripted", "script": [{"text": "finished"}]}}
    assert api.request("POST", "/v1/agents", json={"name": name, "definition": definition}).status == 201
    outcomes = {"completed": 0, "cancelled": 0}
    for _ in range(50):
        run_id = queued_without_execution(api, name)
        barrier = threading.Barrier(2)
        cancel_status: list[int] = []

        def step(run_id: str = run_id, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            tasks.handle_task({"action": "step", "run_id": run_id})

        def cancel(
            run_id: str = run_id, barrier: threading.Barrier = barrier, out: list = cancel_status
        ) -> None:
            barrier.wait()
            out.append(api.request("POST", f"/v1/runs/{run_id}/cancel").status)

        threads = [threading.Thread(target=step), threading.Thread(target=cancel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        run = api.request("GET", f"/v1/runs/{run_id}").json()
        events = event_log(run_id)
        types = [event["type"] for event in events]
        # seq is contiguous from 1 and matches the run; exactly one terminal event, and it is the last one
        assert [int(event["seq"]) for event in events] == list(range(1, run["last_event_seq"] + 1))
        terminal = [t for t in types if t in ("run.completed", "run.cancelled", "run.failed")]
        assert len(terminal) == 1 and types[-1] == terminal[0]
        if run["status"] == "completed":
            assert (
                cancel_status == [409]
                and terminal == ["run.completed"]
                and run["output"] == {"answer": "finished"}
            )
        else:
            assert run["status"] == "cancelled" and cancel_status == [200] and terminal == ["run.cancelled"]
            assert run["output"] is None  # the late step wrote nothing
        outcomes[run["status"]] += 1
    assert sum(outcomes.values()) == 50


# ------------------------------------------------------------------------ more races (issue 6, item 4)


def test_two_inputs_at_once_exactly_one_is_taken(api):

    agent = agent_with(
        api, [{"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "?"}}]}, {"text": "ok"}], [ASK]
    )
    for _ in range(3):
        run = start(api, agent)
        assert wait(api, run["id"])["status"] == "waiting_for_input"
        answers = [f"answer-{i}" for i in range(4)]
        statuses = together(
            *[
                (lambda a=answer, r=run["id"]: api.post(f"/v1/runs/{r}/input", json={"content": a}).status)
                for answer in answers
            ]
        )
        assert sorted(statuses) == [200, 409, 409, 409], statuses
        assert run_to_end(api, run["id"])["status"] == "completed"
        inputs = [step for step in steps_of(api, run["id"]) if step["type"] == "input"]
        assert len(inputs) == 1 and inputs[0]["output"]["content"] == answers[statuses.index(200)]
        _, types = assert_contiguous(api, run["id"])
        assert types.count("run.input_received") == 1 and types.count("run.completed") == 1


def test_cancel_the_queued_run_while_the_thread_is_handed_over(api):
    """Run A holds the thread (waiting for input), B and C are queued. A finishes while B is cancelled:
    whoever wins, nothing starts twice, C runs, and the thread ends idle."""

    asker = agent_with(
        api, [{"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "?"}}]}, {"text": "a"}], [ASK]
    )
    plain = agent_with(api, [{"text": "b"}])
    outcomes: dict[str, int] = {}
    for _ in range(4):
        thread = new_thread(api)
        first = thread_run(api, thread["id"], asker).json()
        assert wait(api, first["id"])["status"] == "waiting_for_input"
        second, third = (thread_run(api, thread["id"], plain).json() for _ in range(2))
        assert second["status"] == third["status"] == "queued"
        answered, cancelled = together(
            lambda f=first: api.post(f"/v1/runs/{f['id']}/input", json={"content": "go"}).status,
            lambda s=second: api.post(f"/v1/runs/{s['id']}/cancel", json={"reason": "race"}).status,
        )
        assert answered == 200 and cancelled in (200, 409)
        done = {run["id"]: run_to_end(api, run["id"]) for run in (first, second, third)}
        assert done[first["id"]]["status"] == "completed" and done[third["id"]]["status"] == "completed"
        assert done[second["id"]]["status"] == ("cancelled" if cancelled == 200 else "completed")
        assert until_idle(api, thread["id"])["status"] == "idle"
        for run_id in done:
            _, types = assert_contiguous(api, run_id)
            assert types.count("run.started") <= 1, (run_id, types)
        _, second_types = assert_contiguous(api, second["id"])
        started = "started" if "run.started" in second_types else "never started"
        key = f"{done[second['id']]['status']}/{started}"
        outcomes[key] = outcomes.get(key, 0) + 1
    # The cancel wins while B is queued (never started) or once it runs, or loses (409) to B's end; a run
    # that completed was started; a cancelled one never also completed.
    assert sum(outcomes.values()) == 4 and set(outcomes) <= {
        "cancelled/never started",
        "cancelled/started",
        "completed/started",
    }, outcomes


def test_concurrent_operator_patches_lose_no_run_debits(api, make_org, admin_api):
    """Runs debit the org's credits (SET balance = balance - c) while an operator PATCHes the org: a PATCH of
    rate_limits never overwrites the balance; a PATCH of credits_balance sets it, and only debits after it
    count against the new balance."""

    usage = {"input_tokens": 1000, "output_tokens": 200}  # $0.006 at the price below → 6 credits a run
    tenant = make_org(credits=10_000)
    agent = agent_with(api, [{"text": "x", "usage": usage}], key=tenant.key)
    runs = 4

    def patch(body):
        return lambda: admin_api.patch(f"/v1/admin/orgs/{tenant.org_id}", json=body).status

    limits = GENEROUS_RATE_LIMITS
    created = together(
        *[(lambda: start(api, agent, key=tenant.key)["id"]) for _ in range(runs)],
        patch({"rate_limits": limits}),
    )
    run_ids = created[:runs]
    assert created[runs] == 200
    for _ in range(3):
        assert together(patch({"rate_limits": limits}), patch({"rate_limits": limits})) == [200, 200]
    finished = [run_to_end(api.with_key(tenant.key), run_id) for run_id in run_ids]
    assert {run["usage"]["credits_used"] for run in finished} == {6}
    assert api.get("/v1/org", key=tenant.key).json()["credits_balance"] == 10_000 - 6 * runs

    # an absolute PATCH while runs finish: the balance is 500 minus the debits that landed after it
    created = together(
        *[(lambda: start(api, agent, key=tenant.key)["id"]) for _ in range(runs)],
        patch({"credits_balance": 500}),
    )
    finished = [run_to_end(api.with_key(tenant.key), run_id) for run_id in created[:runs]]
    assert all(run["status"] == "completed" for run in finished)
    balance = api.get("/v1/org", key=tenant.key).json()["credits_balance"]
    assert 500 - 6 * runs <= balance <= 500 and (500 - balance) % 6 == 0, balance


def test_concurrent_requests_to_one_function_keep_their_own_body_and_path(api):
    """Regression (local stack): Powertools keeps the request being resolved in a process-wide class
    attribute; concurrent requests on the in-process environments used to read each other's body."""

    agent = agent_with(api, [{"text": "x"}])
    run_ids = [api.post("/v1/runs", json={"agent": agent, "start": False}).json()["id"] for _ in range(10)]
    for round_ in range(20):
        responses = together(
            *[
                (lambda r=run_id, n=round_: api.put(f"/v1/runs/{r}/memory/k", json={"value": f"{r}:{n}"}))
                for run_id in run_ids
            ]
        )
        for run_id, response in zip(run_ids, responses, strict=True):
            assert response.status == 200 and response.json()["value"] == f"{run_id}:{round_}"
            assert api.get(f"/v1/runs/{run_id}/memory").json()["items"]["k"] == f"{run_id}:{round_}"
