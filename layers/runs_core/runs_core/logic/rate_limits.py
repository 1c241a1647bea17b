"""Per-org rate limits (docs/api.md §7): fixed one-minute windows over atomic counters. Pure rules; the
counters live behind `CounterStore` (runs_core.storage.rate_limits in DynamoDB, a dict in unit tests).

A window is the epoch minute [start, start + 60). Each (org, bucket, window) has one counter; a check
adds 1 unless the counter already reached the limit, in one conditional write, so concurrent requests
can never let more than `limit` through in a window.

Buckets: `requests` (every request of an org; requests_per_minute) and `runs` (run creation;
runs_per_minute). Responses carry the RateLimit-* headers of the bucket that applied.
"""

import math
import re
import time
from dataclasses import dataclass
from typing import Protocol

WINDOW_SECONDS = 60
# Counters stay a little past their window (TTL deletion is lazy anyway), then DynamoDB drops them.
TTL_GRACE_SECONDS = 120

REQUESTS = "requests"
RUNS = "runs"
# An org's limits unless an operator set others (runs_core.models.account.RateLimits' defaults).
DEFAULT_LIMITS = {"runs_per_minute": 20, "requests_per_minute": 600}

# Routes that create a run (method POST), by API Gateway resource or by the actual path.
_RUN_CREATION_RESOURCES = frozenset(
    {
        "/v1/runs",
        "/v1/agents/{agent}/runs",
        "/v1/agents/{agent}/run",
        "/v1/threads/{thread_id}/runs",
        # the dialects' run creations (runs_core.dialects)
        "/dialects/tr/v1/threads/{thread_id}/runs",
        "/dialects/ziet/v1/runs",
        "/dialects/kognitos/v2/runs",
        "/dialects/roe/v1/agents/run/{agent_id}",
        "/dialects/appstrate/api/agents/{scope}/{name}/run",
    }
)
_RUN_CREATION_PATH = re.compile(r"^/v1/(runs|agents/[^/]+/runs?|threads/[^/]+/runs)/?$")


class CounterStore(Protocol):
    def increment(self, counter_id: str, limit: int, expires_at: int) -> tuple[bool, int]:
        """Add 1 to the counter unless it is already at `limit`: (added, the count now / the count seen).

        Raises CounterUnavailable if the store cannot answer (throttled, unreachable)."""
        ...


class CounterUnavailable(Exception):
    """The counter store could not be reached or was throttled; the check fails open."""


def now() -> float:
    """The clock of the checks (tests freeze it to keep a burst inside one window)."""
    return time.time()


@dataclass(frozen=True)
class Window:
    start: int  # epoch seconds, a multiple of WINDOW_SECONDS
    end: int

    @property
    def minute(self) -> int:
        return self.start // WINDOW_SECONDS

    def seconds_left(self, at: float) -> int:
        """Whole seconds until the window ends, rounded up; at least 1 (a client never waits 0 s)."""
        return max(1, math.ceil(self.end - at))


def window_at(at: float) -> Window:
    start = int(at) - int(at) % WINDOW_SECONDS
    return Window(start=start, end=start + WINDOW_SECONDS)


def counter_id(org_id: str, bucket: str, window: Window) -> str:
    return f"{org_id}#{bucket}#{window.minute}"


@dataclass(frozen=True)
class Decision:
    bucket: str
    limit: int
    allowed: bool
    remaining: int
    reset_seconds: int
    degraded: bool = False  # the store did not answer; allowed without counting (fail open)

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


def check(store: CounterStore, org_id: str, bucket: str, limit: int, at: float | None = None) -> Decision:
    """Count one hit of `bucket` for `org_id` in the current window, or refuse it if the limit is reached.

    If the store is unavailable the hit is allowed (fail open): a throttled counter table must not turn
    into 5xx for clients, and API Gateway's stage throttling still guards the service. Remaining is then
    reported as the full limit, since it is unknown.
    """
    at = now() if at is None else at
    window = window_at(at)
    reset = window.seconds_left(at)
    if limit <= 0:
        return Decision(bucket, limit, allowed=False, remaining=0, reset_seconds=reset)
    try:
        added, count = store.increment(
            counter_id(org_id, bucket, window), limit, window.end + TTL_GRACE_SECONDS
        )
    except CounterUnavailable:
        return Decision(bucket, limit, allowed=True, remaining=limit, reset_seconds=reset, degraded=True)
    remaining = max(0, limit - count) if added else 0
    return Decision(bucket, limit, allowed=added, remaining=remaining, reset_seconds=reset)


def creates_run(method: str, resource: str | None, path: str | None) -> bool:
    """Whether a request is a run creation (the `runs` bucket applies), matched by route pattern."""
    if method.upper() != "POST":
        return False
    if resource and resource in _RUN_CREATION_RESOURCES:
        return True
    return bool(path and _RUN_CREATION_PATH.match(path))


def refusal_detail(decision: Decision) -> str:
    what = "run creations" if decision.bucket == RUNS else "requests"
    return (
        f"This org may make {decision.limit} {what} per minute; "
        f"retry after {decision.reset_seconds} second{'s' if decision.reset_seconds != 1 else ''}."
    )
