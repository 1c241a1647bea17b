"""AWS calls per request (and in-process latency) of every route in template.yaml, on the local stack.

The route list comes from the template's Api events, so a new route shows up as a row; a route
without a recipe here is listed as "no recipe". Calls are counted on the request's thread (bench.calls)
with the authorizer's 60 s principal cache warm, as in steady state (a cold authorizer adds a GetItem):
the pass takes minutes, so a GET /v1/org with the same key goes right before each counted request.
The first request of each case is the one counted; the latency samples repeat it. With fewer than
100 samples a "p99" would be the slowest sample, so the row reports p50 and max.
"""

import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from bench import calls
from devstack.stack import DevStack
from devstack.template import Template

SAMPLES = 10
HIGH_LIMITS = {"runs_per_minute": 1_000_000, "requests_per_minute": 1_000_000}


@dataclass
class Request:
    path: str
    body: Any = None  # JSON-encoded unless bytes
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    admin: bool = False


@dataclass
class Case:
    label: str
    prepare: Callable[[], Request]  # called before each sample (not timed)
    samples: int = SAMPLES
    note: str = ""


class Client:
    def __init__(self, stack: DevStack, key: str) -> None:
        self.stack, self.key = stack, key

    def call(self, method: str, request: Request) -> tuple[int, dict[str, str], Any]:
        key = self.stack.admin_key if request.admin else self.key
        headers = {"Authorization": f"Bearer {key}", **request.headers}
        body = request.body
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        path = request.path + (f"?{request.query}" if request.query else "")
        status, response_headers, payload = self.stack.request(method, path, headers, body)
        try:
            parsed = json.loads(payload or b"null")
        except ValueError:
            parsed = None
        return status, response_headers, parsed

    def json(self, method: str, path: str, body: Any = None, admin: bool = False) -> Any:
        status, _, parsed = self.call(method, Request(path, body, admin=admin))
        if status >= 300:
            raise RuntimeError(f"{method} {path} → {status}: {parsed}")
        return parsed


class Fixtures:
    """Agents, runs, threads and files the recipes use."""

    def __init__(self, client: Client, org_id: str) -> None:
        self.client, self.org_id = client, org_id
        self.agent = "bench"
        definition = {"model": {"provider": "scripted", "script": [{"text": "ok"}]}}
        client.json("POST", "/v1/agents", {"name": "bench", "version": "1.0.0", "definition": definition})
        ask = [
            {"text": "Asking.", "tool_calls": [{"name": "ask_user", "arguments": {"prompt": "Which?"}}]},
            {"text": "done"},
        ]
        client.json(
            "POST",
            "/v1/agents",
            {
                "name": "bench-ask",
                "definition": {
                    "model": {"provider": "scripted", "script": ask},
                    "actions": [{"name": "ask_user", "kind": "builtin"}],
                },
            },
        )
        approve = [{"tool_calls": [{"name": "pay", "arguments": {"amount": 1}}]}, {"text": "paid"}]
        pay = {"name": "pay", "kind": "builtin", "builtin": "echo", "requires_approval": True}
        client.json(
            "POST",
            "/v1/agents",
            {
                "name": "bench-approve",
                "definition": {"model": {"provider": "scripted", "script": approve}, "actions": [pay]},
            },
        )
        self.draft_run = self.new_run()
        self.done_run = self.finished_run()
        self.thread = client.json("POST", "/v1/threads", {"metadata": {"bench": "1"}})["id"]
        self.file = client.json(
            "POST", "/v1/files/uploads", {"name": "a.txt", "content_type": "text/plain", "size_bytes": 5}
        )["file"]["id"]

    def new_run(self, agent: str = "bench", start: bool = False) -> str:
        return str(self.client.json("POST", "/v1/runs", {"agent": agent, "start": start})["id"])

    def run_in(self, agent: str, statuses: set[str], timeout: float = 60) -> str:
        run_id = self.new_run(agent, start=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client.json("GET", f"/v1/runs/{run_id}")["status"] in statuses and self._parked(run_id):
                return run_id
            time.sleep(0.05)
        raise TimeoutError(f"run {run_id} of {agent} never reached {statuses}")

    @staticmethod
    def _parked(run_id: str) -> bool:
        """A waiting run's wait task has stored its task token (else the endpoint skips SendTaskSuccess and
        the wait task resumes itself when the token arrives: a different call count)."""
        item = boto3.client("dynamodb").get_item(
            TableName=os.environ["RUNS_TABLE"], Key={"id": {"S": run_id}}, ConsistentRead=True
        )["Item"]
        return item.get("status", {}).get("S") not in ("waiting_for_input", "waiting_approval") or bool(
            item.get("task_token", {}).get("S")
        )

    def finished_run(self) -> str:
        return self.run_in("bench", {"completed"})

    def new_key(self) -> str:
        return str(self.client.json("POST", "/v1/api-keys", {"name": f"k{uuid.uuid4().hex[:6]}"})["id"])


def _multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def recipes(fx: Fixtures) -> dict[tuple[str, str], list[Case]]:
    r = fx.draft_run
    done = fx.done_run
    t = fx.thread
    replay_key = f"bench-{uuid.uuid4().hex}"
    draft = {"agent": "bench", "start": False}
    upload_body, upload_type = _multipart("a.txt", b"hello")

    def fixed(request: Request) -> Callable[[], Request]:
        return lambda: request

    def put_then_delete(path: str, value: Any) -> Callable[[], Request]:
        """Every sample deletes a key that exists: the (untimed) prepare PUTs it first."""

        def prepare() -> Request:
            fx.client.json("PUT", path, {"value": value})
            return Request(path)

        return prepare

    return {
        ("POST", "/v1/agents"): [
            Case(
                "create agent",
                lambda: Request(
                    "/v1/agents",
                    {
                        "name": f"a-{uuid.uuid4().hex[:8]}",
                        "definition": {"model": {"provider": "scripted", "script": [{"text": "x"}]}},
                    },
                ),
            )
        ],
        ("GET", "/v1/agents"): [Case("", fixed(Request("/v1/agents")))],
        ("GET", "/v1/agents/{agent}"): [Case("", fixed(Request("/v1/agents/bench")))],
        ("POST", "/v1/agents/{agent}/versions"): [
            Case(
                "",
                lambda: Request(
                    "/v1/agents/bench/versions",
                    {
                        "version": f"1.{uuid.uuid4().int % 10**6}.0",
                        "definition": {"model": {"provider": "scripted", "script": [{"text": "ok"}]}},
                        "tags": [],
                    },
                ),
            )
        ],
        ("GET", "/v1/agents/{agent}/versions"): [Case("", fixed(Request("/v1/agents/bench/versions")))],
        ("GET", "/v1/agents/{agent}/versions/{version}"): [
            Case("", fixed(Request("/v1/agents/bench/versions/1.0.0")))
        ],
        ("PUT", "/v1/agents/{agent}/tags/{tag}"): [
            Case("", fixed(Request("/v1/agents/bench/tags/stable", {"version": "1.0.0"})))
        ],
        ("POST", "/v1/runs"): [
            Case("latest tag, start=false", fixed(Request("/v1/runs", draft))),
            Case("range ^1, start=false", fixed(Request("/v1/runs", {**draft, "version": "^1"}))),
            Case("start=true (StartExecution)", fixed(Request("/v1/runs", {"agent": "bench"}))),
            Case(
                "Idempotency-Key, first",
                lambda: Request("/v1/runs", draft, headers={"Idempotency-Key": uuid.uuid4().hex}),
            ),
            Case(
                "Idempotency-Key, replay",
                fixed(Request("/v1/runs", draft, headers={"Idempotency-Key": replay_key})),
                note="counted after one first request",
            ),
        ],
        ("GET", "/v1/runs"): [
            Case("limit=20", fixed(Request("/v1/runs", query="limit=20"))),
            Case("status=created", fixed(Request("/v1/runs", query="status=created"))),
            Case("status=created,queued", fixed(Request("/v1/runs", query="status=created,queued"))),
            Case("agent=bench&status=queued", fixed(Request("/v1/runs", query="agent=bench&status=queued"))),
        ],
        ("GET", "/v1/runs/{run_id}"): [Case("", fixed(Request(f"/v1/runs/{r}")))],
        ("POST", "/v1/runs/{run_id}/invoke"): [
            Case("created run", lambda: Request(f"/v1/runs/{fx.new_run()}/invoke"), samples=8)
        ],
        ("POST", "/v1/runs/{run_id}/cancel"): [
            Case("created run", lambda: Request(f"/v1/runs/{fx.new_run()}/cancel", {}), samples=8)
        ],
        ("GET", "/v1/runs/{run_id}/steps"): [Case("completed run", fixed(Request(f"/v1/runs/{done}/steps")))],
        ("POST", "/v1/runs/{run_id}/input"): [
            Case(
                "waiting_for_input run",
                lambda: Request(
                    f"/v1/runs/{fx.run_in('bench-ask', {'waiting_for_input'})}/input", {"content": "this one"}
                ),
                samples=4,
            )
        ],
        ("POST", "/v1/runs/{run_id}/approval"): [
            Case(
                "waiting_approval run",
                lambda: Request(
                    f"/v1/runs/{fx.run_in('bench-approve', {'waiting_approval'})}/approval",
                    {"decision": "approve"},
                ),
                samples=4,
            )
        ],
        ("POST", "/v1/runs/{run_id}/wait"): [
            Case(
                "completed run (returns at once)", fixed(Request(f"/v1/runs/{done}/wait", query="timeout=1"))
            )
        ],
        ("GET", "/v1/runs/{run_id}/memory"): [Case("", fixed(Request(f"/v1/runs/{r}/memory")))],
        ("PUT", "/v1/runs/{run_id}/memory/{key}"): [
            Case("", fixed(Request(f"/v1/runs/{r}/memory/k", {"value": {"a": 1}})))
        ],
        ("DELETE", "/v1/runs/{run_id}/memory/{key}"): [
            Case("existing key", put_then_delete(f"/v1/runs/{r}/memory/k", {"a": 1}))
        ],
        ("POST", "/v1/agents/{agent}/runs"): [
            Case("fire-and-forget", fixed(Request("/v1/agents/bench/runs", {})), samples=8)
        ],
        ("POST", "/v1/agents/{agent}/run"): [
            Case(
                "synchronous (waits)",
                fixed(Request("/v1/agents/bench/run", {}, query="timeout=25")),
                samples=5,
                note="includes polling while the run executes",
            )
        ],
        ("POST", "/v1/threads"): [Case("", fixed(Request("/v1/threads", {})))],
        ("GET", "/v1/threads"): [Case("", fixed(Request("/v1/threads")))],
        ("GET", "/v1/threads/{thread_id}"): [Case("", fixed(Request(f"/v1/threads/{t}")))],
        ("POST", "/v1/threads/{thread_id}/runs"): [
            Case(
                "new thread, with a message",
                lambda: Request(
                    f"/v1/threads/{fx.client.json('POST', '/v1/threads', {})['id']}/runs",
                    {"agent": "bench", "message": "hi"},
                ),
                samples=8,
            )
        ],
        ("GET", "/v1/threads/{thread_id}/runs"): [Case("", fixed(Request(f"/v1/threads/{t}/runs")))],
        ("GET", "/v1/threads/{thread_id}/messages"): [Case("", fixed(Request(f"/v1/threads/{t}/messages")))],
        ("GET", "/v1/threads/{thread_id}/memory"): [Case("", fixed(Request(f"/v1/threads/{t}/memory")))],
        ("PUT", "/v1/threads/{thread_id}/memory/{key}"): [
            Case("", fixed(Request(f"/v1/threads/{t}/memory/k", {"value": "v"})))
        ],
        ("DELETE", "/v1/threads/{thread_id}/memory/{key}"): [
            Case("existing key", put_then_delete(f"/v1/threads/{t}/memory/k", "v"))
        ],
        ("GET", "/v1/runs/{run_id}/events"): [
            Case("polling JSON, completed run", fixed(Request(f"/v1/runs/{done}/events"))),
        ],
        ("GET", "/v1/org"): [Case("", fixed(Request("/v1/org")))],
        ("POST", "/v1/api-keys"): [Case("", fixed(Request("/v1/api-keys", {"name": "bench"})))],
        ("GET", "/v1/api-keys"): [Case("", fixed(Request("/v1/api-keys")))],
        ("DELETE", "/v1/api-keys/{key_id}"): [
            Case("", lambda: Request(f"/v1/api-keys/{fx.new_key()}"), samples=8)
        ],
        ("POST", "/v1/admin/orgs"): [
            Case(
                "admin key",
                lambda: Request("/v1/admin/orgs", {"name": f"o-{uuid.uuid4().hex[:6]}"}, admin=True),
            )
        ],
        ("PATCH", "/v1/admin/orgs/{org_id}"): [
            Case(
                "admin key",
                fixed(Request(f"/v1/admin/orgs/{fx.org_id}", {"rate_limits": HIGH_LIMITS}, admin=True)),
            )
        ],
        ("GET", "/v1/health"): [Case("no auth", fixed(Request("/v1/health")))],
        ("GET", "/v1/openapi.json"): [Case("no auth", fixed(Request("/v1/openapi.json")))],
        ("GET", "/v1/docs"): [Case("no auth", fixed(Request("/v1/docs")))],
        ("POST", "/v1/files"): [
            Case(
                "multipart, 5 bytes",
                fixed(Request("/v1/files", upload_body, headers={"Content-Type": upload_type})),
            )
        ],
        ("POST", "/v1/files/uploads"): [
            Case(
                "presigned PUT",
                fixed(
                    Request(
                        "/v1/files/uploads", {"name": "b.txt", "content_type": "text/plain", "size_bytes": 5}
                    )
                ),
            )
        ],
        ("GET", "/v1/files/{file_id}"): [Case("", fixed(Request(f"/v1/files/{fx.file}")))],
    }


def sample(
    client: Client, method: str, prepare: Callable[[], Request], samples: int = SAMPLES
) -> tuple[int, calls.Counts, list[float]]:
    """(status, AWS calls, latencies in ms): the first request is counted, `samples` more are timed.
    The authorizer's principal cache (60 s) may have expired during a long pass, a slow prepare or
    seeding: it is warmed with the counted request's key first, as in steady state."""
    request = prepare()
    client.call("GET", Request("/v1/org", admin=request.admin))
    with calls.counting() as counts:
        status, _, _ = client.call(method, request)
    timings = []
    for _ in range(samples):
        request = prepare()
        started = time.perf_counter()
        client.call(method, request)
        timings.append((time.perf_counter() - started) * 1000)
    return status, counts, timings


def measure(stack: DevStack, org_id: str) -> list[dict[str, Any]]:
    """One row per route (or per case of a route): {route, case, status, calls, by_api, samples, p50,
    max, note}."""
    client = Client(stack, stack.dev_key)
    client.json("PATCH", f"/v1/admin/orgs/{org_id}", {"rate_limits": HIGH_LIMITS}, admin=True)
    client.json("GET", "/v1/org")  # warm the authorizer cache and the handlers' imports
    fx = Fixtures(client, org_id)
    table = recipes(fx)
    template = Template(stack.template_path)
    rows: list[dict[str, Any]] = []
    for function, _, method, path, _ in template.api_operations():
        route = f"{method} {path}"
        cases = table.get((method, path))
        if not cases:
            rows.append({"route": route, "case": "", "note": f"no recipe in bench/endpoints.py ({function})"})
            continue
        for case in cases:
            try:
                if "replay" in case.label:
                    client.call(method, case.prepare())
                status, counts, timings = sample(client, method, case.prepare, case.samples)
            except Exception as error:  # a broken recipe is a row, not a crashed bench
                rows.append({"route": route, "case": case.label, "note": f"failed: {error}"[:160]})
                continue
            rows.append(
                {
                    "route": route,
                    "case": case.label,
                    "status": status,
                    "calls": counts.total,
                    "by_api": counts.by_api(),
                    "samples": len(timings),
                    "p50": statistics.median(timings),
                    "max": max(timings),
                    "note": case.note,
                }
            )
        if (method, path) == ("GET", "/v1/runs/{run_id}/events"):
            rows.append(
                {
                    "route": route,
                    "case": "Accept: text/event-stream (SSE)",
                    "note": "not measured: a stream polls the log until the run ends or `wait` passes, "
                    "so its calls grow with time, not per request (latency: see the SSE row)",
                }
            )
    return rows
