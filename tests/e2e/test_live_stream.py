"""A model's words reach watchers while it is still answering, over real HTTP on the local stack
(docs/api.md §6 "Live, not after the fact"): SSE and WebSocket clients of a run whose OpenAI-compatible model
server streams slowly, and an SSE client that reconnects mid-message with Last-Event-ID.

Bounded waits only; nothing asserts a duration.
"""

import json
import threading
import uuid
from typing import Any

import requests

from devstack.ws_client import Client
from tests.e2e.live import TERMINAL, TIMEOUT, auth, open_stream, polled, read_frames
from tests.support import ModelServer, serving

CHUNKS = 20


def create_agent(base_url: str, key: str, model: dict[str, Any]) -> str:
    name = f"live-{uuid.uuid4().hex[:10]}"
    definition = {"instructions": "Answer.", "model": model}
    body = {"name": name, "definition": definition}
    response = requests.post(f"{base_url}/agents", json=body, headers=auth(key), timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    return name


def start_run(base_url: str, key: str, agent: str) -> str:
    response = requests.post(f"{base_url}/runs", json={"agent": agent}, headers=auth(key), timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_words_reach_sse_and_websocket_clients_while_the_model_streams(loopback_stack):
    server = loopback_stack  # the model server is on loopback
    with serving(ModelServer(chunks=CHUNKS, interval_s=0.2)) as model:
        agent = create_agent(
            server.base_url, server.dev_key, {"provider": "openai", "id": "slow", "base_url": model.base_url}
        )
        run_id = start_run(server.base_url, server.dev_key, agent)
        sent_at_first_delta: dict[str, int] = {}
        deltas: dict[str, list[str]] = {"sse": [], "websocket": []}

        def watch_sse() -> None:
            with open_stream(server.base_url, server.dev_key, run_id) as response:
                for frame in read_frames(response):
                    event = json.loads(frame["data"])
                    if event["type"] == "message.delta":
                        sent_at_first_delta.setdefault("sse", model.sent)
                        deltas["sse"].append(event["data"]["delta"])
                    if event["type"] in TERMINAL:
                        return

        def watch_websocket() -> None:
            client = Client(server.port, f"?api_key={server.dev_key}")
            try:
                client.send({"action": "subscribe", "run_id": run_id})
                while True:
                    message = client.receive()
                    if message.get("type") == "message.delta":
                        sent_at_first_delta.setdefault("websocket", model.sent)
                        deltas["websocket"].append(message["data"]["delta"])
                    if message.get("type") in TERMINAL:
                        return
            finally:
                client.close()

        watchers = [threading.Thread(target=watch_sse), threading.Thread(target=watch_websocket)]
        for watcher in watchers:
            watcher.start()
        for watcher in watchers:
            watcher.join(60)
            assert not watcher.is_alive(), "a watcher did not see the run end"

    # Each client saw the first words before the model server had sent its last chunk, and the words kept
    # coming in several events across the call.
    assert sent_at_first_delta["sse"] < CHUNKS and sent_at_first_delta["websocket"] < CHUNKS
    answer = "".join(f"part{i} " for i in range(CHUNKS))
    assert "".join(deltas["sse"]) == answer and len(deltas["sse"]) > 2
    assert deltas["websocket"] == deltas["sse"]


def test_an_sse_client_resumes_mid_message_with_last_event_id(base_url, dev_key):
    text = " ".join(f"word{i}" for i in range(40))
    script = [{"text": text, "stream": {"chunk_chars": 4, "interval_ms": 30}}]
    run_id = start_run(
        base_url, dev_key, create_agent(base_url, dev_key, {"provider": "scripted", "script": script})
    )

    first: list[dict[str, Any]] = []
    with open_stream(base_url, dev_key, run_id) as response:  # leave after the second delta
        for frame in read_frames(response):
            first.append(json.loads(frame["data"]))
            if sum(event["type"] == "message.delta" for event in first) == 2:
                break
    rest: list[dict[str, Any]] = []
    with open_stream(base_url, dev_key, run_id, last_event_id=first[-1]["seq"]) as response:
        for frame in read_frames(response):
            rest.append(json.loads(frame["data"]))

    seen = first + rest
    assert [event["seq"] for event in seen] == list(range(1, len(seen) + 1))  # none twice, none missed
    assert seen == polled(base_url, dev_key, run_id)
    deltas = "".join(event["data"]["delta"] for event in seen if event["type"] == "message.delta")
    [completed] = [event["data"]["content"] for event in seen if event["type"] == "message.completed"]
    assert deltas == completed == text
    assert any(event["type"] == "message.delta" for event in rest)  # the reconnect got the rest of them
