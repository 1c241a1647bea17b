"""The agent loop, cancel, approvals and thread hand-over against in-memory stores (tests/fakes): the rules
of runs_core.execution and runs_core.logic without moto, Step Functions or HTTP. A test plays the state
machine: it calls the step task until the run is done or waits, as RunStateMachine would.

Races are made deterministic with FakeRuns.interleave: another writer commits just before the next
matching write, which then finds the run moved on (StaleRun), as with DynamoDB's conditional writes.
"""

from collections.abc import Iterator
from typing import Any

import pytest

from runs_core import ids
from runs_core.changes import Change, ThreadTurn
from runs_core.context import Caller
from runs_core.errors import InvalidState
from runs_core.execution import tasks, unit
from runs_core.logic import answers, runs, threads
from runs_core.models.runs import SubmitApproval
from runs_core.observability import logger
from runs_core.stores import Stores
from tests.fakes.stores import ORG, stores_in_memory

CALLER = Caller(org_id=ORG, api_key_id="key_test")
ECHO = {"name": "echo", "kind": "builtin"}
ECHO_THEN_DONE = [{"tool_calls": [{"name": "echo", "arguments": {"n": 1}}]}, {"text": "done"}]
PAY_THEN_PAID = [{"tool_calls": [{"name": "pay", "arguments": {"usd": 5}}]}, {"text": "paid"}]
PAY = {"name": "pay", "kind": "builtin", "builtin": "echo", "requires_approval": True}
TERMINAL_EVENTS = {"run.completed", "run.failed", "run.cancelled"}


@pytest.fixture
def stores() -> Iterator[Stores]:
    unit._definition.cache_clear()  # agent versions are cached per process; each test has its own
    try:
        with stores_in_memory() as stores:
            yield stores
    finally:
        logger.thread_safe_clear_keys()  # the step binds log keys; outside a handler nothing clears them


def new_run(stores: Stores, script: list[dict[str, Any]], actions: list[dict[str, Any]] = (), **fields: Any):
    """A queued run of a new scripted agent, as create_run leaves it (its execution not started)."""
    agent_id = ids.new_id("agt")
    definition = {"model": {"provider": "scripted", "script": script}, "actions": list(actions)}
    stores.agents.versions[(ORG, agent_id, "1.0.0")] = {"definition": definition}
    run_id, created_at = ids.new_id_at("run")
    run = {
        "id": run_id,
        "org_id": ORG,
        "agent_id": agent_id,
        "agent_name": "scripted",
        "agent_version": "1.0.0",
        "thread_id": None,
        "message": None,
        "name": None,
        "status": "queued",
        "input": {"question": "?"},
        "file_ids": [],
        "persona": None,
        "outputs": [],
        "metadata": {},
        "trace_id": "1-00000000-000000000000000000000000",
        "created_by": {"api_key_id": "key_test", "end_user_id": None},
        "max_steps": 25,
        "max_tokens": 200_000,
        "created_at": created_at,
        "limits_max_duration_seconds": 3600,
        **fields,
    }
    return stores.runs.create(run, Change(), created_at, 0)


def step(run_id: str) -> dict[str, Any]:
    return tasks.handle_task({"action": "step", "run_id": run_id})


def park(run_id: str, step_id: str, task_token: str) -> None:
    tasks.handle_task({"action": "park", "run_id": run_id, "step_id": step_id, "task_token": task_token})


def run_steps(run_id: str) -> dict[str, Any]:
    """Step until the state machine would leave the Step state (done, or a wait)."""
    for _ in range(20):
        result = step(run_id)
        if result["next"] != "continue":
            return result
    raise AssertionError("the run kept stepping")


def assert_one_terminal_event_last(stores: Stores, run_id: str) -> list[str]:
    types = stores.runs.types(run_id)
    assert [seq["seq"] for seq in stores.runs.events(run_id)] == list(range(1, len(types) + 1))
    assert sum(type_ in TERMINAL_EVENTS for type_ in types) == 1 and types[-1] in TERMINAL_EVENTS, types
    return types


# ---------------------------------------------------------------------------------------- the loop


def test_a_run_calls_its_action_and_completes(stores):
    run = new_run(
        stores, [{"tool_calls": [{"name": "echo", "arguments": {"n": 1}}]}, {"text": "done"}], [ECHO]
    )
    assert run_steps(run["id"]) == {"next": "done", "run_id": run["id"]}
    done = stores.runs.get(run["id"])
    assert done["status"] == "completed" and done["output"] == {"answer": "done"}
    assert [step["type"] for step in stores.steps.all(run["id"])] == ["decision", "action", "decision"]
    action = stores.steps.all(run["id"])[1]
    assert action["status"] == "completed" and action["output"] == {"n": 1}
    types = assert_one_terminal_event_last(stores, run["id"])
    assert types[:2] == ["run.started", "step.started"] and types.count("tool.result") == 1
    assert stores.orgs.get(ORG)["credits_balance"] == 1_000 - done["usage"]["credits_used"]


def test_a_run_at_its_step_limit_fails_before_asking_again(stores):
    script = [{"tool_calls": [{"name": "echo", "arguments": {}}]}] * 5
    run = new_run(stores, script, [ECHO], max_steps=2)
    run_steps(run["id"])
    done = stores.runs.get(run["id"])
    assert done["status"] == "failed" and done["error"]["code"] == "max_steps_exceeded"
    assert len(stores.steps.all(run["id"])) == 2
    assert_one_terminal_event_last(stores, run["id"])


# ---------------------------------------------------------------------------------------- cancel


def test_a_cancel_racing_a_finishing_step_wins_and_the_usage_is_still_recorded(stores):
    run = new_run(stores, [{"text": "finished", "usage": {"input_tokens": 1000, "output_tokens": 500}}])
    stores.runs.interleave(
        lambda _, change: any(event.type == "run.completed" for event in change.events),
        lambda: runs.cancel_run(CALLER, run["id"], "changed my mind"),
    )
    assert step(run["id"])["next"] == "done"
    done = stores.runs.get(run["id"])
    assert done["status"] == "cancelled" and done["cancel_reason"] == "changed my mind"
    assert done["usage"]["total_tokens"] == 1500  # the model call happened: its tokens count
    assert stores.orgs.get(ORG)["credits_balance"] == 1_000 - done["usage"]["credits_used"]
    types = assert_one_terminal_event_last(stores, run["id"])
    assert types[-1] == "run.cancelled" and "message.completed" not in types
    assert stores.executions.stopped == [run["id"]]


def test_a_cancel_outlasts_a_burst_of_other_writes(stores):
    """A cancel that loses more races than a plain write may retry (an invoke, then a step's writes: step
    started, decided, paused, parked) still cancels: each lost race was another writer's progress."""
    run = new_run(stores, [{"text": "hi"}], status="running")
    fired = 0

    def is_cancel(_: Any, change: Change) -> bool:
        return change.changes.get("status") == "cancelled"

    def another_write() -> None:
        nonlocal fired
        fired += 1
        stores.runs.commit(stores.runs.get(run["id"]), Change({"name": f"write {fired}"}), "now", 0)
        if fired < 8:
            stores.runs.interleave(is_cancel, another_write)

    stores.runs.interleave(is_cancel, another_write)
    assert runs.cancel_run(CALLER, run["id"], None).status == "cancelled"
    assert fired == 8 and stores.runs.get(run["id"])["status"] == "cancelled"


def test_a_step_that_finds_a_requested_cancel_writes_it(stores):
    run = new_run(stores, [{"text": "never said"}], status="running", cancel_requested_at="now")
    assert step(run["id"])["next"] == "done"
    assert stores.runs.get(run["id"])["status"] == "cancelled"
    assert stores.steps.all(run["id"]) == []


def test_cancelling_a_waiting_run_cancels_its_pending_step(stores):
    run = new_run(stores, PAY_THEN_PAID, [PAY])
    assert run_steps(run["id"])["next"] == "approval"
    cancelled = runs.cancel_run(CALLER, run["id"], None)
    assert cancelled.status == "cancelled"
    pending = stores.steps.all(run["id"])[-1]
    assert pending["type"] == "approval" and pending["status"] == "cancelled"
    assert runs.cancel_run(CALLER, run["id"], None).status == "cancelled"  # idempotent
    assert stores.runs.types(run["id"]).count("run.cancelled") == 1


# ---------------------------------------------------------------------------------------- approvals


def test_an_approved_action_runs_after_the_wait(stores):
    run = new_run(
        stores, [{"tool_calls": [{"name": "pay", "arguments": {"usd": 5}}]}, {"text": "paid"}], [PAY]
    )
    wait = run_steps(run["id"])
    assert wait["next"] == "approval" and stores.runs.get(run["id"])["status"] == "waiting_approval"
    park(run["id"], wait["step_id"], "tt")
    decided = answers.submit_approval(CALLER, run["id"], SubmitApproval(decision="approve"))
    assert decided.status == "running" and stores.executions.resumed == [("tt", run["id"])]
    assert run_steps(run["id"])["next"] == "done"
    done = stores.runs.get(run["id"])
    assert done["status"] == "completed" and done["output"] == {"answer": "paid"}
    assert [s["type"] for s in stores.steps.all(run["id"])] == ["decision", "approval", "action", "decision"]


def test_two_approvals_at_once_one_wins_the_other_is_refused(stores):
    run = new_run(stores, PAY_THEN_PAID, [PAY])
    wait = run_steps(run["id"])
    park(run["id"], wait["step_id"], "tt")
    rejected: list[Any] = []
    stores.runs.interleave(
        lambda _, change: any(event.type == "run.approval_decided" for event in change.events),
        lambda: rejected.append(
            answers.submit_approval(CALLER, run["id"], SubmitApproval(decision="reject", comment="no"))
        ),
    )
    with pytest.raises(InvalidState):  # the approve lost the race: the run no longer waits (409)
        answers.submit_approval(CALLER, run["id"], SubmitApproval(decision="approve"))
    assert rejected[0].status == "running"
    assert stores.runs.types(run["id"]).count("run.approval_decided") == 1
    assert stores.executions.resumed == [("tt", run["id"])]  # the execution is resumed once
    assert stores.steps.all(run["id"])[-1]["output"]["decision"] == "reject"


def test_a_decision_before_the_token_arrives_resumes_when_it_parks(stores):
    run = new_run(stores, PAY_THEN_PAID, [PAY])
    wait = run_steps(run["id"])
    answers.submit_approval(CALLER, run["id"], SubmitApproval(decision="approve"))
    assert stores.executions.resumed == []  # no token yet
    tasks.handle_task(
        {"action": "park", "run_id": run["id"], "step_id": wait["step_id"], "task_token": "late"}
    )
    assert stores.executions.resumed == [("late", run["id"])]


def test_a_step_returns_the_execution_count_it_was_given(stores):
    """The state machine keeps its count of steps and waits in the step's answer (continue-as-new)."""
    run = new_run(stores, ECHO_THEN_DONE, [ECHO])
    answer = tasks.handle_task({"action": "step", "run_id": run["id"], "iterations": 7})
    assert answer["iterations"] == 7 and answer["next"] == "continue"
    assert "iterations" not in tasks.handle_task({"action": "step", "run_id": run["id"]})


# ---------------------------------------------------------------------------------------- threads


def thread_with(stores: Stores, active: str, queue: list[str]) -> dict[str, Any]:
    thread = stores.threads.create({"id": ids.new_id("thr"), "org_id": ORG, "created_at": "2026"})
    stores.threads.set_turn(ThreadTurn(thread, active, queue))
    return stores.threads.get(ORG, thread["id"])


def test_a_thread_passes_to_its_next_queued_run_skipping_cancelled_ones(stores):
    first, skipped, second = (new_run(stores, [{"text": "hi"}]) for _ in range(3))
    runs.cancel_run(CALLER, skipped["id"], None)
    thread = thread_with(stores, first["id"], [skipped["id"], second["id"]])
    threads.hand_over(ORG, thread["id"], first["id"])
    after = stores.threads.get(ORG, thread["id"])
    assert after["active_run_id"] == second["id"] and after["queue"] == []
    assert stores.executions.started == [second["id"]]
    threads.hand_over(ORG, thread["id"], first["id"])  # a redelivered event: nothing more happens
    assert stores.executions.started == [second["id"]]


def test_a_thread_held_by_an_ended_run_is_handed_over_before_a_new_turn(stores):
    """The router hands a thread on after its run's terminal event; a client that saw the run end may
    start the next run before that: it must find the thread passed on, not busy (409 with reject)."""
    ended, queued = new_run(stores, [{"text": "hi"}]), new_run(stores, [{"text": "hi"}])
    run_steps(ended["id"])
    assert stores.runs.get(ended["id"])["status"] == "completed"
    thread = thread_with(stores, ended["id"], [queued["id"]])
    settled = threads.free_of_ended_holder(thread)
    assert settled["active_run_id"] == queued["id"] and settled["queue"] == []
    assert stores.executions.started == [queued["id"]]
    assert threads.free_of_ended_holder(settled) == settled  # a holder that has not ended keeps it
    idle = thread_with(stores, None, [])
    assert threads.free_of_ended_holder(idle) is idle  # nothing to read


def test_a_thread_whose_queue_changes_during_hand_over_is_read_again(stores):
    first, queued, late = (new_run(stores, [{"text": "hi"}]) for _ in range(3))
    thread = thread_with(stores, first["id"], [queued["id"]])
    real_set_turn = stores.threads.set_turn
    calls = 0

    def racing_set_turn(turn: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:  # another run queues behind the thread just before the hand-over writes
            current = stores.threads.get(ORG, thread["id"])
            real_set_turn(ThreadTurn(current, first["id"], [*current["queue"], late["id"]]))
        real_set_turn(turn)

    stores.threads.set_turn = racing_set_turn
    threads.hand_over(ORG, thread["id"], first["id"])
    after = stores.threads.get(ORG, thread["id"])
    assert after["active_run_id"] == queued["id"] and after["queue"] == [late["id"]]
    assert stores.executions.started == [queued["id"]]


def test_a_run_in_a_thread_starts_with_the_thread_as_its_conversation(stores):
    thread = stores.threads.create({"id": ids.new_id("thr"), "org_id": ORG, "created_at": "2026"})
    run = new_run(stores, [{"text": "answer"}], thread_id=thread["id"], message="hello")
    run_steps(run["id"])
    messages = stores.threads.recent_messages(thread["id"], 10)
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", 'hello\n\n{"question": "?"}'),
        ("assistant", "answer"),
    ]
