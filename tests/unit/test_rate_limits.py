"""Rate limits (docs/api.md §7): fixed one-minute windows, counters, decisions and their headers."""

import pytest

from runs_core.logic import rate_limits
from runs_core.logic.rate_limits import (
    REQUESTS,
    RUNS,
    CounterUnavailable,
    check,
    counter_id,
    creates_run,
    window_at,
)

T0 = 1_800_000_000  # a multiple of 60: the start of a window


class FakeCounters:
    """The store's contract in memory: add 1 unless the count already reached the limit."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.expiry: dict[str, int] = {}

    def increment(self, counter_id: str, limit: int, expires_at: int) -> tuple[bool, int]:
        count = self.counts.get(counter_id, 0)
        if count >= limit:
            return False, count
        self.counts[counter_id] = count + 1
        self.expiry[counter_id] = expires_at
        return True, count + 1


class Unavailable:
    def increment(self, counter_id: str, limit: int, expires_at: int) -> tuple[bool, int]:
        raise CounterUnavailable("throttled")


def test_windows_are_epoch_minutes():
    assert window_at(T0).start == T0 and window_at(T0).end == T0 + 60
    assert window_at(T0 + 59.999).start == T0
    assert window_at(T0 + 60).start == T0 + 60
    assert counter_id("org_1", RUNS, window_at(T0 + 10)) == f"org_1#runs#{T0 // 60}"


@pytest.mark.parametrize(
    ("offset", "seconds_left"), [(0, 60), (0.2, 60), (1, 59), (30.5, 30), (59, 1), (59.9, 1)]
)
def test_reset_is_whole_seconds_to_the_window_end_at_least_one(offset, seconds_left):
    assert window_at(T0 + offset).seconds_left(T0 + offset) == seconds_left


def test_limit_then_refusal_then_next_window():
    store = FakeCounters()
    decisions = [check(store, "org_1", RUNS, 3, at=T0 + 15) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    refused = decisions[-1]
    assert refused.headers() == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "45",
        "Retry-After": "45",
    }
    assert "Retry-After" not in decisions[0].headers()
    assert store.expiry[counter_id("org_1", RUNS, window_at(T0))] == T0 + 60 + 120
    assert check(store, "org_1", RUNS, 3, at=T0 + 60).allowed  # a new window
    assert check(store, "org_2", RUNS, 3, at=T0 + 15).allowed  # another org
    assert check(store, "org_1", REQUESTS, 3, at=T0 + 15).allowed  # another bucket


def test_zero_limit_refuses_without_counting():
    store = FakeCounters()
    decision = check(store, "org_1", RUNS, 0, at=T0)
    assert not decision.allowed and decision.reset_seconds == 60 and store.counts == {}


def test_unavailable_store_fails_open():
    decision = check(Unavailable(), "org_1", REQUESTS, 600, at=T0 + 30)
    assert decision.allowed and decision.degraded
    assert decision.headers()["RateLimit-Remaining"] == "600"


def test_default_clock_is_used(monkeypatch):
    monkeypatch.setattr(rate_limits, "now", lambda: T0 + 58.5)
    assert check(FakeCounters(), "org_1", RUNS, 1).reset_seconds == 2


@pytest.mark.parametrize(
    ("method", "resource", "path", "expected"),
    [
        ("POST", "/v1/runs", "/v1/runs", True),
        ("POST", "/v1/agents/{agent}/runs", "/v1/agents/demo/runs", True),
        ("POST", "/v1/agents/{agent}/run", "/v1/agents/demo/run", True),
        ("POST", "/v1/threads/{thread_id}/runs", "/v1/threads/thr_1/runs", True),
        ("POST", None, "/v1/threads/thr_1/runs", True),
        ("GET", "/v1/runs", "/v1/runs", False),
        ("POST", "/v1/runs/{run_id}/invoke", "/v1/runs/run_1/invoke", False),
        ("POST", "/v1/runs/{run_id}/cancel", "/v1/runs/run_1/cancel", False),
        ("POST", "/v1/agents", "/v1/agents", False),
    ],
)
def test_run_creation_routes(method, resource, path, expected):
    assert creates_run(method, resource, path) is expected
