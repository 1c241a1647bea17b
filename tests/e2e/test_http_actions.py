"""`http` actions on the running local stack: refused for non-public targets unless allow-listed, and, when
allowed, signed with the webhook key `make dev` prints, which the official Standard Webhooks library
verifies."""

import json
import re
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.e2e.live import TERMINAL, TIMEOUT, auth, polled
from tests.support import serving

RUN_DEADLINE_S = 30


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server: ReceiverServer = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server.deliveries.append((body, dict(self.headers)))
        payload = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:
        pass


class ReceiverServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Receiver)
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []


@pytest.fixture
def receiver() -> Iterator[ReceiverServer]:
    with serving(ReceiverServer()) as server:
        yield server


def run_calling(base_url: str, key: str, url: str) -> list[dict[str, Any]]:
    """Run an agent whose script calls an http action at `url` once; its events once the run has ended."""
    definition = {
        "instructions": "Notify, then answer.",
        "model": {
            "provider": "scripted",
            "script": [{"tool_calls": [{"name": "notify", "arguments": {"note": "hi"}}]}, {"text": "Done."}],
        },
        "actions": [{"name": "notify", "kind": "http", "url": url}],
    }
    name = f"hook-{uuid.uuid4().hex[:10]}"
    body = {"name": name, "definition": definition}
    created = requests.post(f"{base_url}/agents", json=body, headers=auth(key), timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    run = requests.post(f"{base_url}/runs", json={"agent": name}, headers=auth(key), timeout=TIMEOUT)
    assert run.status_code == 201, run.text
    deadline = time.monotonic() + RUN_DEADLINE_S
    while time.monotonic() < deadline:
        events = polled(base_url, key, run.json()["id"])
        if events and events[-1]["type"] in TERMINAL:
            return events
        time.sleep(0.2)
    raise AssertionError(f"run {run.json()['id']} did not end within {RUN_DEADLINE_S} s")


def tool_result(events: list[dict[str, Any]]) -> Any:
    [result] = [event["data"]["result"] for event in events if event["type"] == "tool.result"]
    return result


def test_an_http_action_to_loopback_is_refused_by_default(base_url, dev_key, receiver):
    events = run_calling(base_url, dev_key, f"http://127.0.0.1:{receiver.server_address[1]}/hook")
    assert "refused" in json.dumps(tool_result(events))
    assert receiver.deliveries == []


def test_an_allow_listed_receiver_verifies_the_printed_webhook_key(loopback_stack, receiver):
    server = loopback_stack
    printed = re.search(r"webhook key\s+(whsec_\S+)", server.output())
    assert printed, server.output()

    events = run_calling(
        server.base_url, server.dev_key, f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    )

    assert tool_result(events) == {"ok": True}
    [(body, headers)] = receiver.deliveries
    assert Webhook(printed.group(1)).verify(body, headers)["arguments"] == {"note": "hi"}
