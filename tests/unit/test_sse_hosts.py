"""How long an SSE response may wait depends on its host (runs_core.api.sse): 25 s when the body is
buffered (`lambda_handler`), 900 s when it streams (`stream_handler`), never past the invocation."""

from dataclasses import dataclass
from typing import Any

from runs_core.api import sse
from runs_core.logic.events import MAX_STREAM_WAIT_SECONDS, MAX_WAIT_SECONDS


@dataclass
class Context:
    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _seen_by_route(context: Any = None, *, stream: bool) -> dict[str, Any]:
    """What a route sees of its host when called through lambda_handler or stream_handler."""
    seen: dict[str, Any] = {}

    def lambda_handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
        seen["streaming"], seen["max_wait"] = sse.streaming(), sse.max_wait_seconds()
        seen["wait"] = sse.within_deadline(event["wait"])
        return {"statusCode": 200, "body": ""}

    handler = sse.make_stream_handler(lambda_handler) if stream else lambda_handler
    handler({"wait": MAX_STREAM_WAIT_SECONDS}, context)
    return seen


def test_buffered_host_keeps_the_short_bound() -> None:
    assert _seen_by_route(stream=False) == {
        "streaming": False,
        "max_wait": MAX_WAIT_SECONDS,
        "wait": MAX_STREAM_WAIT_SECONDS,  # no deadline is known: open_stream rejects it against max_wait
    }


def test_streaming_host_allows_the_long_wait() -> None:
    seen = _seen_by_route(Context(remaining_ms=(MAX_STREAM_WAIT_SECONDS + 60) * 1000), stream=True)
    assert seen == {"streaming": True, "max_wait": MAX_STREAM_WAIT_SECONDS, "wait": MAX_STREAM_WAIT_SECONDS}


def test_a_stream_ends_before_the_invocation_does() -> None:
    seen = _seen_by_route(Context(remaining_ms=60_000), stream=True)
    assert seen["wait"] <= 60 - sse.DEADLINE_MARGIN_SECONDS
    assert _seen_by_route(Context(remaining_ms=1_000), stream=True)["wait"] == 0


def test_without_a_context_a_stream_keeps_its_wait() -> None:
    assert _seen_by_route(None, stream=True)["wait"] == MAX_STREAM_WAIT_SECONDS
