"""The threads/runs dialect (seed 004; docs/api.md §8), base /dialects/tr/v1.

Runs in threads, named by the thread's agent (threads take an optional `agent` when created) or by
`persona_id` (`agent@version`); cancel is `POST /runs/{run_id}:cancel`; events are SSE frames
`data: {seq, type, data, created_at}`. The seed documents no error body: errors are /v1's problem+json.
Statuses: the seed's running/completed/failed/cancelled and waiting_for_input; `created`/`queued` (not in
the seed) are `queued`, and `waiting_approval` is `waiting_for_input` (the seed's input covers tool
confirmation: `content` approve/yes or reject/no answers an approval).

Over 300 lines: the seed's seven routes and their row shapes, one mapping read together.
"""

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import ConfigDict, Field

from runs_core import ids
from runs_core.api import sse
from runs_core.api.caller import OrgCaller
from runs_core.api.openapi import Router, errors
from runs_core.context import Caller
from runs_core.dialects.common import invalid, status_map
from runs_core.errors import NotFound
from runs_core.logic import answers, events, runs, threads
from runs_core.models.common import NonNegativeInt, RequestModel, ResponseModel
from runs_core.models.runs import Run, RunOptions, SubmitApproval, SubmitInput
from runs_core.run_status import WAITING_APPROVAL

BASE = "/dialects/tr/v1"
TAGS = ["Dialect: threads/runs"]
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
STATUSES = {
    "created": "queued",
    "queued": "queued",
    "running": "running",
    "waiting_for_input": "waiting_for_input",
    "waiting_approval": "waiting_for_input",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
ours = status_map(STATUSES)
APPROVE, REJECT = (
    {"approve", "approved", "yes", "y", "ok", "confirm"},
    {"reject", "rejected", "no", "n", "deny"},
)

router = Router()
RunId = Annotated[str, Path(min_length=1, max_length=64)]
ThreadId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Maximum number of items to return.")]


class TrCreateRun(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{}, {"persona_id": "demo@1.0.0", "route_id": "r-1"}]}
    )

    route_id: str | None = Field(None, max_length=128, description="Provider route id; kept as metadata.")
    persona_id: str | None = Field(
        None,
        max_length=200,
        description="`agent@version` (version optional): the agent and version to run; default: the "
        "thread's agent, its latest version.",
        examples=["demo@0.1.0"],
    )


class TrRunCreated(ResponseModel):
    run_id: str
    trace_id: str | None


class TrThreadRun(ResponseModel):
    run_id: str
    status: str
    created_at: str


class TrRun(ResponseModel):
    run_id: str
    org_id: str
    thread_id: str | None
    status: str
    model: str | None = Field(description="Not recorded per run: null.")
    persona_id: str | None = Field(description="`agent@version` the run used.")
    total_input_tokens: int
    total_output_tokens: int
    total_cost_usd: float
    duration_ms: int | None
    cache_hit_rate: float
    credits_used: int
    created_at: str
    completed_at: str | None
    failed_at: str | None
    created_by_user_id: str | None = Field(
        description="The X-End-User the run was created for, else the key."
    )
    created_by_user_name: str | None
    created_by_email: str | None
    trace_id: str | None


class TrOk(ResponseModel):
    ok: Literal[True]


def row(run: Run, org_id: str) -> TrRun:
    return TrRun(
        run_id=run.id,
        org_id=org_id,
        thread_id=run.thread_id,
        status=STATUSES[run.status],
        model=None,
        persona_id=f"{run.agent_name}@{run.agent_version}",
        total_input_tokens=run.usage.input_tokens,
        total_output_tokens=run.usage.output_tokens,
        total_cost_usd=run.usage.cost_usd,
        duration_ms=run.duration_ms,
        cache_hit_rate=run.usage.cache_hit_rate,
        credits_used=run.usage.credits_used,
        created_at=run.created_at,
        completed_at=run.completed_at,
        failed_at=run.failed_at,
        created_by_user_id=run.created_by.end_user_id or run.created_by.api_key_id,
        created_by_user_name=None,
        created_by_email=None,
        trace_id=run.trace_id,
    )


def _agent_of(caller: Caller, thread_id: str, persona_id: str | None) -> tuple[str, str | None]:
    thread = threads.load_thread(caller, thread_id)
    if persona_id:
        name, at, version = persona_id.rpartition("@")
        if at and name and not name.endswith("/"):  # `@scope/name` alone has its @ first
            return name, version or None
        return persona_id, None
    if not thread.get("agent_id"):
        raise invalid("persona_id", "is required: the thread was created without an agent")
    return thread["agent_id"], None


@router.post(f"{BASE}/threads/<thread_id>/runs", status_code=201, tags=TAGS, responses=errors(402, 404, 409))
def create_run(
    thread_id: ThreadId, caller: OrgCaller, body: Annotated[TrCreateRun | None, Body()] = None
) -> TrRunCreated:
    """Start a run in the thread (queued behind the thread's current run if it is busy)."""
    body = body or TrCreateRun()
    agent, version = _agent_of(caller, thread_id, body.persona_id)
    options = RunOptions.model_validate(
        {
            "thread_id": thread_id,
            "version": version,
            "metadata": {"route_id": body.route_id} if body.route_id else {},
        }
    )
    run = runs.create_run(caller, agent, options)
    return TrRunCreated(run_id=run.id, trace_id=run.trace_id)


@router.get(f"{BASE}/threads/<thread_id>/runs", tags=TAGS, responses=errors(404))
def list_thread_runs(
    thread_id: ThreadId, caller: OrgCaller, limit: Limit = DEFAULT_LIMIT
) -> list[TrThreadRun]:
    """The thread's runs, newest first."""
    threads.load_thread(caller, thread_id)
    page = runs.list_runs(caller, limit, None, thread_id=thread_id)
    return [
        TrThreadRun(run_id=run.id, status=STATUSES[run.status], created_at=run.created_at)
        for run in page.items
    ]


@router.get(f"{BASE}/runs", tags=TAGS, responses=errors())
def list_runs(
    caller: OrgCaller,
    limit: Limit = DEFAULT_LIMIT,
    before: Annotated[str | None, Query(max_length=64, description="A run id: runs older than it.")] = None,
    status: Annotated[
        str | None,
        Query(
            max_length=32, description="running, completed, failed, cancelled (or queued, waiting_for_input)."
        ),
    ] = None,
) -> list[TrRun]:
    """The org's runs, newest first."""
    if before is not None and not ids.has_prefix(before, "run"):
        raise invalid("before", "must be a run id (run_…)")
    statuses = None
    if status is not None:
        if not ours(status):
            raise invalid("status", f"must be one of {', '.join(sorted(set(STATUSES.values())))}")
        statuses = ",".join(ours(status))
    page = runs.list_runs(caller, limit, None, status=statuses, before_id=before)
    return [row(run, caller.org_id) for run in page.items]


@router.get(f"{BASE}/runs/<run_id>", tags=TAGS, responses=errors(404))
def get_run(run_id: RunId, caller: OrgCaller) -> TrRun:
    """One run."""
    return row(runs.get_run(caller, run_id), caller.org_id)


@router.post(
    f"{BASE}/runs/<run_id>",
    tags=TAGS,
    responses={200: {"description": "Cancelled (or already cancelled)."}, **errors(404, 409)},
)
def cancel_run(
    run_id: Annotated[str, Path(min_length=1, max_length=71, description="`{run_id}:cancel`.")],
    caller: OrgCaller,
) -> TrOk:
    """`POST /runs/{run_id}:cancel`: cancel the run. A completed or failed run is 409 invalid_state."""
    run_id, colon, verb = run_id.partition(":")
    if not colon or verb != "cancel":
        raise NotFound(
            f"No route POST {BASE}/runs/{run_id}{colon}{verb}; cancel is POST {BASE}/runs/{{run_id}}:cancel."
        )
    runs.cancel_run(caller, run_id, None)
    return TrOk(ok=True)


class TrInput(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"content": "savings"}, {"content": "approve"}]}
    )

    content: str = Field(
        max_length=32 * 1024,
        description="The user's input (≤ 32 KiB); for a tool confirmation: approve/yes or reject/no.",
    )


@router.post(f"{BASE}/runs/<run_id>/input", tags=TAGS, responses=errors(404, 409))
def submit_input(run_id: RunId, body: TrInput, caller: OrgCaller) -> TrOk:
    """Answer a run that is waiting_for_input; any other status is 409 invalid_state."""
    if runs.get_run(caller, run_id).status == WAITING_APPROVAL:
        answer = body.content.strip().lower()
        if answer not in APPROVE | REJECT:
            raise invalid(
                "content", "must be approve/yes or reject/no: the run waits for a tool confirmation"
            )
        approval = SubmitApproval(decision="approve" if answer in APPROVE else "reject")
        answers.submit_approval(caller, run_id, approval)
    else:
        answers.submit_input(caller, run_id, SubmitInput(content=body.content))
    return TrOk(ok=True)


def _frames(frames: Iterator[str]) -> Iterator[str]:
    """/v1's SSE frames as the seed's: `id:` (for Last-Event-ID) and `data: {seq, type, data, created_at}`."""
    for text in frames:
        if not text.startswith("id: "):
            yield text  # retry: and keep-alive comments
            continue
        event = json.loads(text.split("\ndata: ", 1)[1])
        data = {key: event[key] for key in ("seq", "type", "data", "created_at")}
        yield f"id: {event['seq']}\ndata: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"


SSE_EVENT = sse.frame_schema(
    "`{seq, type, data, created_at}`",
    id={"type": "string", "description": "The event's seq."},
    retry={"type": "integer"},
)


def _event_responses() -> dict[int, Any]:
    responses = errors(404)
    responses[200] = {
        "description": "Server-Sent Events: `data: {seq, type, data, created_at}` frames (with `id: <seq>`), "
        "ending after the terminal event, or after `wait` seconds with `retry:`.",
        "content": {sse.EVENT_STREAM: {"schema": SSE_EVENT}},
    }
    return responses


@router.get(f"{BASE}/runs/<run_id>/events", tags=TAGS, responses=_event_responses())
def run_events(
    run_id: RunId,
    caller: OrgCaller,
    after_seq: Annotated[
        NonNegativeInt | None, Query(description="Start after this seq (reconnection).")
    ] = None,
    wait: Annotated[
        int, Query(ge=0, le=events.MAX_STREAM_WAIT_SECONDS, description="Seconds before `retry:`.")
    ] = (events.MAX_WAIT_SECONDS),
) -> Response[Any]:
    """The run's events as Server-Sent Events."""
    max_wait = sse.max_wait_seconds()
    if wait <= max_wait:
        wait = sse.within_deadline(wait)
    frames = events.open_stream(caller, run_id, after_seq or 0, wait, max_wait=max_wait)
    return sse.sse_response(_frames(frames))
