"""Thread routes (docs/api.md §5): threads, their runs, messages and memory."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from runs_core.api.caller import OrgCaller
from runs_core.api.openapi import Router, errors
from runs_core.errors import ValidationFailed
from runs_core.logic import memory, runs, threads
from runs_core.models.common import Page
from runs_core.models.runs import MemoryEntry, MemoryItems, MemoryValue, Run
from runs_core.models.threads import CreateThread, CreateThreadRun, Message, Thread, ThreadRun
from runs_core.pages import DEFAULT_LIMIT, MAX_LIMIT

router = Router()
ThreadId = Annotated[str, Path(min_length=1, max_length=64)]
MemoryKey = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=4096)]
TAGS = ["Threads"]


@router.post("/v1/threads", status_code=201, tags=TAGS, responses=errors(404, 413, 415))
def create_thread(caller: OrgCaller, body: Annotated[CreateThread | None, Body()] = None) -> Thread:
    """Create a thread: a conversation its runs take turns in."""
    return threads.create_thread(caller, body or CreateThread())


@router.get("/v1/threads", tags=TAGS, responses=errors())
def list_threads(caller: OrgCaller, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[Thread]:
    """Threads, newest first."""
    return threads.list_threads(caller, limit, cursor)


@router.get("/v1/threads/<thread_id>", tags=TAGS, responses=errors(404))
def get_thread(thread_id: ThreadId, caller: OrgCaller) -> Thread:
    """One thread, `busy` while one of its runs is active (`idle` otherwise), with the runs queued for it."""
    return threads.get_thread(caller, thread_id)


@router.post(
    "/v1/threads/<thread_id>/runs", status_code=201, tags=TAGS, responses=errors(402, 404, 409, 413, 415)
)
def create_thread_run(thread_id: ThreadId, body: CreateThreadRun, caller: OrgCaller) -> ThreadRun:
    """Create a run in the thread. It sees the thread's messages and memory; `message` is its user turn. On a
    busy thread: `enqueue` (default) queues it to start when the runs before it end; `reject` is 409
    thread_busy."""
    if body.thread_id not in (None, thread_id):
        message = "must be omitted or equal the thread in the path"
        raise ValidationFailed(
            f"thread_id {message}", [{"field": "thread_id", "code": "const", "message": message}]
        )
    options = body.model_copy(update={"thread_id": thread_id})
    run = runs.create_run(caller, body.agent, options, body.message, body.multitask_strategy)
    return ThreadRun(**run.model_dump(), run_id=run.id)


@router.get("/v1/threads/<thread_id>/runs", tags=TAGS, responses=errors(404))
def list_thread_runs(
    thread_id: ThreadId,
    caller: OrgCaller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Annotated[str | None, Query(max_length=256, description="Comma list of statuses.")] = None,
) -> Page[Run]:
    """The thread's runs, newest first."""
    threads.load_thread(caller, thread_id)
    return runs.list_runs(caller, limit, cursor, status=status, thread_id=thread_id)


@router.get("/v1/threads/<thread_id>/messages", tags=TAGS, responses=errors(404))
def list_messages(
    thread_id: ThreadId, caller: OrgCaller, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Page[Message]:
    """The conversation, oldest first: each run's user turn (as it starts) and answer (as it completes)."""
    return threads.list_messages(caller, thread_id, limit, cursor)


@router.get("/v1/threads/<thread_id>/memory", tags=TAGS, responses=errors(404))
def get_memory(thread_id: ThreadId, caller: OrgCaller) -> MemoryItems:
    """The thread's memory, shared by its runs (their `memory_get` / `memory_set`)."""
    return memory.get_memory(caller, "thread", thread_id)


@router.put("/v1/threads/<thread_id>/memory/<key>", tags=TAGS, responses=errors(404, 413, 415))
def put_memory(thread_id: ThreadId, key: MemoryKey, body: MemoryValue, caller: OrgCaller) -> MemoryEntry:
    """Set one memory entry."""
    return memory.put_memory(caller, "thread", thread_id, key, body.value)


@router.delete("/v1/threads/<thread_id>/memory/<key>", status_code=204, tags=TAGS, responses=errors(404))
def delete_memory(thread_id: ThreadId, key: MemoryKey, caller: OrgCaller) -> Response[None]:
    """Delete one memory entry."""
    memory.delete_memory(caller, "thread", thread_id, key)
    return Response(status_code=204, body=None)
