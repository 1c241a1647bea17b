"""Injected faults end a run in a defined state with a contiguous event log (issue: execution)."""

import json
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runs_core.changes import StaleRun
from runs_core.storage import runs as runs_storage
from runs_core.stores import get_stores
from tests.integration.helpers import assert_contiguous, create_agent, run_to_end, start

SCRIPT = [{"tool_calls": [{"name": "echo", "arguments": {"n": 1}}]}, {"text": "done"}]


def run_agent_to_end(api, agent: str) -> dict:
    """A new run of `agent`, once it has ended."""
    return run_to_end(api, start(api, agent)["id"])


def test_a_crashing_step_fails_the_run_with_internal_error(api, monkeypatch):
    """The step Lambda raises: the state machine's Catch runs FailRun; no stack trace reaches the API."""
    agent = create_agent(api, {"provider": "scripted", "script": SCRIPT})
    store = get_stores().steps

    def broken(run_id: str) -> list:
        raise RuntimeError("disk on fire: secret-token-123")

    monkeypatch.setattr(store, "all", broken)
    run = run_agent_to_end(api, agent)
    assert run["status"] == "failed" and run["error"]["code"] == "internal_error"
    assert "secret-token-123" not in json.dumps(run) and "disk" not in run["error"]["message"]
    assert assert_contiguous(api, run["id"])[1][-1] == "run.failed"


def test_a_lost_write_race_is_retried_and_the_run_completes(api, monkeypatch):
    """Conditional-check failures (another writer moved the run) make the step re-read and go on."""
    agent = create_agent(api, {"provider": "scripted", "script": SCRIPT})
    real = runs_storage.RunStore.commit
    failures = {"left": 2}
    lock = threading.Lock()

    def flaky(self, run, *args, **kwargs):
        with lock:
            if failures["left"] and run["status"] == "running":
                failures["left"] -= 1
                raise StaleRun
        return real(self, run, *args, **kwargs)

    monkeypatch.setattr(runs_storage.RunStore, "commit", flaky)
    run = run_agent_to_end(api, agent)
    assert failures["left"] == 0
    assert run["status"] == "completed" and run["output"] == {"answer": "done"}
    types = assert_contiguous(api, run["id"])[1]
    assert types.count("tool.result") == 1 and types.count("run.completed") == 1


class ModelServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that always refuses the request (400: not retried)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"error": {"message": "model overloaded or misconfigured"}}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def failing_model_url(allow_loopback):
    server = ThreadingHTTPServer(("127.0.0.1", 0), ModelServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_a_failing_model_fails_the_run_with_model_error(api, failing_model_url):
    agent = create_agent(api, {"provider": "openai", "id": "test-model", "base_url": failing_model_url})
    run = run_agent_to_end(api, agent)
    assert run["status"] == "failed" and run["error"]["code"] == "model_error", run
    assert assert_contiguous(api, run["id"])[1][-1] == "run.failed"


def test_max_duration_fails_the_run_with_timeout(api, monkeypatch):
    name = f"slow-{uuid.uuid4().hex[:8]}"
    definition = {
        "model": {
            "provider": "scripted",
            "script": [{"tool_calls": [{"name": "pay", "arguments": {}}]}, {"text": "x"}],
        },
        "actions": [{"name": "pay", "kind": "builtin", "builtin": "echo", "requires_approval": True}],
        "limits": {"max_duration_seconds": 60},
    }
    api.request("POST", "/v1/agents", json={"name": name, "definition": definition})
    run = api.request("POST", "/v1/runs", json={"agent": name}).json()
    assert api.request("POST", f"/v1/runs/{run['id']}/wait", query={"timeout": "20"}).json()["status"] == (
        "waiting_approval"
    )
    # The run outlives its 60 s limit while it waits: move the clock on instead of sleeping (no load can
    # make the first leg take that long, and the test does not depend on how fast the machine is).
    from runs_core import clock

    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(seconds=61))
    api.request("POST", f"/v1/runs/{run['id']}/approval", json={"decision": "approve"})
    done = run_to_end(api, run["id"])
    assert done["status"] == "failed" and done["error"]["code"] == "timeout"
