"""Run routes (docs/api.md §4)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from runs_core.api.caller import OrgCaller
from runs_core.api.openapi import Problem, Router, errors
from runs_core.logic import answers, memory, runs, steps, waiting
from runs_core.models.common import Page
from runs_core.models.runs import (
    CancelRun,
    CreateRun,
    MemoryEntry,
    MemoryItems,
    MemoryValue,
    Run,
    RunOptions,
    Step,
    SubmitApproval,
    SubmitInput,
    SyncOutput,
)
from runs_core.pages import DEFAULT_LIMIT, MAX_LIMIT

router = Router()
RunId = Annotated[str, Path(min_length=1, max_length=64)]
MemoryKey = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
TAGS = ["Runs"]


@router.post("/v1/runs", status_code=201, tags=TAGS, responses=errors(402, 404, 413, 415))
def create_run(body: CreateRun, caller: OrgCaller) -> Run:
    """Create a run: `queued` (it starts) or, with `start=false`, `created` (start it with /invoke). If its
    execution cannot be started the run is returned `failed` (error internal_error): create another."""
    return runs.create_run(caller, body.agent, body)


AgentRef = Annotated[str, Path(min_length=1, max_length=64, description="Agent id or name.")]
VersionQuery = Annotated[
    str | None,
    Query(max_length=128, description="Version selector; overrides nothing: send it here or in the body."),
]


@router.post(
    "/v1/agents/<agent>/runs",
    status_code=202,
    tags=TAGS,
    responses={
        202: {"description": "The run, created (and started unless `start=false`)."},
        **errors(402, 404, 409, 413, 415),
    },
)
def create_agent_run(
    agent: AgentRef, body: RunOptions, caller: OrgCaller, version: VersionQuery = None
) -> Run:
    """Fire-and-forget: create a run of this agent and return at once (202). Same body as POST /v1/runs
    without `agent`."""
    return runs.create_run(caller, agent, runs.with_version(body, version))


@router.post(
    "/v1/agents/<agent>/run",
    tags=TAGS,
    responses={
        200: {
            "description": "The run completed: its outputs. Header `Run-Id` names the run.",
            "content": {"application/json": {"model": list[SyncOutput]}},
        },
        202: {
            "description": "Not finished within `timeout` (or waiting for input or approval): the run, with "
            "`Location` and `Run-Id` headers; follow it with /v1/runs/{id}/wait or its events.",
            "content": {"application/json": {"model": Run}},
        },
        422: {
            "description": "run_failed: the run failed or was cancelled; `run_id` and `error` in the body.",
            "content": {"application/problem+json": {"model": Problem}},
        },
        **errors(402, 404, 409, 413, 415),
    },
)
def run_agent(
    agent: AgentRef,
    body: RunOptions,
    caller: OrgCaller,
    version: VersionQuery = None,
    timeout: Annotated[int, Query(ge=0, le=waiting.MAX_WAIT_SECONDS, description="Seconds, ≤ 25.")] = 25,
) -> Response[Any]:
    """Synchronous: create a run of this agent and wait up to `timeout` seconds for it to complete. A run
    waiting for input or approval is not finished (202)."""
    run = waiting.run_and_wait(caller, agent, runs.with_version(body, version), timeout)
    headers = {"Run-Id": run.id}
    if run.status == "completed":
        outputs = [SyncOutput(**output.model_dump(), cost=run.usage.cost_usd) for output in run.outputs]
        return Response(
            200, "application/json", [output.model_dump(mode="json") for output in outputs], headers
        )
    headers["Location"] = f"/v1/runs/{run.id}"
    return Response(202, "application/json", run.model_dump(mode="json"), headers)


@router.get("/v1/runs", tags=TAGS, responses=errors())
def list_runs(
    caller: OrgCaller,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
    agent: Annotated[str | None, Query(max_length=64, description="Agent id or name.")] = None,
    status: Annotated[str | None, Query(max_length=256, description="Comma list of statuses.")] = None,
    thread_id: Annotated[str | None, Query(max_length=64)] = None,
    end_user: Annotated[str | None, Query(max_length=128)] = None,
    created_after: Annotated[str | None, Query(max_length=64, description="RFC 3339, exclusive.")] = None,
    created_before: Annotated[str | None, Query(max_length=64, description="RFC 3339, exclusive.")] = None,
) -> Page[Run]:
    """Runs, newest first, filtered."""
    return runs.list_runs(
        caller, limit, cursor, agent, status, thread_id, end_user, created_after, created_before
    )


@router.get("/v1/runs/<run_id>", tags=TAGS, responses=errors(404))
def get_run(run_id: RunId, caller: OrgCaller) -> Run:
    """One run."""
    return runs.get_run(caller, run_id)


@router.post("/v1/runs/<run_id>/invoke", tags=TAGS, responses=errors(404, 409))
def invoke_run(run_id: RunId, caller: OrgCaller) -> Run:
    """Start a `created` run; any other status is 409 invalid_state."""
    return runs.invoke_run(caller, run_id)


@router.post("/v1/runs/<run_id>/cancel", tags=TAGS, responses=errors(404, 409, 413, 415))
def cancel_run(run_id: RunId, caller: OrgCaller, body: Annotated[CancelRun | None, Body()] = None) -> Run:
    """Cancel a run. Cancelling a cancelled run returns it; a completed or failed run is 409."""
    return runs.cancel_run(caller, run_id, body.reason if body else None)


@router.get("/v1/runs/<run_id>/steps", tags=TAGS, responses=errors(404))
def list_steps(
    run_id: RunId,
    caller: OrgCaller,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> Page[Step]:
    """The run's steps in order: decisions, actions, approvals and inputs."""
    return steps.list_steps(caller, run_id, limit, cursor)


@router.post("/v1/runs/<run_id>/input", tags=TAGS, responses=errors(404, 409, 413, 415))
def submit_input(run_id: RunId, body: SubmitInput, caller: OrgCaller) -> Run:
    """Answer a run that is `waiting_for_input`; any other status is 409 invalid_state."""
    return answers.submit_input(caller, run_id, body)


@router.post("/v1/runs/<run_id>/approval", tags=TAGS, responses=errors(404, 409, 413, 415))
def submit_approval(run_id: RunId, body: SubmitApproval, caller: OrgCaller) -> Run:
    """Approve or reject the pending action of a run that is `waiting_approval`. Of concurrent decisions
    exactly one wins; the others get 409 invalid_state."""
    return answers.submit_approval(caller, run_id, body)


@router.post("/v1/runs/<run_id>/wait", tags=TAGS, responses=errors(404))
def wait_for_run(
    run_id: RunId,
    caller: OrgCaller,
    timeout: Annotated[int, Query(ge=0, le=waiting.MAX_WAIT_SECONDS, description="Seconds, ≤ 25.")] = 25,
) -> Run:
    """Return once the run is terminal or waiting for input or approval, or after `timeout` seconds."""
    return waiting.wait_for_run(caller, run_id, timeout)


@router.get("/v1/runs/<run_id>/memory", tags=TAGS, responses=errors(404))
def get_memory(run_id: RunId, caller: OrgCaller) -> MemoryItems:
    """The run's memory (what `memory_set` stored). A run in a thread shares the thread's memory."""
    return memory.get_memory(caller, "run", run_id)


@router.put("/v1/runs/<run_id>/memory/<key>", tags=TAGS, responses=errors(404, 413, 415))
def put_memory(run_id: RunId, key: MemoryKey, body: MemoryValue, caller: OrgCaller) -> MemoryEntry:
    """Set one memory entry."""
    return memory.put_memory(caller, "run", run_id, key, body.value)


@router.delete("/v1/runs/<run_id>/memory/<key>", status_code=204, tags=TAGS, responses=errors(404))
def delete_memory(run_id: RunId, key: MemoryKey, caller: OrgCaller) -> Response[None]:
    """Delete one memory entry."""
    memory.delete_memory(caller, "run", run_id, key)
    return Response(status_code=204, body=None)
