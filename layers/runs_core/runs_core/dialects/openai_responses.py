"""The OpenAI Responses dialect (docs/api.md §8), base /dialects/openai/v1: the official `openai` client
works unchanged for background responses, polling, streaming, resuming a stream and cancelling.

A response is a run: its `id` is the run's id, `model` names the agent (`name`, or `name@selector` with a
version, dist-tag or range; the response echoes `name@version` run). Every response is a turn of a thread:
a new one starts a thread, `previous_response_id` continues that response's thread (the run queues behind
a busy thread, like /v1's `enqueue`). `input` is the user's turn: a string, or message items whose text
is joined. `background: true` answers at once (`queued`); `stream: true` answers with Server-Sent Events
(runs_core.dialects.openai_events) that ride on the live event log; otherwise the call waits for the run
(at most 25 s: a response still `in_progress` then is polled with `GET /responses/{id}`).

A run that waits for someone ends its stream with `response.incomplete` (`incomplete_details.reason`
`approval_required` with an `mcp_approval_request` output item — the Responses API's own pending-approval
shape — or `input_required` with the agent's question as a message). The answer is a new request with
`previous_response_id` = the waiting response and, as `input`, an `mcp_approval_response` item
(`approval_request_id`, `approve`, `reason?`) or the user's text. It answers the waiting run rather than
starting another: the request answers with that same response, now `in_progress` again.

`DELETE /responses/{id}` removes the response from this dialect (404 afterwards; a live run is cancelled
first); the run stays in /v1, which keeps the account of its usage. Errors are OpenAI's
`{"error": {message, type, param, code}}`, `code` being runs-api's.

Over 300 lines: the Responses API's request models, response objects, waiting states and routes are one
mapping onto our runs (its stream events are in openai_events.py).
"""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import ConfigDict, Field

from runs_core import clock, run_status
from runs_core.api import sse
from runs_core.api.caller import OrgCaller
from runs_core.api.openapi import Router
from runs_core.api.problems import Render
from runs_core.changes import Change
from runs_core.context import Caller
from runs_core.dialects.common import error_responses, field_errors, json_response, renderer
from runs_core.dialects.openai_events import Translator, approval_request_id
from runs_core.errors import ApiError, NotFound, ValidationFailed
from runs_core.logic import answers, events, runs, threads, waiting
from runs_core.models.common import Metadata, NonNegativeInt, PositiveInt, RequestModel, ResponseModel
from runs_core.models.runs import RunOptions, SubmitApproval, SubmitInput
from runs_core.models.threads import CreateThread

BASE = "/dialects/openai/v1"
TAGS = ["Dialect: OpenAI Responses"]
STATUSES = {
    "created": "queued",
    "queued": "queued",
    "running": "in_progress",
    "waiting_for_input": "incomplete",
    "waiting_approval": "incomplete",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
# The OpenAI statuses of a run that has ended (`incomplete` is not one: the run waits for someone).
ENDED = frozenset(STATUSES[status] for status in run_status.TERMINAL_STATUSES)
SYNC_WAIT_SECONDS = 25  # a plain POST waits at most this long (API Gateway's 29 s integration timeout)
DELETED = "openai_deleted_at"  # the run record's mark of a response deleted through this dialect

router = Router()
ResponseId = Annotated[str, Path(min_length=1, max_length=64)]


class OpenAIErrorDetail(ResponseModel):
    message: str
    type: str = Field(examples=["invalid_request_error"])
    param: str | None
    code: str | None = Field(description="runs-api's error code.", examples=["not_found"])


class OpenAIError(ResponseModel):
    error: OpenAIErrorDetail


ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
               403: "permission_error", 429: "rate_limit_error"}  # fmt: skip


def _error_body(error: ApiError, request_id: str | None) -> dict[str, Any]:
    fields = field_errors(error)
    kind = ERROR_TYPES.get(error.status, "server_error" if error.status >= 500 else "invalid_request_error")
    return {
        "error": {
            "message": error.detail,
            "type": kind,
            "param": fields[0]["field"] if fields else None,
            "code": error.code,
        }
    }


RENDER: Render = renderer(_error_body)
ERRORS = {
    400: "invalid_request_error (validation_error, invalid_json, invalid_version_selector)",
    402: "insufficient_quota (insufficient_credits)",
    403: "permission_error: X-Org-Id is not the key's org",
    404: "not_found: no such response or model (another org's too)",
    409: "invalid_state (the response has ended; or answering one that waits for nothing)",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "Idempotency-Key reused",
    429: "rate_limit_error (see Retry-After)",
    500: "server_error",
}


def errors(*statuses: int) -> dict[int, Any]:
    wanted = {400, 403, 429, 500, *statuses}
    return error_responses(OpenAIError, {status: ERRORS[status] for status in wanted})


# ---------------------------------------------------------------------------------------------- requests


class InputItem(RequestModel):
    """A message (`role` + `content`: text or `input_text` parts) or an `mcp_approval_response`."""

    model_config = ConfigDict(extra="allow", strict=False)

    type: str | None = Field(None, examples=["message", "mcp_approval_response"])
    role: str | None = Field(None, examples=["user"])
    content: str | list[dict[str, Any]] | None = None
    approval_request_id: str | None = None
    approve: bool | None = None
    reason: str | None = None


class CreateResponse(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"model": "demo", "input": "Hello!", "background": True},
                {"model": "demo@1.0.0", "input": [{"role": "user", "content": "Hi"}], "stream": True},
            ]
        }
    )

    model: str = Field(
        min_length=1,
        max_length=200,
        description="The agent: its name or id, optionally `@` a version, dist-tag or range.",
        examples=["demo", "demo@^1.0"],
    )
    input: str | list[InputItem] | None = Field(None, description="The user's turn, or the answer.")
    background: bool = False
    stream: bool = False
    previous_response_id: str | None = Field(None, max_length=64)
    metadata: Metadata | None = Field(None, max_length=50)
    store: bool | None = Field(None, description="Accepted; responses are always stored.")
    max_output_tokens: PositiveInt | None = Field(
        None, description="The run's `max_tokens` (may only lower the agent's)."
    )
    instructions: None = Field(None, description="Not supported: the agent's definition holds them.")
    stream_options: dict[str, Any] | None = Field(None, description="Accepted and ignored.")


# --------------------------------------------------------------------------------------------- responses


class ResponseUsage(ResponseModel):
    input_tokens: int
    input_tokens_details: dict[str, int] = Field(description="`cached_tokens`, `cache_write_tokens`.")
    output_tokens: int
    output_tokens_details: dict[str, int] = Field(description="`reasoning_tokens` (0).")
    total_tokens: int


class ResponseObject(ResponseModel):
    id: str
    object: Literal["response"] = "response"
    created_at: int
    completed_at: int | None = None
    status: str = Field(
        json_schema_extra={
            "enum": ["queued", "in_progress", "completed", "failed", "cancelled", "incomplete"]
        }
    )
    model: str = Field(description="`agent@version`.")
    output: list[dict[str, Any]]
    error: dict[str, Any] | None = Field(description="`{code, message}` when failed.")
    incomplete_details: dict[str, Any] | None = Field(
        description="`{reason}`: `approval_required` or `input_required`."
    )
    instructions: None = None
    metadata: dict[str, str]
    previous_response_id: str | None = None
    parallel_tool_calls: bool = True
    temperature: float | None = None
    top_p: float | None = None
    tool_choice: str = "auto"
    tools: list[Any] = Field(default_factory=list)
    store: bool = True
    text: dict[str, Any] = Field(default_factory=lambda: {"format": {"type": "text"}})
    truncation: str = "disabled"
    usage: ResponseUsage | None = None


class DeletedResponse(ResponseModel):
    id: str
    object: Literal["response"] = "response"
    deleted: bool = True


SSE_EVENT = sse.frame_schema(
    "The event: `{type, sequence_number, …}` as the openai SDK's types define it.",
    event={"type": "string", "description": "The event's `type`, e.g. `response.output_text.delta`."},
)


def _epoch(iso: str | None) -> int | None:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()) if iso else None


def _usage(run: dict[str, Any]) -> dict[str, Any]:
    usage = run.get("usage") or {}
    return {
        "input_tokens": usage.get("input_tokens", 0),
        "input_tokens_details": {
            "cached_tokens": usage.get("cache_read_tokens", 0),
            "cache_write_tokens": usage.get("cache_write_tokens", 0),
        },
        "output_tokens": usage.get("output_tokens", 0),
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.get("total_tokens", 0),
    }


def _snapshot(run: dict[str, Any]) -> Any:
    """The response of `run` for a given status and output (openai_events.Snapshot)."""

    def snapshot(
        status: str, output: list[dict[str, Any]], incomplete: dict[str, Any] | None
    ) -> dict[str, Any]:
        ended = status in ENDED
        error = run.get("error") if status == "failed" else None
        body = ResponseObject(
            id=run["id"],
            created_at=_epoch(run["created_at"]) or 0,
            completed_at=_epoch(run.get("completed_at")) if status == "completed" else None,
            status=status,
            model=f"{run['agent_name']}@{run['agent_version']}",
            output=output,
            error={"code": error["code"], "message": error["message"]} if error else None,
            incomplete_details=incomplete,
            metadata=run.get("metadata") or {},
            previous_response_id=(run.get("external_ids") or {}).get("previous_response_id"),
            usage=ResponseUsage.model_validate(_usage(run)) if ended else None,
        )
        return body.model_dump(mode="json")

    return snapshot


def _load(caller: Caller, response_id: str, consistent: bool = False) -> dict[str, Any]:
    run = runs.load_run(caller, response_id, consistent)
    if run.get(DELETED):
        raise NotFound(f"No response {response_id!r}.")
    return run


def _translated(run: dict[str, Any]) -> Translator:
    """The log of `run` so far, translated (its output items, its last sequence number)."""
    translator = Translator(_snapshot(run))
    after = 0
    while True:
        items = events.event_log().after(run["id"], after, events.MAX_LIMIT)
        for item in items:
            translator.translate(events.envelope(item))
        if len(items) < events.MAX_LIMIT:
            return translator
        after = items[-1]["seq"]


def _response_of(run: dict[str, Any]) -> dict[str, Any]:
    translator = _translated(run)
    status = STATUSES[run["status"]]
    incomplete = translator.incomplete if status == "incomplete" else None
    return _snapshot(run)(status, translator.output, incomplete)


def _stream(caller: Caller, run_id: str, starting_after: int) -> Response[str]:
    """The response's stream events after `starting_after` (-1: all), live from the event log."""
    max_wait = sse.max_wait_seconds()
    frames = events.open_stream(caller, run_id, 0, sse.within_deadline(max_wait), max_wait=max_wait)
    return sse.sse_response(_stream_frames(caller, run_id, frames, starting_after))


def _stream_frames(caller: Caller, run_id: str, frames: Iterator[str], starting_after: int) -> Iterator[str]:
    run = runs.load_run(caller, run_id, consistent=True)
    translator = Translator(_snapshot(run))
    for text in frames:
        if not text.startswith("id: "):
            yield text  # keep-alive comments and the closing retry:
            continue
        envelope = json.loads(text.split("\ndata: ", 1)[1])
        if envelope["type"] in ("run.completed", "run.failed", "run.cancelled"):
            run = runs.load_run(caller, run_id, consistent=True)  # its final usage, output and error
            translator.snapshot = _snapshot(run)
        for event in translator.translate(envelope):
            if event["sequence_number"] <= starting_after:
                continue
            data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
            yield f"event: {event['type']}\ndata: {data}\n\n"
            if event["type"] == "response.incomplete":
                return  # the run waits for someone: this stream is done (docs: the answer's stream goes on)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field} {message}", [{"field": field, "code": "value_error", "message": message}]
    )


def _agent_ref(model: str) -> tuple[str, str | None]:
    """`name@selector` → (name, selector); `@scope/name` alone has its `@` first."""
    name, at, selector = model.rpartition("@")
    if at and name and not name.endswith("/"):
        return name, selector or None
    return model, None


def _text(body: CreateResponse) -> str | None:
    """The user's turn: the input string, or the text of its user messages."""
    if body.input is None or isinstance(body.input, str):
        return body.input
    texts: list[str] = []
    for item in body.input:
        if item.type not in (None, "message") or item.role not in (None, "user"):
            continue
        if isinstance(item.content, str):
            texts.append(item.content)
        for part in item.content if isinstance(item.content, list) else []:
            if part.get("type") in ("input_text", "text", "output_text") and isinstance(
                part.get("text"), str
            ):
                texts.append(part["text"])
    return "\n\n".join(texts) if texts else None


def _answer(caller: Caller, run: dict[str, Any], body: CreateResponse) -> None:
    """Answer the waiting run `run` with the request's input (see the module doc)."""
    if run["status"] == run_status.WAITING_APPROVAL:
        expected = approval_request_id((run.get("pending") or {}).get("step_id", ""))
        approvals = [
            i for i in body.input or [] if not isinstance(i, str) and i.type == "mcp_approval_response"
        ]
        if len(approvals) != 1 or approvals[0].approve is None:
            raise _invalid(
                "input",
                "must hold one mcp_approval_response item (approval_request_id, approve): the response waits "
                "for an approval",
            )
        if approvals[0].approval_request_id != expected:
            raise _invalid("input.approval_request_id", f"must be {expected!r}, the pending request")
        decision = SubmitApproval(
            decision="approve" if approvals[0].approve else "reject", comment=approvals[0].reason
        )
        answers.submit_approval(caller, run["id"], decision)
        return
    text = _text(body)
    if text is None:
        raise _invalid("input", "must be the user's answer: the response waits for input")
    answers.submit_input(caller, run["id"], SubmitInput(content=text))


def _respond(caller: Caller, run_id: str, body: CreateResponse, starting_after: int = -1) -> Response[str]:
    if body.stream:
        return _stream(caller, run_id, starting_after)
    if not body.background:
        waiting.wait_for_run(caller, run_id, SYNC_WAIT_SECONDS)
    return json_response(200, _response_of(_load(caller, run_id, consistent=True)))


@router.post(
    f"{BASE}/responses",
    tags=TAGS,
    responses={
        200: {
            "description": "The response (JSON), or with `stream: true` its stream events (Server-Sent "
            "Events: `event: <type>` and `data: <event>` with `sequence_number`).",
            "content": {
                "application/json": {"model": ResponseObject},
                sse.EVENT_STREAM: {"schema": SSE_EVENT},
            },
        },
        **errors(402, 404, 409, 413, 415, 422),
    },
)
def create_response(body: CreateResponse, caller: OrgCaller) -> Response[str]:
    """Create a response: a run of the agent `model` on `input`, in a new thread or in the thread of
    `previous_response_id` — or, if that response waits for an approval or input, answer it.

    A run waiting for an approval is `incomplete` (`incomplete_details.reason: approval_required`) with an
    `mcp_approval_request` output item, the Responses API's pending-approval shape; one waiting for input
    is `incomplete` (`input_required`) with the question as a message. Answer with `previous_response_id`
    = that response and an `mcp_approval_response` item or the user's text as `input`: the same response
    (same id) goes on. A cancelled response's stream ends with `response.cancelled`."""
    name, selector = _agent_ref(body.model)
    if body.previous_response_id is None:
        thread_id = threads.create_thread(caller, CreateThread(agent=name)).id
    else:
        previous = _load(caller, body.previous_response_id, consistent=True)
        if run_status.is_waiting(previous["status"]):
            sequence = _translated(previous).sequence
            _answer(caller, previous, body)
            return _respond(caller, previous["id"], body, sequence)
        thread_id = previous["thread_id"]
    options = RunOptions(
        thread_id=thread_id,
        version=selector,
        metadata=body.metadata or {},
        max_tokens=body.max_output_tokens,
        external_ids={"previous_response_id": body.previous_response_id} if body.previous_response_id else {},
    )
    run = runs.create_run(caller, name, options, _text(body), "enqueue")
    return _respond(caller, run.id, body)


@router.get(
    f"{BASE}/responses/<response_id>",
    tags=TAGS,
    responses={
        200: {
            "description": "The response; with `stream=true` its stream events after `starting_after`.",
            "content": {
                "application/json": {"model": ResponseObject},
                sse.EVENT_STREAM: {"schema": SSE_EVENT},
            },
        },
        **errors(404),
    },
)
def get_response(
    response_id: ResponseId,
    caller: OrgCaller,
    stream: Annotated[bool, Query(description="Stream the response's events (SSE).")] = False,
    starting_after: Annotated[
        NonNegativeInt | None, Query(description="With `stream=true`: the sequence number to resume after.")
    ] = None,
    include: Annotated[list[str] | None, Query(description="Accepted and ignored.")] = None,
) -> Response[str]:
    """Read a response, or stream its events (resuming after `starting_after`)."""
    run = _load(caller, response_id, consistent=True)
    if stream:
        return _stream(caller, run["id"], -1 if starting_after is None else starting_after)
    return json_response(200, _response_of(run))


@router.post(f"{BASE}/responses/<response_id>/cancel", tags=TAGS, responses=errors(404, 409, 422))
def cancel_response(response_id: ResponseId, caller: OrgCaller) -> ResponseObject:
    """Cancel a response that has not ended (again on a cancelled one is harmless)."""
    _load(caller, response_id)
    runs.cancel_run(caller, response_id, "cancelled through the OpenAI Responses dialect")
    return ResponseObject.model_validate(_response_of(_load(caller, response_id, consistent=True)))


@router.delete(f"{BASE}/responses/<response_id>", tags=TAGS, responses=errors(404))
def delete_response(response_id: ResponseId, caller: OrgCaller) -> DeletedResponse:
    """Delete a response from this dialect (a live one is cancelled first); /v1 keeps the run."""
    run = _load(caller, response_id, consistent=True)
    if not run_status.is_terminal(run["status"]):
        runs.cancel_run(caller, response_id, "deleted through the OpenAI Responses dialect")

    def mark(run: dict[str, Any]) -> Change | None:
        if run.get(DELETED):
            raise NotFound(f"No response {response_id!r}.")
        return Change({DELETED: clock.now_iso()})

    runs.change_run(caller, response_id, mark)
    return DeletedResponse(id=response_id)
