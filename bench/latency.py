"""Event write → SSE client latency on the local stack (real HTTP, the live local SSE stream).

One scripted run with enough tool calls to write ≥ 1,000 events; the client reads the SSE stream and
compares each frame's arrival with the event's `created_at` (same machine, same clock). The local SSE
stream polls the log every 0.5 s, which bounds what this measures.
"""

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
TURNS = 150  # 7 events per tool-call turn (decision + action) → ~1,050 events
DEADLINE_S = 180


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server() -> tuple[subprocess.Popen[bytes], str, str]:
    port, key = _free_port(), "sk_test_" + secrets.token_urlsafe(16)
    env = {**os.environ, "RUNS_API_PORT": str(port), "RUNS_API_DEV_KEY": key, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "local"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/health", timeout=5).status_code == 200:
                return process, base, key
        except requests.RequestException:
            pass  # not listening yet
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("the local stack did not start")
        time.sleep(0.2)


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def run_bench() -> None:
    process, base, key = _start_server()
    try:
        headers = {"Authorization": f"Bearer {key}"}
        script = [{"tool_calls": [{"name": "echo", "arguments": {"i": i}}]} for i in range(TURNS)] + [
            {"text": "ok"}
        ]
        definition = {
            "model": {"provider": "scripted", "script": script},
            "actions": [{"name": "echo", "kind": "builtin"}],
            "limits": {"max_steps": 1000, "max_tokens": 10_000_000},
        }
        requests.post(
            f"{base}/agents", json={"name": "latency", "definition": definition}, headers=headers, timeout=10
        )
        run = requests.post(f"{base}/runs", json={"agent": "latency"}, headers=headers, timeout=10).json()
        latencies: list[float] = []
        after, started = 0, time.monotonic()
        while time.monotonic() - started < DEADLINE_S:
            stream = requests.get(
                f"{base}/runs/{run['id']}/events",
                headers={**headers, "Accept": "text/event-stream", "Last-Event-ID": str(after)},
                stream=True,
                timeout=60,
            )
            done = False
            for line in stream.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    envelope = json.loads(line[6:])
                    latencies.append((time.time() - _epoch(envelope["created_at"])) * 1000)
                    after = envelope["seq"]
                    done = envelope["type"] in ("run.completed", "run.failed", "run.cancelled")
            if done:
                break
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"\nlatency bench: event write → SSE client, {len(latencies)} events of one live run (local)")
        print(
            f"  p50 {statistics.median(latencies):7.1f} ms   p99 {p99:7.1f} ms   max {latencies[-1]:7.1f} ms"
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()  # bounded: the bench never leaves a server behind
            process.wait()
