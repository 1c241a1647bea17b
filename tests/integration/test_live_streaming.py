"""Live model output on the in-process stack (docs/api.md §6 "Live, not after the fact"): the log holds a
message's words while the model still streams them, and a cancel during the call ends it, writes
nothing after run.cancelled and still records (once) what the call used.

Real threads and loopback servers; every wait has a deadline; nothing asserts a duration.
"""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.helpers import (
    TERMINAL,
    agent_with,
    assert_contiguous,
    create_agent,
    event_log,
    execution_done,
    start,
    steps_of,
)
from tests.support import ModelServer, serving

DEADLINE_S = 30
WORDS = " ".join(f"word{i}" for i in range(60))
PACED = {"chunk_chars": 6, "interval_ms": 40}  # ~2 s of text: long enough to watch and to cancel


def poll_until(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {DEADLINE_S} s")


def types_of(api, run_id: str) -> list[str]:
    """The log's event types so far, in one request: polled every 20 ms by up to 5 threads, where
    event_log's pages of 3 took several (the paging is checked once the run has ended)."""
    response = api.get(f"/v1/runs/{run_id}/events", query={"limit": "1000"})
    assert response.status == 200, response.text
    return [event["type"] for event in response.json()["items"]]


def test_a_paced_answer_is_in_the_log_while_the_model_still_streams(api):
    run = start(api, agent_with(api, [{"text": WORDS, "stream": PACED}], prefix="live"))

    first = poll_until(lambda: "message.delta" in types_of(api, run["id"]), "a first message.delta")
    assert first
    # At that moment the model was still answering: the message is not complete, the run still running.
    types = types_of(api, run["id"])
    assert "message.completed" not in types[: types.index("message.delta")]
    assert api.get(f"/v1/runs/{run['id']}").json()["status"] in ("running", "completed")

    poll_until(lambda: api.get(f"/v1/runs/{run['id']}").json()["status"] in TERMINAL, "the run's end")
    events = event_log(api, run["id"])
    types = [event["type"] for event in events]
    deltas = [event["data"]["delta"] for event in events if event["type"] == "message.delta"]
    [completed] = [event["data"]["content"] for event in events if event["type"] == "message.completed"]
    assert "".join(deltas) == completed == WORDS
    assert len(deltas) > 1  # written as it came, not in one piece at the end
    assert types.index("step.started") < types.index("message.delta") < types.index("message.completed")
    assert_contiguous(api, run["id"])


def cancel_mid_stream(api, agent: str) -> dict[str, Any]:
    run = start(api, agent)
    poll_until(lambda: "message.delta" in types_of(api, run["id"]), "a first message.delta")
    response = api.post(f"/v1/runs/{run['id']}/cancel", json={})
    assert response.status in (200, 409), response.text  # 409: it completed first (a lost race is fine)
    execution_done(run["id"])
    return run


def test_cancel_mid_stream_ends_the_call_writes_nothing_after_and_records_usage_once(api, make_org):
    # Enough credits that runs which finish before their cancel (a loaded machine) cannot exhaust them.
    org = make_org(credits=100_000_000)
    long_text = " ".join(f"token{i}" for i in range(400))  # ~8 s when paced: a cancel lands mid-stream
    agent = agent_with(
        org.api,
        [{"text": long_text, "stream": PACED}],
        price={"input_per_mtok": 3000.0, "output_per_mtok": 15000.0},
    )
    credits_before = org.api.get("/v1/org").json()["credits_balance"]

    with ThreadPoolExecutor(max_workers=5) as pool:
        runs = list(pool.map(lambda _: cancel_mid_stream(org.api, agent), range(50)))

    debited = 0
    for run in runs:
        final, types = assert_contiguous(org.api, run["id"])  # nothing after run.cancelled, no gaps
        if final["status"] != "cancelled":
            continue
        assert types[-1] == "run.cancelled"
        decisions = [step for step in steps_of(org.api, run["id"]) if step["type"] == "decision"]
        [stopped] = decisions  # recorded once
        assert stopped["status"] == "cancelled"
        assert len(stopped["output"]["text"]) < len(long_text)  # the model was stopped, not run to its end
        usage = final["usage"]
        assert usage["estimated"] is True and usage["output_tokens"] > 0 and usage["credits_used"] > 0
        debited += usage["credits_used"]
    cancelled = [run for run in runs if org.api.get(f"/v1/runs/{run['id']}").json()["status"] == "cancelled"]
    assert len(cancelled) >= 45  # a few may finish first on a slow machine; most are cancelled mid-stream
    credits_after = org.api.get("/v1/org").json()["credits_balance"]
    completed_cost = sum(
        org.api.get(f"/v1/runs/{run['id']}").json()["usage"]["credits_used"]
        for run in runs
        if run not in cancelled
    )
    assert credits_before - credits_after == debited + completed_cost  # each call debited exactly once


# ---------------------------------------------------------------- an OpenAI-compatible model server


@pytest.fixture
def slow_model(allow_loopback) -> Iterator[ModelServer]:
    with serving(ModelServer(chunks=20, interval_s=0.2)) as server:
        yield server
        server.release.set()


def test_deltas_from_a_slow_model_server_reach_the_log_before_its_last_chunk(api, slow_model):
    agent = create_agent(api, {"provider": "openai", "id": "slow-model", "base_url": slow_model.base_url})
    run = start(api, agent)

    poll_until(lambda: "message.delta" in types_of(api, run["id"]), "a first message.delta")
    assert slow_model.sent < slow_model.chunks  # the server was still streaming

    poll_until(lambda: api.get(f"/v1/runs/{run['id']}").json()["status"] in TERMINAL, "the run's end")
    events = event_log(api, run["id"])
    deltas = [event["data"]["delta"] for event in events if event["type"] == "message.delta"]
    assert len(deltas) > 2 and "".join(deltas) == "".join(f"part{i} " for i in range(20))
    final = api.get(f"/v1/runs/{run['id']}").json()
    assert final["usage"]["output_tokens"] == 20 and final["usage"]["estimated"] is False


def test_a_cancel_closes_the_model_servers_connection(api, slow_model):
    agent = create_agent(api, {"provider": "openai", "id": "slow-model", "base_url": slow_model.base_url})
    run = cancel_mid_stream(api, agent)

    assert slow_model.hung_up.wait(DEADLINE_S)  # the step closed the connection mid-answer
    assert slow_model.sent < slow_model.chunks
    final, types = assert_contiguous(api, run["id"])
    assert final["status"] == "cancelled" and types[-1] == "run.cancelled"
    assert final["usage"]["estimated"] is True and final["usage"]["output_tokens"] > 0


def test_max_tokens_passed_mid_stream_ends_the_call_and_fails_the_run(api):
    text = " ".join(f"token{i}" for i in range(400))  # ~700 tokens at 4 characters a token
    run = start(api, agent_with(api, [{"text": text, "stream": PACED}], prefix="limit"), max_tokens=100)

    final = poll_until(
        lambda: (r := api.get(f"/v1/runs/{run['id']}").json())["status"] in TERMINAL and r, "the run's end"
    )
    execution_done(run["id"])
    assert final["status"] == "failed" and final["error"]["code"] == "max_tokens_exceeded"
    [decision] = [step for step in steps_of(api, run["id"]) if step["type"] == "decision"]
    assert decision["status"] == "failed" and len(decision["output"]["text"]) < len(text)  # stopped early
    usage = api.get(f"/v1/runs/{run['id']}").json()["usage"]
    assert usage["estimated"] is True and usage["total_tokens"] > 100
    _, types = assert_contiguous(api, run["id"])
    assert "message.completed" not in types and types[-1] == "run.failed"


def test_credits_running_out_mid_stream_end_the_call(make_org):
    org = make_org(credits=3)
    text = " ".join(f"token{i}" for i in range(400))
    expensive = {"input_per_mtok": 3.0, "output_per_mtok": 15_000.0}  # 1 credit per ~67 output tokens
    run = start(org.api, agent_with(org.api, [{"text": text, "stream": PACED}], price=expensive))

    poll_until(lambda: org.api.get(f"/v1/runs/{run['id']}").json()["status"] in TERMINAL, "the run's end")
    execution_done(run["id"])
    final = org.api.get(f"/v1/runs/{run['id']}").json()
    assert final["status"] == "failed" and final["error"]["code"] == "budget_exceeded"
    assert final["usage"]["credits_used"] > 3  # the overrun is charged: what the call used until stopped
    assert org.api.get("/v1/org").json()["credits_balance"] == 3 - final["usage"]["credits_used"]
