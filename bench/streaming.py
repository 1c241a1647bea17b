"""Live model output on the local stack: how soon a model's words reach SSE and WebSocket clients, and
what writing them live costs (`python -m bench.streaming`, or section 8 of `make bench`).

A real local server (subprocess) and an OpenAI-compatible model server in this process (loopback,
allow-listed) that streams CHUNKS chunks, one every INTERVAL_S, noting when it sent each. A run of it
streams twice: alone, then while BACKGROUND other scripted runs execute in the same local process (one
interpreter: they compete for it). An SSE client and a WebSocket client watch it from before it starts.
Measured per client:
* event written → client: each event's created_at vs its arrival (same clock), for the events written
  after both clients had subscribed (run.created is written before: its "latency" would be the set-up
  time of the clients, not a delivery);
* model chunk → client: when the server sent a chunk vs when the delta holding it arrived (the flush
  window included);
* model's first chunk → first delta at the client, over FIRST_RUNS short runs.
Cost: the write units the live message used (each flush is one transaction: the run item's update and the
event's put, 2 WRU per KB of each) per 1,000 streamed output tokens (a chunk is one token here, as in
OpenAI's stream), and in dollars at on-demand prices.
"""

import json
import statistics
import threading
import time
from datetime import datetime
from typing import Any

import requests

from bench.latency import DEADLINE_S, TERMINAL, _start_server, _stop_server
from devstack.ws_client import Client
from tests.support import ModelServer, serving

CHUNKS = 1000
INTERVAL_S = 0.01
FIRST_RUNS = 10
BACKGROUND = 3
WRITE_UNIT_USD = 0.625 / 1_000_000  # DynamoDB on-demand, per write request unit


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


class TimedModel(ModelServer):
    """ModelServer that also notes when each chunk was sent (chunk i's text is `part{i} `)."""

    def __init__(self, chunks: int, interval_s: float) -> None:
        super().__init__(chunks, interval_s)
        self.sent_at: list[float] = []

    def note_sent(self) -> None:
        self.sent_at.append(time.time())


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"samples": 0}
    return {
        "samples": len(ordered),
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max": ordered[-1],
    }


def _chunk_latencies(arrivals: list[tuple[float, dict[str, Any]]], sent_at: list[float]) -> list[float]:
    """ms from a chunk's send to the arrival of the delta that completed it (deltas concatenate)."""
    text, latencies = "", []
    for arrived, event in arrivals:
        if event["type"] != "message.delta":
            continue
        before = text.count(" ")
        text += event["data"]["delta"]
        for index in range(before, text.count(" ")):  # every chunk ends with a space
            if index < len(sent_at):
                latencies.append((arrived - sent_at[index]) * 1000)
    return latencies


def _watch_sse(base: str, key: str, run_id: str, ready: threading.Event) -> list[tuple[float, dict]]:
    headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    arrivals: list[tuple[float, dict]] = []
    with requests.get(f"{base}/runs/{run_id}/events", headers=headers, stream=True, timeout=60) as stream:
        ready.set()
        for line in stream.iter_lines(chunk_size=None, decode_unicode=True):
            if line and line.startswith("data: "):
                event = json.loads(line[6:])
                arrivals.append((time.time(), event))
                if event["type"] in TERMINAL:
                    break
    return arrivals


def _watch_websocket(port: int, key: str, run_id: str, ready: threading.Event) -> list[tuple[float, dict]]:
    client = Client(port, f"?api_key={key}")
    arrivals: list[tuple[float, dict]] = []
    try:
        client.send({"action": "subscribe", "run_id": run_id})
        started = time.monotonic()
        while time.monotonic() - started < DEADLINE_S:
            message = client.receive()
            if message.get("type") == "subscribed":
                ready.set()
            elif "seq" in message:
                arrivals.append((time.time(), message))
                if message["type"] in TERMINAL:
                    break
    finally:
        client.close()
    return arrivals


def _post(base: str, key: str, path: str, body: dict | None = None) -> dict:
    response = requests.post(
        f"{base}{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    response.raise_for_status()
    return dict(response.json()) if response.content else {}


def _watched_run(base: str, port: int, key: str, agent: str, channels: tuple[str, ...]) -> dict[str, Any]:
    """Create a run, let the clients subscribe, start it; each client's arrivals, the run's id and when
    both clients were watching (epoch seconds)."""
    run = _post(base, key, "/runs", {"agent": agent, "start": False})
    results: dict[str, Any] = {}
    ready = {channel: threading.Event() for channel in channels}
    targets = {
        "SSE": lambda: results.update(SSE=_watch_sse(base, key, run["id"], ready["SSE"])),
        "WebSocket": lambda: results.update(
            WebSocket=_watch_websocket(port, key, run["id"], ready["WebSocket"])
        ),
    }
    watchers = [threading.Thread(target=targets[channel]) for channel in channels]
    for watcher in watchers:
        watcher.start()
    for event in ready.values():
        event.wait(30)  # set-up, bounded
    results["watching_from"] = time.time()  # created_at is truncated to ms: run.created is before it
    _post(base, key, f"/runs/{run['id']}/invoke")
    for watcher in watchers:
        watcher.join(DEADLINE_S)
    results["run_id"] = run["id"]
    return results


def _background_agent(base: str, key: str) -> str:
    script = [{"tool_calls": [{"name": "echo", "arguments": {"i": i}}]} for i in range(30)] + [{"text": "ok"}]
    definition = {
        "model": {"provider": "scripted", "script": script},
        "actions": [{"name": "echo", "kind": "builtin"}],
        "limits": {"max_steps": 1000},
    }
    _post(base, key, "/agents", {"name": "background", "definition": definition})
    return "background"


ITEM_OVERHEAD_BYTES = 512  # what the run item holds beyond its API view (index keys, rev, seqs, token)
FINAL_ONLY = ("output", "outputs", "completed_at", "duration_ms")  # written after the live message


def _live_write_units(base: str, key: str, run_id: str) -> tuple[int, int]:
    """(flushes, write request units) of the message.delta events written during the model call: each
    flush is a transaction of the run item's update and the event's put, 2 WRU per KB of each. The run
    item is sized as it was during the call (without the final answer's fields)."""
    headers = {"Authorization": f"Bearer {key}"}
    run = requests.get(f"{base}/runs/{run_id}", headers=headers, timeout=30).json()
    during_call = {name: value for name, value in run.items() if name not in FINAL_ONLY}
    run_kb = -(-(len(json.dumps(during_call).encode()) + ITEM_OVERHEAD_BYTES) // 1024)
    events = requests.get(
        f"{base}/runs/{run_id}/events", params={"limit": 1000}, headers=headers, timeout=30
    ).json()["items"]
    deltas = [event for event in events if event["type"] == "message.delta"]
    units = sum(2 * run_kb + 2 * -(-len(json.dumps(event).encode()) // 1024) for event in deltas)
    return len(deltas), units


def _streaming_pass(
    base: str, port: int, key: str, background: str, others: int, summary: dict[str, Any]
) -> dict[str, Any]:
    """One run streaming CHUNKS chunks watched over SSE and WebSocket, with `others` runs executing."""
    result: dict[str, Any] = {}
    with serving(TimedModel(CHUNKS, INTERVAL_S)) as model:
        name = f"streaming-{others}"
        block = {"provider": "openai", "id": "bench", "base_url": model.base_url}
        _post(base, key, "/agents", {"name": name, "definition": {"model": block}})
        for _ in range(others):
            _post(base, key, "/runs", {"agent": background})
        watched = _watched_run(base, port, key, name, ("SSE", "WebSocket"))
        for channel in ("SSE", "WebSocket"):
            arrivals = watched.get(channel) or []
            written = [
                (arrived - _epoch(event["created_at"])) * 1000
                for arrived, event in arrivals
                if _epoch(event["created_at"]) >= watched["watching_from"]
            ]
            result[channel] = {
                "event": _percentiles(written),
                "chunk": _percentiles(_chunk_latencies(arrivals, model.sent_at)),
            }
        if others == 0:  # the write cost does not depend on the load
            flushes, units = _live_write_units(base, key, watched["run_id"])
            summary["cost"] = {
                "tokens": CHUNKS,
                "flushes": flushes,
                "write_units_per_1k_tokens": units * 1000 / CHUNKS,
                "usd_per_1k_tokens": units * WRITE_UNIT_USD * 1000 / CHUNKS,
            }
    return result


def run_bench() -> dict[str, Any]:
    process, base, key = _start_server(RUNS_API_HTTP_ALLOWLIST="127.0.0.1")
    port = int(base.split(":")[2].split("/")[0])
    try:
        background = _background_agent(base, key)
        summary: dict[str, Any] = {"passes": {}}
        for others in (0, BACKGROUND):  # alone, then while other runs execute in the same process
            summary["passes"][others] = _streaming_pass(base, port, key, background, others, summary)
        firsts: list[float] = []
        for _ in range(FIRST_RUNS):
            with serving(TimedModel(20, INTERVAL_S)) as short:
                block = {"provider": "openai", "id": "bench", "base_url": short.base_url}
                name = f"first-{len(firsts)}"
                _post(base, key, "/agents", {"name": name, "definition": {"model": block}})
                arrivals = _watched_run(base, port, key, name, ("SSE",)).get("SSE") or []
                first = next(
                    (arrived for arrived, event in arrivals if event["type"] == "message.delta"), None
                )
                if first is not None and short.sent_at:
                    firsts.append((first - short.sent_at[0]) * 1000)
        summary["first_delta"] = _percentiles(firsts)
        return summary
    finally:
        _stop_server(process)


if __name__ == "__main__":
    print(json.dumps(run_bench(), indent=2))
