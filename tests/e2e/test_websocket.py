"""Run events over the WebSocket API against the local stack (ws://127.0.0.1:<port>/ws; docs/api.md §6).

The client is devstack.ws_client (the `websockets` library). Every read has a timeout.
"""

from typing import Any

import pytest

from devstack.ws_client import Client, Refused
from tests.e2e.live import TERMINAL, answer, asking_run, auth, other_org_key, polled


def events_until(client: Client, stop: set[str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        message = client.receive()
        assert message.get("type") != "error", message
        if "seq" not in message:
            continue  # control frames (subscribed)
        events.append(message)
        if message["type"] in stop:
            return events


def subscribe(client: Client, run_id: str, after_seq: int | None = None) -> None:
    message: dict[str, Any] = {"action": "subscribe", "run_id": run_id}
    if after_seq is not None:
        message["after_seq"] = after_seq
    client.send(message)
    ack = client.receive()
    assert ack == {"type": "subscribed", "run_id": run_id, "after_seq": after_seq or 0}, ack


def test_live_run_pushed_from_seq_1_to_completed_exactly_once(local_stack, base_url, dev_key):
    run_id = asking_run(base_url, dev_key)
    client = Client(local_stack.port, f"?api_key={dev_key}")
    try:
        subscribe(client, run_id)
        events = events_until(client, {"run.waiting_for_input"})
        answer(base_url, dev_key, run_id)
        events += events_until(client, TERMINAL)
    finally:
        client.close()
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "run.completed"
    assert events == polled(base_url, dev_key, run_id)


def test_reconnect_with_after_seq_resumes_without_loss_or_duplicates(local_stack, base_url, dev_key):
    run_id = asking_run(base_url, dev_key)
    first = Client(local_stack.port, headers=auth(dev_key))  # the key in a header this time
    try:
        subscribe(first, run_id)
        seen = events_until(first, {"run.waiting_for_input"})
    finally:
        first.close()
    answer(base_url, dev_key, run_id)  # events happen while nobody is connected
    second = Client(local_stack.port, f"?api_key={dev_key}")
    try:
        subscribe(second, run_id, after_seq=seen[-1]["seq"])
        seen += events_until(second, TERMINAL)
    finally:
        second.close()
    assert [event["seq"] for event in seen] == list(range(1, len(seen) + 1))
    assert seen == polled(base_url, dev_key, run_id)


@pytest.mark.parametrize("query", ["", "?api_key=sk_test_not-a-real-key"])
def test_a_bad_key_cannot_connect(local_stack, query):
    with pytest.raises(Refused) as refused:
        Client(local_stack.port, query)
    assert refused.value.status == 401


def test_another_orgs_run_cannot_be_subscribed_to(local_stack, base_url, dev_key, admin_key):
    run_id = asking_run(base_url, dev_key)
    other_key = other_org_key(base_url, admin_key)
    other = Client(local_stack.port, f"?api_key={other_key}")
    try:
        other.send({"action": "subscribe", "run_id": run_id})
        error = other.receive()
        assert error["type"] == "error" and error["code"] == "not_found", error
        other.send({"action": "subscribe", "run_id": "run_doesnotexist"})
        assert other.receive()["code"] == "not_found"
    finally:
        other.close()
    with pytest.raises(Refused):
        Client(local_stack.port, f"?api_key={admin_key}")  # the operators' key has no org
