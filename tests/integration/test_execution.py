"""Runs execute on the local stack: the real ASL on moto's interpreter, the real step handler (docs/api.md
§4)."""

import threading
import time

import pytest

from tests.integration.helpers import ASK, ECHO, PAY, agent_with, start, steps_of, wait

USAGE = {"input_tokens": 1000, "output_tokens": 200, "cache_read_tokens": 500}


def test_tool_approval_input_and_answer(api):
    """The issue's 'done when': a tool call, an approval, a question to the user, a typed answer."""
    script = [
        {"tool_calls": [{"name": "echo", "arguments": {"invoice": "INV-1"}}], "usage": USAGE},
        {"tool_calls": [{"name": "pay_invoice", "arguments": {"amount": 42}}], "usage": USAGE},
        {"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "Which account?"}}], "usage": USAGE},
        {"text": "Paid from savings.", "outputs": {"decision": "approve"}, "usage": USAGE},
    ]
    outputs = [{"key": "decision", "description": "approve or reject", "data_type": "text/plain"}]
    agent = agent_with(api, script, [ECHO, PAY, ASK], outputs)
    run = start(api, agent)
    assert run["status"] == "queued"

    waiting = wait(api, run["id"])
    assert waiting["status"] == "waiting_approval", waiting
    pending = waiting["pending"]
    assert pending["type"] == "approval" and pending["action"] == "pay_invoice"
    assert pending["arguments"] == {"amount": 42} and pending["expires_at"].endswith("Z")
    approved = api.request("POST", f"/v1/runs/{run['id']}/approval", json={"decision": "approve"})
    assert approved.status == 200 and approved.json()["status"] == "running"

    asking = wait(api, run["id"])
    assert asking["status"] == "waiting_for_input" and asking["pending"]["prompt"] == "Which account?"
    answered = api.request("POST", f"/v1/runs/{run['id']}/input", json={"content": "savings"})
    assert answered.status == 200

    done = wait(api, run["id"])
    assert done["status"] == "completed", done
    assert done["output"] == {"decision": "approve"}
    assert done["outputs"] == [
        {"key": "decision", "description": "approve or reject", "data_type": "text/plain", "value": "approve"}
    ]
    usage = done["usage"]
    assert (
        usage["input_tokens"] == 4000 and usage["output_tokens"] == 800 and usage["cache_read_tokens"] == 2000
    )
    assert usage["total_tokens"] == 6800
    # 4000 in × $3 + 800 out × $15 + 2000 cache reads at the input price, per million tokens
    assert usage["cost_usd"] == pytest.approx((4000 * 3 + 800 * 15 + 2000 * 3) / 1e6)
    assert usage["credits_used"] == 30  # $0.030 → 30 credits (1 credit = $0.001, rounded up)
    assert usage["cache_hit_rate"] == pytest.approx(2000 / 6000, abs=1e-4)
    assert done["completed_at"] and done["duration_ms"] is not None and done["started_at"]

    steps = steps_of(api, run["id"])
    assert [(s["type"], s["status"]) for s in steps] == [
        ("decision", "completed"),
        ("action", "completed"),
        ("decision", "completed"),
        ("approval", "completed"),
        ("action", "completed"),
        ("decision", "completed"),
        ("input", "completed"),
        ("decision", "completed"),
    ]
    assert [s["index"] for s in steps] == list(range(8)) and done["step_count"] == 8
    assert steps[1]["output"] == {"invoice": "INV-1"} and steps[3]["output"]["decision"] == "approve"
    assert steps[6]["output"] == {"content": "savings"}
    org = api.request("GET", "/v1/org").json()
    assert org["credits_balance"] <= 1_000_000 - 30


def test_reject_is_fed_back_and_run_goes_on(api):
    script = [
        {"tool_calls": [{"name": "pay_invoice", "arguments": {"amount": 1}}]},
        {"text": "Understood, not paying."},
    ]
    run = start(api, agent_with(api, script, [PAY]))
    assert wait(api, run["id"])["status"] == "waiting_approval"
    rejected = api.request(
        "POST", f"/v1/runs/{run['id']}/approval", json={"decision": "reject", "comment": "too much"}
    )
    assert rejected.status == 200
    done = wait(api, run["id"])
    assert done["status"] == "completed" and done["output"] == {"answer": "Understood, not paying."}
    types = [(s["type"], (s.get("output") or {}).get("decision")) for s in steps_of(api, run["id"])]
    assert ("approval", "reject") in types and not any(t == "action" for t, _ in types)  # never ran


def test_concurrent_approvals_exactly_one_wins(api):
    script = [{"tool_calls": [{"name": "pay_invoice", "arguments": {}}]}, {"text": "ok"}]
    run = start(api, agent_with(api, script, [PAY]))
    assert wait(api, run["id"])["status"] == "waiting_approval"
    statuses: list[int] = []
    barrier = threading.Barrier(5)

    def approve() -> None:
        barrier.wait()
        statuses.append(
            api.request("POST", f"/v1/runs/{run['id']}/approval", json={"decision": "approve"}).status
        )

    threads = [threading.Thread(target=approve) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409, 409, 409, 409]
    assert wait(api, run["id"])["status"] == "completed"
    approvals = [s for s in steps_of(api, run["id"]) if s["type"] == "approval"]
    assert len(approvals) == 1


def test_unknown_action_is_fed_back_not_a_crash(api):
    script = [{"tool_calls": [{"name": "does_not_exist", "arguments": {}}]}, {"text": "recovered"}]
    run = start(api, agent_with(api, script, [ECHO]))
    done = wait(api, run["id"])
    assert done["status"] == "completed" and done["output"] == {"answer": "recovered"}
    failed = [s for s in steps_of(api, run["id"]) if s["type"] == "action"]
    assert failed[0]["status"] == "failed" and failed[0]["error"]["code"] == "action_error"


def test_memory_and_set_output_builtins(api):
    script = [
        {
            "tool_calls": [
                {"name": "memory_set", "arguments": {"key": "customer", "value": {"tier": "gold"}}},
                {"name": "set_output", "arguments": {"key": "summary", "value": "done"}},
            ]
        },
        {"tool_calls": [{"name": "memory_get", "arguments": {"key": "customer"}}]},
        {"text": "bye"},
    ]
    actions = [{"name": n, "kind": "builtin"} for n in ("memory_set", "memory_get", "set_output")]
    run = start(api, agent_with(api, script, actions, [{"key": "summary"}]))
    done = wait(api, run["id"])
    assert done["status"] == "completed" and done["output"] == {"summary": "done"}
    memory = api.request("GET", f"/v1/runs/{run['id']}/memory").json()
    assert memory == {"items": {"customer": {"tier": "gold"}}}
    got = next(s for s in steps_of(api, run["id"]) if s["action"] == "memory_get")
    assert got["output"] == {"key": "customer", "value": {"tier": "gold"}}
    assert api.request("PUT", f"/v1/runs/{run['id']}/memory/note", json={"value": 1}).status == 200
    assert api.request("DELETE", f"/v1/runs/{run['id']}/memory/note").status == 204
    assert api.request("DELETE", f"/v1/runs/{run['id']}/memory/note").status == 404


@pytest.mark.parametrize(
    ("limits", "script", "code"),
    [
        ({"max_steps": 3}, [{"tool_calls": [{"name": "echo", "arguments": {}}]}] * 5, "max_steps_exceeded"),
        (
            {"max_tokens": 1500},
            [{"tool_calls": [{"name": "echo", "arguments": {}}], "usage": USAGE}] * 3,
            "max_tokens_exceeded",
        ),
    ],
)
def test_limits_fail_the_run(api, limits, script, code):
    run = start(api, agent_with(api, script, [ECHO], limits=limits))
    done = wait(api, run["id"])
    assert done["status"] == "failed" and done["error"]["code"] == code, done
    assert done["failed_at"]


def test_run_may_lower_max_steps(api):
    script = [{"tool_calls": [{"name": "echo", "arguments": {}}]}] * 5
    run = start(api, agent_with(api, script, [ECHO]), max_steps=2)
    done = wait(api, run["id"])
    assert done["error"]["code"] == "max_steps_exceeded" and done["step_count"] == 2


def test_budget_exceeded_stops_running_runs_and_blocks_new_ones(api, make_org):
    org = make_org(credits=1)
    expensive = {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0}
    script = [{"tool_calls": [{"name": "echo", "arguments": {}}], "usage": USAGE}, {"text": "never"}]
    agent = agent_with(api, script, [ECHO], key=org.key, price=expensive)
    run = start(api, agent, key=org.key)
    done = wait(api, run["id"], key=org.key)
    assert done["status"] == "failed" and done["error"]["code"] == "budget_exceeded", done
    assert api.request("GET", "/v1/org", key=org.key).json()["credits_balance"] < 0
    refused = api.request("POST", "/v1/runs", json={"agent": agent}, key=org.key)
    assert refused.status == 402


def test_approval_timeout(api):
    script = [{"tool_calls": [{"name": "pay_invoice", "arguments": {}}]}, {"text": "late"}]
    run = start(api, agent_with(api, script, [PAY], limits={"approval_timeout_seconds": 1}))
    assert wait(api, run["id"])["status"] == "waiting_approval"
    deadline = time.monotonic() + 30  # the wait times out after 1 s; moto's interpreter then expires it
    while (done := api.request("GET", f"/v1/runs/{run['id']}").json())["status"] != "failed":
        assert time.monotonic() < deadline, done
        time.sleep(0.2)
    assert done["status"] == "failed" and done["error"]["code"] == "approval_timeout", done
    assert api.request("POST", f"/v1/runs/{run['id']}/approval", json={"decision": "approve"}).status == 409


@pytest.mark.parametrize("where", ["created", "queued", "waiting_approval", "waiting_for_input"])
def test_cancel_in_every_state(api, where):
    ask = [{"tool_calls": [{"name": "ask_user", "arguments": {"prompt": "?"}}]}, {"text": "x"}]
    pay = [{"tool_calls": [{"name": "pay_invoice", "arguments": {}}]}, {"text": "x"}]
    agent = agent_with(api, pay if where == "waiting_approval" else ask, [PAY, ASK])
    run = start(api, agent, start=where != "created")
    if where.startswith("waiting"):
        assert wait(api, run["id"])["status"] == where
    cancelled = api.request("POST", f"/v1/runs/{run['id']}/cancel", json={"reason": "test"})
    assert cancelled.status == 200 and cancelled.json()["status"] == "cancelled"
    assert wait(api, run["id"])["status"] == "cancelled"
    assert api.request("POST", f"/v1/runs/{run['id']}/input", json={"content": "x"}).status == 409
    assert api.request("POST", f"/v1/runs/{run['id']}/approval", json={"decision": "approve"}).status == 409
    assert api.request("GET", f"/v1/runs/{run['id']}").json()["status"] == "cancelled"
    if where.startswith("waiting"):  # the step it waited on is cancelled too
        assert steps_of(api, run["id"])[-1]["status"] == "cancelled"


def test_input_and_approval_only_when_waiting(api):
    run = start(api, agent_with(api, [{"text": "hi"}]))
    assert wait(api, run["id"])["status"] == "completed"
    assert (
        api.request("POST", f"/v1/runs/{run['id']}/input", json={"content": "x"}).json()["code"]
        == "invalid_state"
    )
    bad = api.request("POST", f"/v1/runs/{run['id']}/input", json={"content": "x" * (32 * 1024 + 1)})
    assert bad.status == 400
    both = api.request("POST", f"/v1/runs/{run['id']}/input", json={"content": "x", "data": {}})
    assert both.status == 400
    assert api.request("POST", f"/v1/runs/{run['id']}/approval", json={"decision": "maybe"}).status == 400
    assert api.request("POST", f"/v1/runs/{run['id']}/cancel").status == 409
