"""Event write → client latency on the local stack, over SSE and over the WebSocket API.

One scripted run with enough tool calls to write ≥ 1,000 events; an SSE client and a WebSocket client
watch it from before it starts and compare each event's arrival with its `created_at` (same machine,
same clock). The run is created (run.created) before the clients can subscribe to it, so only events
written after both had subscribed count: a backlog event's "latency" would be the setup time.
The local SSE stream (by each write of its run) and the stream mapping (the router: WebSocket pushes;
by each write to a stream) are woken (devstack.wakeups), not by a poll timer. Both share the machine's
cores with the run itself.
"""

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import requests

from devstack.ws_client import Client

REPO = Path(__file__).resolve().parents[1]
TURNS = 150  # 7 events per tool-call turn (decision + action) → ~1,050 events
DEADLINE_S = 180
TERMINAL = {"run.completed", "run.failed", "run.cancelled"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(**extra_env: str) -> tuple[subprocess.Popen[bytes], str, str]:
    port, key = _free_port(), "sk_test_" + secrets.token_urlsafe(16)
    env = {**os.environ, "RUNS_API_PORT": str(port), "RUNS_API_DEV_KEY": key, "PYTHONUNBUFFERED": "1"}
    env.update(extra_env)
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack"],
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


# (created_at as epoch seconds, write → arrival in ms) of each event a watcher received
Arrivals = list[tuple[float, float]]


def _arrival(envelope: dict) -> tuple[float, float]:
    written = _epoch(envelope["created_at"])
    return written, (time.time() - written) * 1000


def _watch_sse(
    base: str, headers: dict[str, str], run_id: str, subscribed: threading.Event, broken: list[str]
) -> Arrivals:
    """Arrivals over SSE, reconnecting with Last-Event-ID when a stream ends; a stream cut off without
    its last chunk (the server's producer raised) is listed in `broken` and reconnected too."""
    latencies: Arrivals = []
    after, started = 0, time.monotonic()
    while time.monotonic() - started < DEADLINE_S:
        stream = requests.get(
            f"{base}/runs/{run_id}/events",
            headers={**headers, "Accept": "text/event-stream", "Last-Event-ID": str(after)},
            stream=True,
            timeout=60,
        )
        subscribed.set()  # the response has begun: the stream is polling the log
        try:
            for line in stream.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    envelope = json.loads(line[6:])
                    latencies.append(_arrival(envelope))
                    after = envelope["seq"]
                    if envelope["type"] in TERMINAL:
                        return latencies
        except requests.exceptions.ChunkedEncodingError as error:
            broken.append(str(error)[:120])
    return latencies


def _watch_websocket(base: str, key: str, run_id: str, subscribed: threading.Event) -> Arrivals:
    port = int(base.split(":")[2].split("/")[0])
    client = Client(port, query=f"?api_key={key}")
    latencies: Arrivals = []
    try:
        client.send({"action": "subscribe", "run_id": run_id, "after_seq": 0})
        started = time.monotonic()
        while time.monotonic() - started < DEADLINE_S:
            message = client.receive()
            if message.get("type") == "subscribed":
                subscribed.set()
            elif "seq" in message:
                latencies.append(_arrival(message))
                if message["type"] in TERMINAL:
                    break
    finally:
        client.close()
    return latencies


def run_bench() -> dict[str, dict[str, float]]:
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
        # Created first (run.created is written now, before anyone watches), started once both clients
        # have subscribed; only events written from then on are measured.
        run = requests.post(
            f"{base}/runs", json={"agent": "latency", "start": False}, headers=headers, timeout=10
        ).json()
        results: dict[str, Arrivals] = {}
        broken_streams: list[str] = []
        sse_ready, ws_ready = threading.Event(), threading.Event()
        watchers = [
            threading.Thread(
                target=lambda: results.update(
                    SSE=_watch_sse(base, headers, run["id"], sse_ready, broken_streams)
                )
            ),
            threading.Thread(
                target=lambda: results.update(WebSocket=_watch_websocket(base, key, run["id"], ws_ready))
            ),
        ]
        for watcher in watchers:
            watcher.start()
        for ready in (sse_ready, ws_ready):
            ready.wait(30)  # setup, not a measurement (bounded)
        watching_from = time.time()  # created_at is truncated to ms: run.created is always before it
        requests.post(f"{base}/runs/{run['id']}/invoke", headers=headers, timeout=10)
        for watcher in watchers:
            watcher.join(DEADLINE_S)
        summary: dict[str, dict[str, float]] = {}
        for channel in ("SSE", "WebSocket"):
            arrivals = results.get(channel) or []
            latencies = sorted(ms for written, ms in arrivals if written >= watching_from)
            broken = len(broken_streams) if channel == "SSE" else 0
            if not latencies:
                summary[channel] = {"events": 0, "broken_streams": broken}
                continue
            summary[channel] = {
                "events": len(latencies),
                "before_watching": len(arrivals) - len(latencies),
                "p50": statistics.median(latencies),
                "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
                "max": latencies[-1],
                "broken_streams": broken,
            }
        return summary
    finally:
        _stop_server(process)


def _stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()  # bounded: the bench never leaves a server behind
        process.wait()
