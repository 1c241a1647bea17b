"""Observability on the local stack: log keys per invocation, no secrets in the logs, EMF metrics of a run."""

import base64
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from runs_core.actions.config import get_actions_config
from runs_core.stores import get_stores
from tests.integration.helpers import agent_with, execution_done, start, wait
from tests.support import serving

WEBHOOK_KEY = b"observability-test-webhook-key"
WHSEC = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()
USAGE = {"input_tokens": 1000, "output_tokens": 200}


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        payload = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch, allow_loopback: None) -> Iterator[str]:
    monkeypatch.setenv("RUNS_API_WEBHOOK_SECRET", WHSEC)
    get_actions_config.cache_clear()
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Hook)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    get_actions_config.cache_clear()


class LogLines(list[dict[str, Any]]):
    """The service logger's JSON lines so far (Powertools formatter), parsed on each read."""

    def __init__(self, stream: io.StringIO) -> None:
        super().__init__()
        self.stream = stream

    def read(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    from runs_core.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    service_logger = logging.getLogger(logger.name)
    service_logger.addHandler(handler)
    try:
        yield LogLines(stream)
    finally:
        service_logger.removeHandler(handler)


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> Callable[[], list[Any]]:
    """Reads the EMF records printed so far (metrics are off locally unless enabled, as here)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capfd.readouterr()

    def read() -> list[dict[str, Any]]:
        out = capfd.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]

    return read


def _run_with_http_action(api: Any, url: str) -> tuple[dict[str, Any], str]:
    """A run that calls an http action behind an approval (so a task token exists); returns (run, token)."""
    script = [
        {"tool_calls": [{"name": "notify", "arguments": {"note": "hi"}}], "usage": USAGE},
        {"text": "Done.", "usage": USAGE},
    ]
    action = {"name": "notify", "kind": "http", "url": url, "requires_approval": True}
    agent = agent_with(api, script, [action], prefix="obs", instructions="Observability test.")
    run_id = start(api, agent)["id"]
    waited = wait(api, run_id)
    assert waited["status"] == "waiting_approval", waited
    token = ""
    deadline = time.monotonic() + 30  # the wait task parks its token just after the status changes
    while not token:
        token = (get_stores().runs.get(run_id, consistent=True) or {}).get("task_token") or ""
        if not token:
            assert time.monotonic() < deadline, f"run {run_id} never stored its task token"
            time.sleep(0.05)
    approved = api.request("POST", f"/v1/runs/{run_id}/approval", json={"decision": "approve"})
    assert approved.status == 200, approved.json()
    run = wait(api, run_id)
    assert run["status"] == "completed", run
    assert execution_done(run_id) == "SUCCEEDED"  # nothing of this run still runs into the next test
    return run, token


def test_no_secrets_in_the_logs(api, dev_key, hook, log_lines):
    _, token = _run_with_http_action(api, hook)
    lines = log_lines.read()
    text = json.dumps(lines)
    assert lines, "nothing was logged: the test would prove nothing"
    for secret in (dev_key, f"Bearer {dev_key}", WHSEC, WEBHOOK_KEY.decode(), token):
        assert secret not in text
    assert '"authorization"' not in text.lower()


def test_every_line_has_the_invocation_keys(api, hook, log_lines):
    run, _ = _run_with_http_action(api, hook)
    lines = log_lines.read()
    requests = [line for line in lines if line.get("message") == "request"]
    assert requests
    org_id = requests[0]["org_id"]
    assert org_id.startswith("org_")
    for line in requests:
        assert line["request_id"] and line["correlation_id"] == line["request_id"]
        assert line["org_id"] == org_id
    run_routes = [line for line in requests if f"/v1/runs/{run['id']}" in line.get("path", "")]
    assert run_routes and all(line["run_id"] == run["id"] for line in run_routes)
    created = [line for line in requests if line.get("path") == "/v1/runs"]
    assert created and created[0]["run_id"] == run["id"]
    steps = [line for line in lines if line.get("message") == "task done" and line.get("task") == "step"]
    assert steps
    for line in steps:
        assert line["org_id"] == org_id and "step_index" in line and line["task"] == "step"


def test_a_run_writes_its_metrics(api, emf):
    script = [{"text": "Hello.", "usage": USAGE}]
    agent = agent_with(api, script, [], prefix="obs", instructions="Observability test.")
    run = wait(api, start(api, agent)["id"])
    assert run["status"] == "completed", run
    # The step that completed the run writes its metrics after the status changed: read them once the
    # execution has ended (and never leave a thread printing into this test's capture after it closed —
    # print() in CPython 3.12.1 may then write to a freed stream and crash: python/cpython#130163).
    assert execution_done(run["id"]) == "SUCCEEDED"

    values: dict[str, list[Any]] = {}
    for record in emf():
        directive = record["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "RunsApi"
        for metric in directive["Metrics"]:
            value = record[metric["Name"]]
            for one in value if isinstance(value, list) else [value]:
                values.setdefault(metric["Name"], []).append((one, record))
    assert [value for value, _ in values["RunsCreated"]] == [1.0]
    assert [value for value, _ in values["RunsCompleted"]] == [1.0]
    (input_tokens, model_record), *_ = values["ModelInputTokens"]
    assert input_tokens == 1000 and model_record["Provider"] == "scripted"
    assert [value for value, _ in values["ModelOutputTokens"]] == [200]
    assert values["RunCostUsd"][0][0] == pytest.approx(0.006)  # 1000 * $3/M + 200 * $15/M
    assert values["StepLatency"] and all(value >= 0 for value, _ in values["StepLatency"])
    assert "RunsFailed" not in values
