"""Server-Sent Events responses, live where the host streams, buffered in a plain Lambda handler.

A route answers SSE with `sse_response(frames)`. Called through `lambda_handler` (a buffered Lambda
proxy integration) the frames are joined into one text/event-stream body: clients see long-poll SSE.
A host that can stream calls the function's `stream_handler` instead: the local server, and deployed
the Lambda Web Adapter's web server (runs_core.api.lwa_server) behind API Gateway's STREAM transfer
mode. The request takes exactly the same path (authorizer context, validation, access checks,
problem+json errors, headers), but the route hands its frames generator back instead of joining it,
and the proxy response's `body` is that iterator of str chunks, to be written as they come.

How long a stream may wait for events depends on the host: `max_wait_seconds()` is 25 s buffered (API
Gateway's 29 s integration timeout) and 900 s streamed, and `within_deadline` shortens a wait that would
outlive the invocation, so the closing `retry:` frame leaves before the function times out.
"""

import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools.event_handler import Response

from runs_core.logic.events import MAX_STREAM_WAIT_SECONDS, MAX_WAIT_SECONDS

EVENT_STREAM = "text/event-stream"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# Seconds kept between a stream's end and the invocation's deadline: the `retry:` frame and the
# response's end must leave before Lambda stops the function.
DEADLINE_MARGIN_SECONDS = 5


def frame_schema(data_description: str | None = None, **fields: dict[str, Any]) -> dict[str, Any]:
    """One frame of a text/event-stream, as OpenAPI 3.1 documents a stream (a schema per event): the frame's
    `fields` (id, event, retry) and its `data`, a JSON document."""
    data: dict[str, Any] = {"type": "string", "contentMediaType": "application/json"}
    if data_description is not None:
        data["description"] = data_description
    return {"type": "object", "properties": {**fields, "data": data}}


class _Slot:
    frames: Iterator[str] | None = None
    deadline: float | None = None  # time.monotonic() by which the stream must have ended


_streaming: ContextVar[_Slot | None] = ContextVar("runs_core_sse_streaming", default=None)


def wants_event_stream(accept: str | None) -> bool:
    return any(part.split(";")[0].strip().lower() == EVENT_STREAM for part in (accept or "").split(","))


def streaming() -> bool:
    """Whether this request's response is streamed live (called through a `stream_handler`)."""
    return _streaming.get() is not None


def max_wait_seconds() -> int:
    """The longest SSE `wait` this host serves: 900 s where the stream is live, else 25 s."""
    return MAX_STREAM_WAIT_SECONDS if streaming() else MAX_WAIT_SECONDS


def within_deadline(wait: int) -> int:
    """`wait`, shortened if the stream would otherwise outlive the invocation (see the module doc)."""
    slot = _streaming.get()
    if slot is None or slot.deadline is None:
        return wait
    return max(0, min(wait, int(slot.deadline - time.monotonic())))


def sse_response(frames: Iterator[str]) -> Response[str]:
    slot = _streaming.get()
    if slot is not None:
        slot.frames = frames  # the host streams them; the body stays empty here
        body = ""
    else:
        body = "".join(frames)
    return Response(status_code=200, content_type=EVENT_STREAM, body=body, headers=dict(SSE_HEADERS))


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_stream_handler(lambda_handler: Handler) -> Handler:
    """`lambda_handler`, except that an SSE response's body is the live iterator of its frames."""

    def stream_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        slot = _Slot()
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining):
            slot.deadline = time.monotonic() + remaining() / 1000 - DEADLINE_MARGIN_SECONDS
        token = _streaming.set(slot)
        try:
            response = lambda_handler(event, context)
        finally:
            _streaming.reset(token)
        if slot.frames is not None and response.get("statusCode") == 200:
            response["body"] = slot.frames
            response["isBase64Encoded"] = False
        return response

    return stream_handler
