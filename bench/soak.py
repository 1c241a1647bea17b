"""Memory and speed of the local stack over many runs: RUNS three-decision scripted runs (two echo tool
calls, then an answer) created through the API by THREADS client threads, each waiting for its run to
finish before it creates the next (closed loop). The process's RSS is read at every quarter, and the
runs completed per minute within each quarter.

What it shows: whether the local stack keeps anything per finished run beyond DynamoDB's items (RSS
growth per run after the first SETTLE runs, when caches and the execution environments are warm), and
whether it slows down as its tables grow (last quarter's runs/min vs the first's).

RUNS is BENCH_SOAK_RUNS (default 1,000) so a quick look can use fewer. Completion is read from the Runs
table directly, from moto's table without a request (bench.throughput.run_status): the bench's own
polling is not the stack's cost, and as GetItem requests it was ~7 per run, ~8% of a run's CPU.
"""

import itertools
import json
import os
import threading
import time
from typing import Any

from bench.endpoints import HIGH_LIMITS
from bench.throughput import TERMINAL, wait_for_run
from devstack.stack import DevStack

RUNS = int(os.environ.get("BENCH_SOAK_RUNS", "1000"))
THREADS = 4
SETTLE = 100  # growth per run is measured after this many runs (warm caches and environments)
POLL_S = 0.02  # a client notices its run ended at most this late (0.1: the loop idled ~50 ms a run)
RUN_TIMEOUT_S = 120.0  # one run that takes longer is counted unfinished
BUDGET_S = 1800.0  # the whole section stops creating runs after this
AGENT = "bench-soak"


def rss_mb() -> float:
    """This process's resident set size in MB (Linux /proc; ps -o rss reads the same)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def checkpoints(runs: int) -> list[int]:
    """0, the quarters of `runs`, and SETTLE when it is below the first quarter."""
    points = {0, runs} | {runs * q // 4 for q in range(1, 4)}
    if 0 < SETTLE < runs // 4:
        points.add(SETTLE)
    return sorted(points)


def measure(stack: DevStack, org_id: str, runs: int = RUNS) -> dict[str, Any]:
    """{runs, threads, points: [{completed, rss_mb, elapsed_s}], completed, other_terminal, unfinished}."""
    admin = {"Authorization": f"Bearer {stack.admin_key}", "Content-Type": "application/json"}
    user = {"Authorization": f"Bearer {stack.dev_key}", "Content-Type": "application/json"}
    status, _, payload = stack.request(
        "PATCH", f"/v1/admin/orgs/{org_id}", admin, json.dumps({"rate_limits": HIGH_LIMITS}).encode()
    )
    if status != 200:
        raise RuntimeError(f"PATCH rate_limits → {status}: {payload[:200]!r}")
    script = [{"tool_calls": [{"name": "echo", "arguments": {"i": i}}]} for i in range(2)] + [{"text": "ok"}]
    definition = {
        "model": {"provider": "scripted", "script": script},
        "actions": [{"name": "echo", "kind": "builtin"}],
    }
    status, _, payload = stack.request(
        "POST", "/v1/agents", user, json.dumps({"name": AGENT, "definition": definition}).encode()
    )
    if status not in (201, 409):
        raise RuntimeError(f"POST /v1/agents → {status}: {payload[:200]!r}")

    table = os.environ["RUNS_TABLE"]
    body = json.dumps({"agent": AGENT}).encode()
    wanted = checkpoints(runs)
    lock = threading.Lock()
    totals = {"created": 0, "done": 0, "completed": 0, "other_terminal": 0, "unfinished": 0}
    points: list[dict[str, float]] = []
    began, cpu_began = time.monotonic(), time.process_time()
    stop_at = began + BUDGET_S

    def record(done: int) -> None:  # under lock
        if done in wanted:
            points.append(
                {
                    "completed": done,
                    "rss_mb": rss_mb(),
                    "elapsed_s": time.monotonic() - began,
                    "cpu_s": time.process_time() - cpu_began,  # every thread of the process
                }
            )

    record(0)

    def worker() -> None:
        while time.monotonic() < stop_at:
            with lock:
                if totals["created"] >= runs:
                    return
                totals["created"] += 1
            status, _, payload = stack.request("POST", "/v1/runs", user, body)
            if status != 201:
                raise RuntimeError(f"POST /v1/runs → {status}: {payload[:200]!r}")
            run_id = json.loads(payload)["id"]
            state = wait_for_run(table, run_id, min(time.monotonic(), stop_at) + RUN_TIMEOUT_S, POLL_S)
            with lock:
                key = (
                    "completed"
                    if state == "completed"
                    else "other_terminal"
                    if state in TERMINAL
                    else "unfinished"
                )
                totals[key] += 1
                totals["done"] += 1
                record(totals["done"])

    threads = [threading.Thread(target=worker, name=f"soak-{i}", daemon=True) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BUDGET_S + RUN_TIMEOUT_S + 30)
    return {"runs": runs, "threads": THREADS, "points": points, **totals}


def quarters(result: dict[str, Any]) -> list[dict[str, float]]:
    """Per quarter (the points at 0, ¼, ½, ¾, 1 of the runs): runs, seconds, runs/min, CPU per run,
    RSS at its end."""
    runs = result["runs"]
    marks = [runs * q // 4 for q in range(5)]
    by_count = {point["completed"]: point for point in result["points"]}
    out = []
    for start, end in itertools.pairwise(marks):
        if start not in by_count or end not in by_count or end == start:
            continue
        seconds = by_count[end]["elapsed_s"] - by_count[start]["elapsed_s"]
        cpu = by_count[end]["cpu_s"] - by_count[start]["cpu_s"]
        out.append(
            {
                "from": start,
                "to": end,
                "seconds": seconds,
                "per_minute": (end - start) * 60 / seconds if seconds > 0 else float("nan"),
                "rss_mb": by_count[end]["rss_mb"],
                "cpu_ms_per_run": cpu * 1000 / (end - start),
            }
        )
    return out


def growth_per_run(result: dict[str, Any]) -> float | None:
    """MB of RSS per run between SETTLE runs (or the first quarter) and the last point."""
    points = [point for point in result["points"] if point["completed"] >= min(SETTLE, result["runs"] // 4)]
    if len(points) < 2 or points[-1]["completed"] == points[0]["completed"]:
        return None
    first, last = points[0], points[-1]
    return float((last["rss_mb"] - first["rss_mb"]) / (last["completed"] - first["completed"]))
