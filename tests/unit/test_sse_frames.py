"""SSE frames from the event log (runs_core.logic.events.sse_frames) with a fake log and a fake clock."""

import json
from typing import Any

from runs_core.logic.events import RETRY_MS, sse_frames


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeLog:
    """Events appear as the clock passes their `at` time."""

    def __init__(self, clock: FakeClock, timeline: list[tuple[float, str]]) -> None:
        self.clock = clock
        self.start = clock.now
        self.items = [
            {
                "run_id": "run_1",
                "seq": i,
                "type": kind,
                "data": {},
                "created_at": "t",
                "org_id": "o",
                "at": at,
            }
            for i, (at, kind) in enumerate(timeline, start=1)
        ]

    def after(self, run_id: str, after_seq: int, limit: int) -> list[dict[str, Any]]:
        visible = [i for i in self.items if i["seq"] > after_seq and self.start + i["at"] <= self.clock.now]
        return visible[:limit]


def run(timeline: list[tuple[float, str]], after_seq: int = 0, wait: int = 25) -> list[str]:
    clock = FakeClock()
    log = FakeLog(clock, timeline)
    return list(sse_frames("run_1", after_seq, wait, sleep=clock.sleep, log=log, clock=clock))  # type: ignore[arg-type]


def test_frames_end_right_after_the_terminal_event():
    out = run([(0, "run.created"), (1, "run.started"), (2, "run.completed"), (3, "step.started")])
    assert [chunk.split("\n")[1] for chunk in out] == [
        "event: run.created",
        "event: run.started",
        "event: run.completed",
    ]
    first = out[0].split("\n")
    assert first[0] == "id: 1" and json.loads(first[2].removeprefix("data: ")) == {
        "seq": 1,
        "type": "run.created",
        "run_id": "run_1",
        "data": {},
        "created_at": "t",
    }
    assert all(chunk.endswith("\n\n") for chunk in out)


def test_idle_stream_sends_heartbeats_then_retry_after_wait():
    out = run([(0, "run.created"), (0, "run.waiting_for_input")], wait=25)
    assert out[:2][1].startswith("id: 2")
    assert out[2:] == [": keep-alive\n\n", ": keep-alive\n\n", f"retry: {RETRY_MS}\n\n"]


def test_resumes_after_the_given_seq():
    out = run([(0, "run.created"), (0, "run.started"), (5, "run.failed")], after_seq=1)
    assert [chunk.split("\n")[0] for chunk in out] == ["id: 2", "id: 3"]


def test_zero_wait_returns_what_is_there_with_retry():
    out = run([(0, "run.created"), (30, "run.completed")], wait=0)
    assert out == [out[0], f"retry: {RETRY_MS}\n\n"] and out[0].startswith("id: 1")
