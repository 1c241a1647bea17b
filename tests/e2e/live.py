"""Helpers of the e2e tests that watch live runs (SSE, WebSocket) on the local stack over real HTTP."""

import uuid
from collections.abc import Iterator
from typing import Any

import requests

TIMEOUT = 10
TERMINAL = {"run.completed", "run.failed", "run.cancelled"}
ASK_SCRIPT = [
    {"text": "Let me ask.", "tool_calls": [{"name": "ask_user", "arguments": {"prompt": "Which account?"}}]},
    {"text": "Paid from savings."},
]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def scripted_agent(
    base_url: str, key: str, script: list[dict[str, Any]], actions: list[Any] | None = None
) -> str:
    """A new agent with a scripted model (offline): its name."""
    name = f"scripted-{uuid.uuid4().hex[:10]}"
    definition = {"instructions": "Answer.", "model": {"provider": "scripted", "script": script}}
    created = requests.post(
        f"{base_url}/agents",
        json={"name": name, "definition": {**definition, "actions": actions or []}},
        headers=auth(key),
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text
    return name


def asking_run(base_url: str, key: str) -> str:
    """A run of an agent that waits for input, so its events can be watched before the input arrives."""
    definition = {
        "instructions": "Ask, then answer.",
        "model": {"provider": "scripted", "script": ASK_SCRIPT},
        "actions": [{"name": "ask_user", "kind": "builtin"}],
    }
    name = f"live-{uuid.uuid4().hex[:10]}"
    created = requests.post(
        f"{base_url}/agents",
        json={"name": name, "definition": definition},
        headers=auth(key),
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text
    run = requests.post(f"{base_url}/runs", json={"agent": name}, headers=auth(key), timeout=TIMEOUT)
    assert run.status_code == 201, run.text
    return str(run.json()["id"])


def other_org_key(base_url: str, admin_key: str) -> str:
    """The API key of a new org (made through the operators' API), to try another org's runs with."""
    created = requests.post(
        f"{base_url}/admin/orgs",
        json={"name": f"other-{uuid.uuid4().hex[:8]}", "credits": 100},
        headers=auth(admin_key),
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["api_key"]["key"])


def answer(base_url: str, key: str, run_id: str) -> None:
    response = requests.post(
        f"{base_url}/runs/{run_id}/input", json={"content": "savings"}, headers=auth(key), timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text


def polled(base_url: str, key: str, run_id: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{base_url}/runs/{run_id}/events", params={"limit": 1000}, headers=auth(key), timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


STREAM_TIMEOUT = (5, 40)  # connect, and longest silence between chunks (heartbeats come every ~10 s)


def open_stream(base_url: str, key: str, run_id: str, last_event_id: int | None = None) -> requests.Response:
    headers = {**auth(key), "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    return requests.get(
        f"{base_url}/runs/{run_id}/events", headers=headers, stream=True, timeout=STREAM_TIMEOUT
    )


def read_frames(response: requests.Response) -> Iterator[dict[str, str]]:
    """Frames as they arrive (comments skipped); ends when the server ends the stream."""
    fields: dict[str, str] = {}
    for line in response.iter_lines(chunk_size=None, decode_unicode=True):
        if line == "":
            if fields:
                yield fields
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    if fields:
        yield fields
