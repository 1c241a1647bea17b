"""Server-Sent Events responses, buffered in Lambda and live where the host can stream.

A route answers SSE with `sse_response(frames)`. In Lambda (behind API Gateway REST) the frames are
joined into one text/event-stream body: clients see long-poll SSE. A host that can stream (the local
server) calls the function's `stream_handler` instead of `lambda_handler`: the request takes exactly
the same path (authorizer context, validation, access checks, problem+json errors, headers), but the
route hands its frames generator back instead of joining it, and the proxy response's `body` is that
iterator of str chunks, to be written as they come.
"""

from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools.event_handler import Response

EVENT_STREAM = "text/event-stream"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _Slot:
    frames: Iterator[str] | None = None


_streaming: ContextVar[_Slot | None] = ContextVar("runs_core_sse_streaming", default=None)


def wants_event_stream(accept: str | None) -> bool:
    return any(part.split(";")[0].strip().lower() == EVENT_STREAM for part in (accept or "").split(","))


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
