"""Run events (docs/api.md §6): polling, and Server-Sent Events on the same URL."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query

from runs_core.api import sse
from runs_core.api.caller import OrgCaller
from runs_core.api.openapi import Router, errors
from runs_core.api.sse import EVENT_STREAM, sse_response, wants_event_stream
from runs_core.logic import events
from runs_core.models.common import NonNegativeInt
from runs_core.models.events import EventPage

router = Router()
RunId = Annotated[str, Path(min_length=1, max_length=64)]
TAGS = ["Events"]
SSE_DESCRIPTION = (
    "With `Accept: text/event-stream`: frames `id: <seq>`, `event: <type>`, `data: <event JSON>`, ending "
    "after the terminal event, or after `wait` seconds with `retry: 1000` (reconnect with Last-Event-ID); "
    "`: keep-alive` comments while idle. The stream is live: each frame leaves as it is written (deployed "
    "through API Gateway's STREAM transfer mode)."
)
WAIT_DESCRIPTION = (
    f"SSE only: seconds before `retry:` (default {events.MAX_WAIT_SECONDS}; up to "
    f"{events.MAX_STREAM_WAIT_SECONDS} where the stream is live, {events.MAX_WAIT_SECONDS} where a host "
    "buffers the response)."
)


def _responses() -> dict[int, Any]:
    responses = errors(404)
    responses[200] = {
        "description": "The events page (JSON), or an SSE stream (text/event-stream).",
        "content": {
            "application/json": {"model": EventPage},
            EVENT_STREAM: {"schema": {"type": "string", "description": SSE_DESCRIPTION}},
        },
    }
    return responses


@router.get("/v1/runs/<run_id>/events", tags=TAGS, responses=_responses())
def list_events(
    run_id: RunId,
    caller: OrgCaller,
    after_seq: Annotated[NonNegativeInt | None, Query(description="Events with a greater seq.")] = None,
    starting_after: Annotated[NonNegativeInt | None, Query(description="Alias of after_seq.")] = None,
    limit: Annotated[int, Query(ge=1, le=events.MAX_LIMIT)] = events.DEFAULT_LIMIT,
    wait: Annotated[
        int, Query(ge=0, le=events.MAX_STREAM_WAIT_SECONDS, description=WAIT_DESCRIPTION)
    ] = events.MAX_WAIT_SECONDS,
    accept: Annotated[str | None, Header(alias="Accept", include_in_schema=False)] = None,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=32, description="SSE resume point.")
    ] = None,
) -> Response[Any]:
    """The run's events in seq order after `after_seq` (polling), or, with `Accept: text/event-stream`,
    as Server-Sent Events."""
    if wants_event_stream(accept):
        resume = events.resume_point(after_seq, starting_after, last_event_id)
        # The bound depends on the host: 900 s where the frames stream live, 25 s where they are buffered.
        max_wait = sse.max_wait_seconds()
        if wait <= max_wait:  # else open_stream answers 400; a valid wait ends before the invocation does
            wait = sse.within_deadline(wait)
        return sse_response(events.open_stream(caller, run_id, resume, wait, max_wait=max_wait))
    page = events.list_events(caller, run_id, events.resume_point(after_seq, starting_after), limit)
    return Response(status_code=200, content_type="application/json", body=page)
