"""The Agent Protocol / LangGraph dialect (docs/api.md §8), base /dialects/langgraph: the official
`langgraph-sdk` client works unchanged for assistants, threads, background runs, `runs.wait`,
`runs.stream` (modes `values`, `messages-tuple`, `updates`, `events`), `runs.join`, `runs.join_stream`,
cancel, and human approval through interrupts.

An assistant is an agent (`assistant_id` = its id; its name works too, as `graph_id` does in
LangGraph). A thread is a /v1 thread, its `values` being `{"messages": [...]}` (the thread's messages as
LangChain message dicts). A run is a /v1 run in the thread; `input.messages` is the user's turn, the
rest of `input` the run's input. `multitask_strategy` `reject` (LangGraph's default: 409 while the thread
is busy) or `enqueue`; `interrupt` and `rollback` are refused (400).

A run waiting for an approval or input is `interrupted`, and so is its thread; the pending item is the
thread state's interrupt (`{value: {type, action, arguments, prompt}, id: <step id>}`) and `__interrupt__`
in `wait`/`join` values and `updates`. `command: {resume: …}` on a new run of the thread answers it: for
an approval `true`/`"approve"`/`{"decision": "approve"}` approves and `false`/`"reject"` rejects; for
input, a string (or an object: structured input). Answering starts no new run: the interrupted run
goes on (the call answers for it, its stream continues). A cancelled run is `interrupted` too, as
LangGraph's cancel leaves it. Errors are `{"detail": message, "code": our code}`.

Over 300 lines: the Agent Protocol's assistants, threads, runs, stream modes and interrupts are one
mapping onto our runs; splitting it by resource would scatter the run ↔ thread-state translation. A
split (models / routes) is the next step if it grows.
"""

import json
import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from runs_core.api import sse
from runs_core.api.caller import OrgCaller
from runs_core.api.openapi import Router
from runs_core.api.problems import Render
from runs_core.context import Caller
from runs_core.dialects.common import error_responses, json_response, renderer, success
from runs_core.errors import ApiError, InvalidState, NotFound, ValidationFailed
from runs_core.logic import answers, events, runs, threads, waiting
from runs_core.models.common import ResponseModel
from runs_core.models.runs import RunOptions, SubmitApproval, SubmitInput
from runs_core.models.threads import CreateThread
from runs_core.run_status import FAILED, TERMINAL_STATUSES, WAITING_APPROVAL, WAITING_STATUSES

BASE = "/dialects/langgraph"
TAGS = ["Dialect: Agent Protocol (LangGraph)"]
RUN_STATUSES = {
    "created": "pending",
    "queued": "pending",
    "running": "running",
    "waiting_for_input": "interrupted",
    "waiting_approval": "interrupted",
    "completed": "success",
    "failed": "error",
    "cancelled": "interrupted",
}
NODE = "agent"  # the one graph node an agent's steps are reported as
MODE_EVENTS = {"values": "values", "messages-tuple": "messages", "updates": "updates", "events": "events"}
APPROVE, REJECT = {True, "approve", "approved", "yes", "y", "ok"}, {False, "reject", "rejected", "no", "n"}
BUFFERED_WAIT_SECONDS = 25

router = Router()
Id = Annotated[str, Path(min_length=1, max_length=64)]


def _error_body(error: ApiError, request_id: str | None) -> dict[str, Any]:
    return {"detail": error.detail, "code": error.code}


class LangGraphError(ResponseModel):
    detail: str
    code: str = Field(description="runs-api's error code.", examples=["not_found"])


RENDER: Render = renderer(_error_body)
ERRORS = {
    400: "Invalid request (validation_error, invalid_json, an unsupported multitask_strategy)",
    402: "insufficient_credits",
    403: "forbidden: X-Org-Id is not the key's org",
    404: "Not found (another org's ids too)",
    409: "thread_busy (multitask_strategy reject); invalid_state (nothing to resume, a finished run)",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "Idempotency-Key reused",
    429: "rate_limited (see Retry-After)",
    500: "internal_error",
}


def errors(*statuses: int) -> dict[int, Any]:
    wanted = {400, 403, 429, 500, *statuses}
    return error_responses(LangGraphError, {status: ERRORS[status] for status in wanted})


def ok(model: Any, description: str, *statuses: int) -> dict[int, Any]:
    """`responses=` of a JSON route: its success model and its errors."""
    return {**success(model, description), **errors(*statuses)}


def _streamed(*statuses: int) -> dict[int, Any]:
    """`responses=` of a streaming route: Server-Sent Events (OpenAPI 3.1: a schema per event)."""
    part = sse.frame_schema(
        event={"type": "string", "description": "metadata, values, messages, updates, events or error"}
    )
    return {
        200: {"description": "Server-Sent Events: `event: <mode>`, `data: <part>`.",
              "content": {sse.EVENT_STREAM: {"schema": part}}},
        **errors(*statuses),
    }  # fmt: skip


class _Loose(BaseModel):
    """The SDK sends every option it knows (most with defaults): what this dialect does not use is ignored."""

    model_config = ConfigDict(extra="ignore", defer_build=True)  # built on first use, not at a cold start


class AssistantSearch(_Loose):
    model_config = ConfigDict(json_schema_extra={"examples": [{"graph_id": "demo", "limit": 10}]})

    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(10, ge=1, le=100)
    offset: int = Field(0, ge=0, le=10_000)


class ThreadCreate(_Loose):
    model_config = ConfigDict(json_schema_extra={"examples": [{"metadata": {"user": "ada"}}]})

    metadata: dict[str, Any] | None = None


class RunCreate(_Loose):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"assistant_id": "demo", "input": {"messages": [{"role": "user", "content": "Hi"}]}},
                {"command": {"resume": True}},
            ]
        }
    )

    assistant_id: str | None = Field(None, max_length=64, description="The agent: its id or name.")
    input: dict[str, Any] | None = None
    command: dict[str, Any] | None = Field(None, description="`{resume: …}` answers the thread's interrupt.")
    metadata: dict[str, Any] | None = None
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] | None = None
    stream_mode: str | list[str] | None = None


# ------------------------------------------------------------------------------------------- shapes


class LgAssistant(ResponseModel):
    assistant_id: str = Field(description="The agent's id.")
    graph_id: str = Field(description="The agent's name.")
    name: str
    description: str | None
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    version: int
    created_at: str
    updated_at: str


class LgThread(ResponseModel):
    thread_id: str
    created_at: str
    updated_at: str
    metadata: dict[str, Any]
    status: str = Field(json_schema_extra={"enum": ["idle", "busy", "interrupted"]})
    values: dict[str, Any] = Field(description="`{messages: [...]}`")
    interrupts: dict[str, list[dict[str, Any]]] = Field(description="Run id → its interrupt.")


class LgThreadState(ResponseModel):
    values: dict[str, Any]
    next: list[str]
    checkpoint: dict[str, Any]
    metadata: dict[str, Any]
    created_at: str | None
    parent_checkpoint: dict[str, Any] | None
    tasks: list[dict[str, Any]]
    interrupts: list[dict[str, Any]]


class LgRun(ResponseModel):
    """A run (its `kwargs` member, always `{}`, is left out of this schema)."""

    run_id: str
    thread_id: str
    assistant_id: str
    created_at: str
    updated_at: str
    status: str = Field(json_schema_extra={"enum": ["pending", "running", "error", "success", "interrupted"]})
    metadata: dict[str, Any]
    multitask_strategy: str


class LgValues(BaseModel):
    """The thread's values: `messages`, plus `__interrupt__` (interrupted) or `__error__` (failed)."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    messages: list[dict[str, Any]]


def _assistant(agent: Any) -> dict[str, Any]:
    return {
        "assistant_id": agent.id,
        "graph_id": agent.name,
        "name": agent.name,
        "description": agent.description,
        "config": {},
        "context": {},
        "metadata": {},
        "version": 1,
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
    }


def _message(record: Any) -> dict[str, Any]:
    human = record.role == "user"
    message = {
        "type": "human" if human else "ai",
        "content": record.content,
        "id": record.id,
        "name": None,
        "additional_kwargs": {},
        "response_metadata": {},
    }
    return message if human else {**message, "tool_calls": [], "invalid_tool_calls": []}


def _messages(caller: Caller, thread_id: str) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        page = threads.list_messages(caller, thread_id, 100, cursor)
        found += [_message(record) for record in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return found


def _interrupt(run: dict[str, Any]) -> dict[str, Any]:
    pending = run.get("pending") or {}
    value = {key: pending.get(key) for key in ("type", "action", "arguments", "prompt") if pending.get(key)}
    return {"value": value, "id": pending.get("step_id", run["id"])}


def _thread_run(caller: Caller, thread: dict[str, Any]) -> dict[str, Any] | None:
    active = thread.get("active_run_id")
    return runs.load_run(caller, active, consistent=True) if active else None


def _thread(caller: Caller, thread_id: str) -> dict[str, Any]:
    thread = threads.load_thread(caller, thread_id, consistent=True)
    active = _thread_run(caller, thread)
    waiting = active is not None and active["status"] in WAITING_STATUSES
    return {
        "thread_id": thread["id"],
        "created_at": thread["created_at"],
        "updated_at": (active or {}).get("created_at", thread["created_at"]),
        "metadata": thread.get("metadata") or {},
        "status": "interrupted" if waiting else ("busy" if active else "idle"),
        "values": {"messages": _messages(caller, thread_id)},
        "interrupts": {active["id"]: [_interrupt(active)]} if waiting and active else {},
    }


def _run(run: Any) -> dict[str, Any]:
    ended = run.completed_at or run.failed_at or run.cancelled_at
    return {
        "run_id": run.id,
        "thread_id": run.thread_id,
        "assistant_id": run.agent_id,
        "created_at": run.created_at,
        "updated_at": ended or run.started_at or run.created_at,
        "status": RUN_STATUSES[run.status],
        "metadata": run.metadata,
        "multitask_strategy": run.external_ids.get("multitask_strategy", "enqueue"),
        "kwargs": {},
    }


def _values(caller: Caller, thread_id: str, run: dict[str, Any]) -> dict[str, Any]:
    """What `wait` and `join` answer: the thread's values, with `__interrupt__` or `__error__`."""
    values: dict[str, Any] = {"messages": _messages(caller, thread_id)}
    if run["status"] in WAITING_STATUSES:
        values["__interrupt__"] = [_interrupt(run)]
    elif run["status"] == FAILED:
        error = run.get("error") or {}
        values["__error__"] = {"error": error.get("code"), "message": error.get("message")}
    return values


# ------------------------------------------------------------------------------------------- routes


@router.post(f"{BASE}/assistants/search", tags=TAGS, responses=ok(list[LgAssistant], "The assistants", 422))
def search_assistants(caller: OrgCaller, body: Annotated[AssistantSearch | None, Body()] = None) -> Any:
    """The org's agents as assistants (filtered by `graph_id` or `name`: the agent's name)."""
    from runs_core.logic import agents  # lazy, for cold start: only the assistants routes need agents

    body = body or AssistantSearch()
    wanted = body.graph_id or body.name
    found: list[dict[str, Any]] = []
    cursor = None
    while len(found) < body.offset + body.limit:
        page = agents.list_agents(caller, 100, cursor)
        found += [_assistant(agent) for agent in page.items if wanted in (None, agent.name)]
        cursor = page.next_cursor
        if cursor is None:
            break
    return json_response(200, found[body.offset : body.offset + body.limit])


@router.get(f"{BASE}/assistants/<assistant_id>", tags=TAGS, responses=ok(LgAssistant, "The assistant", 404))
def get_assistant(assistant_id: Id, caller: OrgCaller) -> Any:
    """One assistant: the agent of that id (or name)."""
    from runs_core.logic import agents  # lazy, for cold start (as search_assistants)

    return json_response(200, _assistant(agents.get_agent(caller, assistant_id)))


@router.post(f"{BASE}/threads", tags=TAGS, responses=ok(LgThread, "The thread", 422))
def create_thread(caller: OrgCaller, body: Annotated[ThreadCreate | None, Body()] = None) -> Any:
    """A new thread (its metadata: string values; others are kept as JSON text)."""
    metadata = _strings((body or ThreadCreate()).metadata)
    created = threads.create_thread(caller, CreateThread(metadata=metadata))
    return json_response(200, _thread(caller, created.id))


@router.get(f"{BASE}/threads/<thread_id>", tags=TAGS, responses=ok(LgThread, "The thread", 404))
def get_thread(thread_id: Id, caller: OrgCaller) -> Any:
    """The thread, with its values and interrupts."""
    return json_response(200, _thread(caller, thread_id))


@router.get(
    f"{BASE}/threads/<thread_id>/state", tags=TAGS, responses=ok(LgThreadState, "The thread state", 404)
)
def get_state(thread_id: Id, caller: OrgCaller) -> Any:
    """The thread's state: values, and while a run waits, `next: ["agent"]` and its interrupt."""
    thread = _thread(caller, thread_id)
    interrupts = [item for items in thread["interrupts"].values() for item in items]
    run_id = next(iter(thread["interrupts"]), None)
    state = {
        "values": thread["values"],
        "next": [NODE] if interrupts else [],
        "checkpoint": {
            "thread_id": thread_id,
            "checkpoint_ns": "",
            "checkpoint_id": run_id,
            "checkpoint_map": None,
        },
        "metadata": thread["metadata"],
        "created_at": thread["updated_at"],
        "parent_checkpoint": None,
        "tasks": [
            {
                "id": run_id,
                "name": NODE,
                "error": None,
                "interrupts": interrupts,
                "checkpoint": None,
                "state": None,
                "result": None,
            }
        ]
        if interrupts
        else [],
        "interrupts": interrupts,
    }
    return json_response(200, state)


def _strings(metadata: dict[str, Any] | None) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()}


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field} {message}", [{"field": field, "code": "value_error", "message": message}]
    )


def _resume(caller: Caller, thread: dict[str, Any], answer: Any) -> tuple[str, int]:
    run = _thread_run(caller, thread)
    if run is None or run["status"] not in WAITING_STATUSES:
        raise InvalidState("Nothing to resume: no run of the thread waits for an approval or input.")
    after = int(run["last_event_seq"])
    if run["status"] == WAITING_APPROVAL:
        decision = answer.get("decision", answer.get("approved")) if isinstance(answer, dict) else answer
        decision = decision.strip().lower() if isinstance(decision, str) else decision
        if decision not in APPROVE | REJECT:
            raise _invalid("command.resume", "must approve (true, approve) or reject (false, reject)")
        comment = answer.get("comment") if isinstance(answer, dict) else None
        approval = SubmitApproval(decision="approve" if decision in APPROVE else "reject", comment=comment)
        answers.submit_approval(caller, run["id"], approval)
    elif isinstance(answer, dict):
        answers.submit_input(caller, run["id"], SubmitInput(data=answer))
    else:
        answers.submit_input(caller, run["id"], SubmitInput(content=str(answer)))
    return run["id"], after


def _user_turn(run_input: dict[str, Any] | None) -> tuple[str | None, dict[str, Any] | None]:
    """`input.messages` → the user's text; the rest of the input is the run's input."""
    rest = dict(run_input or {})
    texts = []
    for message in rest.pop("messages", None) or []:
        content = message.get("content") if isinstance(message, dict) else message
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if isinstance(content, str):
            texts.append(content)
    return ("\n\n".join(texts) or None), (rest or None)


def _start(caller: Caller, thread_id: str, body: RunCreate) -> tuple[str, int]:
    """Create the run (or resume the waiting one); returns its id and the seq its new events follow."""
    thread = threads.load_thread(caller, thread_id, consistent=True)
    if body.command is not None and "resume" in body.command:
        return _resume(caller, thread, body.command["resume"])
    if not body.assistant_id:
        raise _invalid("assistant_id", "is required (unless `command.resume` answers an interrupt)")
    strategy = body.multitask_strategy or "reject"
    if strategy not in ("reject", "enqueue"):
        raise _invalid(
            "multitask_strategy", "must be reject or enqueue (interrupt and rollback: not supported)"
        )
    text, run_input = _user_turn(body.input)
    options = RunOptions(
        thread_id=thread_id,
        input=run_input,
        metadata=_strings(body.metadata),
        external_ids={"multitask_strategy": strategy},
    )
    return runs.create_run(caller, body.assistant_id, options, text, strategy).id, 0


def _settle(caller: Caller, run_id: str) -> dict[str, Any]:
    """The run once it ended or waits for someone (or when this host can wait no longer)."""
    budget = sse.within_deadline(events.MAX_STREAM_WAIT_SECONDS) if sse.streaming() else BUFFERED_WAIT_SECONDS
    deadline = time.monotonic() + budget
    while True:
        run = waiting.wait_for_run(caller, run_id, max(1, min(25, int(deadline - time.monotonic()))))
        if run.status in TERMINAL_STATUSES or run.status in WAITING_STATUSES or time.monotonic() >= deadline:
            return runs.load_run(caller, run_id, consistent=True)


def _modes(stream_mode: str | list[str] | None) -> list[str]:
    modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode or ["values"])
    unknown = [mode for mode in modes if mode not in MODE_EVENTS]
    if unknown:
        raise _invalid("stream_mode", f"{unknown[0]!r} is not one of {', '.join(MODE_EVENTS)}")
    return modes


@router.post(
    f"{BASE}/threads/<thread_id>/runs",
    tags=TAGS,
    responses=ok(LgRun, "The run", 402, 404, 409, 413, 415, 422),
)
def create_run(thread_id: Id, body: RunCreate, caller: OrgCaller) -> Any:
    """A background run in the thread (or, with `command.resume`, the interrupted run resumed)."""
    run_id, _ = _start(caller, thread_id, body)
    return json_response(200, _run(runs.get_run(caller, run_id)))


@router.post(
    f"{BASE}/threads/<thread_id>/runs/wait",
    tags=TAGS,
    responses=ok(LgValues, "The thread's values", 402, 404, 409, 413, 415, 422),
)
def wait_run(thread_id: Id, body: RunCreate, caller: OrgCaller) -> Any:
    """Create a run (or resume one) and answer the thread's values once it ended or was interrupted."""
    run_id, _ = _start(caller, thread_id, body)
    return json_response(200, _values(caller, thread_id, _settle(caller, run_id)))


@router.post(
    f"{BASE}/threads/<thread_id>/runs/stream", tags=TAGS, responses=_streamed(402, 404, 409, 413, 415, 422)
)
def stream_run(thread_id: Id, body: RunCreate, caller: OrgCaller) -> Response[str]:
    """Create a run (or resume one) and stream it (SSE) in the requested modes."""
    modes = _modes(body.stream_mode)
    run_id, after = _start(caller, thread_id, body)
    return _stream(caller, thread_id, run_id, after, modes)


@router.get(
    f"{BASE}/threads/<thread_id>/runs", tags=TAGS, responses=ok(list[LgRun], "The runs, newest first", 404)
)
def list_runs(thread_id: Id, caller: OrgCaller, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> Any:
    """The thread's runs, newest first."""
    threads.load_thread(caller, thread_id)
    page = runs.list_runs(caller, limit, None, thread_id=thread_id)
    return json_response(200, [_run(run) for run in page.items])


def _run_of(caller: Caller, thread_id: str, run_id: str) -> Any:
    run = runs.get_run(caller, run_id)
    if run.thread_id != thread_id:
        raise NotFound(f"No run {run_id!r} in thread {thread_id!r}.")
    return run


@router.get(f"{BASE}/threads/<thread_id>/runs/<run_id>", tags=TAGS, responses=ok(LgRun, "The run", 404))
def get_run(thread_id: Id, run_id: Id, caller: OrgCaller) -> Any:
    """One run of the thread."""
    return json_response(200, _run(_run_of(caller, thread_id, run_id)))


@router.post(
    f"{BASE}/threads/<thread_id>/runs/<run_id>/cancel",
    status_code=202,
    tags=TAGS,
    responses={**success(LgRun, "The run, cancelled (interrupted)", 202), **errors(404, 409, 422)},
)
def cancel_run(thread_id: Id, run_id: Id, caller: OrgCaller) -> Any:
    """Cancel the run (it becomes `interrupted`); again is harmless, a finished run is 409."""
    _run_of(caller, thread_id, run_id)
    run = runs.cancel_run(caller, run_id, "cancelled through the Agent Protocol dialect")
    return json_response(202, _run(run))


@router.get(
    f"{BASE}/threads/<thread_id>/runs/<run_id>/join",
    tags=TAGS,
    responses=ok(LgValues, "The thread's values", 404),
)
def join_run(thread_id: Id, run_id: Id, caller: OrgCaller) -> Any:
    """Wait for the run to end (or be interrupted) and answer the thread's values."""
    _run_of(caller, thread_id, run_id)
    return json_response(200, _values(caller, thread_id, _settle(caller, run_id)))


@router.get(f"{BASE}/threads/<thread_id>/runs/<run_id>/stream", tags=TAGS, responses=_streamed(404))
def join_stream(
    thread_id: Id,
    run_id: Id,
    caller: OrgCaller,
    stream_mode: Annotated[
        list[str] | None, Query(description="values, messages-tuple, updates, events")
    ] = None,
) -> Response[str]:
    """Stream the run (SSE) from its start, live until it ends or is interrupted."""
    _run_of(caller, thread_id, run_id)
    return _stream(caller, thread_id, run_id, 0, _modes(stream_mode))


# ------------------------------------------------------------------------------------------- streams


def _stream(caller: Caller, thread_id: str, run_id: str, after: int, modes: list[str]) -> Response[str]:
    max_wait = sse.max_wait_seconds()
    frames = events.open_stream(caller, run_id, after, sse.within_deadline(max_wait), max_wait=max_wait)
    return sse.sse_response(_parts(caller, thread_id, run_id, frames, modes))


def _part(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"


def _ai(step_id: str, content: str, chunk: bool = False) -> dict[str, Any]:
    return {
        "type": "AIMessageChunk" if chunk else "ai",
        "content": content,
        "id": f"msg_{step_id}",
        "name": None,
        "tool_calls": [],
        "invalid_tool_calls": [],
        "additional_kwargs": {},
        "response_metadata": {},
    }


def _callback(
    event: str, name: str | None, run_id: str, meta: dict[str, Any], **payload: Any
) -> tuple[str, str, dict[str, Any]]:
    """An `events` part: a LangChain callback event."""
    body: dict[str, Any] = {
        "event": event,
        "name": name,
        "run_id": run_id,
        "data": payload,
        "metadata": meta,
        "tags": [],
    }
    return "events", "events", body


def _parts(
    caller: Caller, thread_id: str, run_id: str, frames: Iterator[str], modes: list[str]
) -> Iterator[str]:
    """The run's log as LangGraph stream parts, ending with the run or its interrupt."""
    yield _part("metadata", {"run_id": run_id, "attempt": 1})
    meta = {"langgraph_node": NODE, "run_id": run_id, "thread_id": thread_id}
    values = {"messages": _messages(caller, thread_id)}
    for text in frames:
        if not text.startswith("id: "):
            yield text  # keep-alive comments, the closing retry:
            continue
        envelope = json.loads(text.split("\ndata: ", 1)[1])
        kind, data = envelope["type"], envelope["data"]
        parts: list[tuple[str, str, Any]] = []  # (mode, event, data)

        if kind == "run.started":
            parts.append(("values", "values", values))
            parts.append(_callback("on_chain_start", "LangGraph", run_id, meta, input=values))
        elif kind == "message.delta":
            chunk = _ai(data["step_id"], data.get("delta") or "", chunk=True)
            parts.append(("messages-tuple", "messages", [chunk, meta]))
            parts.append(_callback("on_chat_model_stream", NODE, run_id, meta, chunk=chunk))
        elif kind == "message.completed" and data.get("content"):
            message = _ai(data["step_id"], data["content"])
            values = {"messages": [*values["messages"], message]}
            parts.append(("updates", "updates", {NODE: {"messages": [message]}}))
            parts.append(("values", "values", values))
        elif kind == "tool.call":
            parts.append(
                _callback("on_tool_start", data.get("action"), run_id, meta, input=data.get("arguments"))
            )
        elif kind == "tool.result":
            tool = {
                "type": "tool",
                "content": json.dumps(data.get("result")),
                "name": data.get("action"),
                "tool_call_id": data.get("step_id"),
                "id": f"tool_{data.get('step_id')}",
            }
            parts.append(("updates", "updates", {"tools": {"messages": [tool]}}))
            parts.append(
                _callback("on_tool_end", data.get("action"), run_id, meta, output=data.get("result"))
            )
        elif kind in ("run.waiting_approval", "run.waiting_for_input"):
            interrupts = [_interrupt(runs.load_run(caller, run_id, consistent=True))]
            parts.append(("updates", "updates", {"__interrupt__": interrupts}))
            parts.append(("values", "values", {**values, "__interrupt__": interrupts}))
        elif kind == "run.failed":
            error = data.get("error") or {}
            yield _part("error", {"error": error.get("code"), "message": error.get("message")})
            return
        elif kind in ("run.completed", "run.cancelled"):
            final = {"messages": _messages(caller, thread_id)}
            parts.append(("values", "values", final))
            parts.append(_callback("on_chain_end", "LangGraph", run_id, meta, output=final))
        for mode, event, payload in parts:
            if mode in modes:
                yield _part(event, payload)
        if kind in ("run.waiting_approval", "run.waiting_for_input", "run.completed", "run.cancelled"):
            return
