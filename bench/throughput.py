"""Runs completed per minute on the local stack: a few threads each start a 3-decision scripted run and
wait for it to finish, again and again, for a bounded time (closed loop). The org's rate limits are
raised first so they do not cap it; a burst of creations in a new org (created without rate_limits,
so it gets the defaults) shows where the limiter cuts in; the row reports the limits the org
creation response gave it.
Completion is read from the Runs table directly: from moto's table in this process, without a request
(no API polling that would count against the limits, and no AWS request whose cost would be counted as
the stack's).
"""

import json
import os
import threading
import time
from typing import Any

from bench.endpoints import HIGH_LIMITS
from devstack.stack import DevStack

THREADS = 3
DURATION_S = 30.0
BURST = 30
BURST_WINDOW_MARGIN_S = 15  # the burst takes ~1–3 s
TERMINAL = {"completed", "failed", "cancelled"}


def _pass(stack: DevStack, key: str, duration: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    table = os.environ["RUNS_TABLE"]
    lock = threading.Lock()
    totals = {"started": 0, "completed": 0, "other_terminal": 0, "rate_limited": 0, "unfinished": 0}
    stop_at = time.monotonic() + duration

    def worker() -> None:
        body = json.dumps({"agent": "bench-3"}).encode()
        while time.monotonic() < stop_at:
            status, _, payload = stack.request("POST", "/v1/runs", headers, body)
            if status == 429:
                with lock:
                    totals["rate_limited"] += 1
                time.sleep(0.5)
                continue
            if status != 201:
                raise RuntimeError(f"POST /v1/runs → {status}: {payload[:200]!r}")
            run_id = json.loads(payload)["id"]
            with lock:
                totals["started"] += 1
            state = wait_for_run(table, run_id, stop_at, 0.1)
            with lock:
                if state == "completed":
                    totals["completed"] += 1
                elif state in TERMINAL:
                    totals["other_terminal"] += 1
                else:
                    totals["unfinished"] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 30)
    elapsed = time.monotonic() - started
    return {**totals, "elapsed_s": elapsed, "per_minute": totals["completed"] * 60 / elapsed}


def run_status(table: str, run_id: str) -> str:
    """The run's status in the Runs table, read from moto's table under the moto lock (no request)."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    from devstack.aws import moto_lock
    from devstack.template import MOTO_ACCOUNT_ID, REGION

    with moto_lock():
        item = dynamodb_backends[MOTO_ACCOUNT_ID][REGION].get_table(table).get_item(DynamoType({"S": run_id}))
        return str(item.attrs["status"].value)


def wait_for_run(table: str, run_id: str, until: float, poll_s: float) -> str:
    """The run's status once terminal, or at `until` (monotonic), read every `poll_s`."""
    state = "queued"
    while time.monotonic() < until:
        state = run_status(table, run_id)
        if state in TERMINAL:
            break
        time.sleep(poll_s)
    return state


def measure(stack: DevStack, org_id: str) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {stack.admin_key}", "Content-Type": "application/json"}
    user = {"Authorization": f"Bearer {stack.dev_key}", "Content-Type": "application/json"}
    script = [{"tool_calls": [{"name": "echo", "arguments": {"i": i}}]} for i in range(2)] + [{"text": "ok"}]
    definition = {
        "model": {"provider": "scripted", "script": script},
        "actions": [{"name": "echo", "kind": "builtin"}],
    }
    # Raised before the dev key's first request: the authorizer caches the org's limits with the key.
    body = json.dumps({"rate_limits": HIGH_LIMITS}).encode()
    status, _, payload = stack.request("PATCH", f"/v1/admin/orgs/{org_id}", admin, body)
    if status != 200:
        raise RuntimeError(f"PATCH rate_limits → {status}: {payload[:200]!r}")
    stack.request(
        "POST", "/v1/agents", user, json.dumps({"name": "bench-3", "definition": definition}).encode()
    )
    high = _pass(stack, stack.dev_key, DURATION_S)
    # A fresh org with the default limits (the dev org's counters are full of the bench's requests):
    # a burst of BURST creations (start=false: nothing executes) shows where the limiter cuts in.
    status, _, payload = stack.request(
        "POST", "/v1/admin/orgs", admin, json.dumps({"name": "bench-limited", "credits": 1_000_000}).encode()
    )
    if status != 201:
        raise RuntimeError(f"POST /v1/admin/orgs → {status}: {payload[:200]!r}")
    created = json.loads(payload)  # CreatedOrg: {org: Org (with rate_limits), api_key: CreatedApiKey}
    limits = created["org"]["rate_limits"]
    other = {**user, "Authorization": f"Bearer {created['api_key']['key']}"}
    stack.request(
        "POST", "/v1/agents", other, json.dumps({"name": "bench-3", "definition": definition}).encode()
    )
    statuses: list[int] = []
    retry_after = ""
    # The limiter counts per fixed window: a burst straddling a window's end gets up to twice the
    # limit (a known property, not what this row shows), so start it early in a window.
    from runs_core.logic.rate_limits import WINDOW_SECONDS  # importable once the stack has started

    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < BURST_WINDOW_MARGIN_S:
        time.sleep(left)
    for _ in range(BURST):
        status, headers, _ = stack.request(
            "POST", "/v1/runs", other, json.dumps({"agent": "bench-3", "start": False}).encode()
        )
        statuses.append(status)
        retry_after = headers.get("Retry-After", retry_after)
    burst = {
        "sent": BURST,
        "accepted": statuses.count(201),
        "rate_limited": statuses.count(429),
        "retry_after": retry_after,
        "limits": limits,
    }
    return {"threads": THREADS, "high": high, "burst": burst}
