"""The Ziet dialect (seed 000; docs/api.md §8), base /dialects/ziet/v1.

`POST /runs` creates a run that waits (`created`), `POST /runs/{id}/invoke` starts it, `GET /runs/{id}`
reads it; a Run embeds its `steps` and `memory`. `agent_id` names our agent (id or name) and is echoed as
sent (kept in the run's external_ids). Statuses map onto Ziet's enum: queued → running, waiting_for_input →
waiting_approval (a run waiting for a person). Errors are `{error, message}` (`error` = our code).
Where Ziet is silent: `metadata` values are strings (≤ 500 characters, as in /v1); a step's `input` or
`output` that is not an object is wrapped as `{"value": …}`; a `cancelled` step is `failed`;
`completed_at` is the time the run ended, however it ended.
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import ConfigDict, Field

from runs_core.api.caller import OrgCaller
from runs_core.api.openapi import Router
from runs_core.api.problems import Render
from runs_core.context import Caller
from runs_core.dialects.common import error_responses, model_response, renderer, success
from runs_core.errors import ApiError
from runs_core.logic import runs
from runs_core.logic import steps as run_steps
from runs_core.models.common import Metadata, PositiveInt, RequestModel, ResponseModel
from runs_core.models.runs import Run, RunOptions, Step
from runs_core.pages import MAX_LIMIT

BASE = "/dialects/ziet/v1"
TAGS = ["Dialect: Ziet"]
STATUSES = {
    "created": "created",
    "queued": "running",
    "running": "running",
    "waiting_for_input": "waiting_approval",
    "waiting_approval": "waiting_approval",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
STEP_TYPES = {"decision": "decision", "action": "action", "approval": "approval", "input": "approval"}
STEP_STATUSES = {"pending": "pending", "running": "running", "completed": "completed", "failed": "failed"}

router = Router()
RunId = Annotated[str, Path(min_length=1, max_length=64)]


class ZietError(ResponseModel):
    error: str = Field(description="The error code (runs-api's `code`).", examples=["not_found"])
    message: str


def _error_body(error: ApiError, request_id: str | None) -> dict[str, Any]:
    return {"error": error.code, "message": error.detail}


RENDER: Render = renderer(_error_body)
ERRORS = {
    400: "Invalid request (validation_error, invalid_json, unknown_api_version)",
    404: "Resource not found (another org's runs too)",
    409: "invalid_state: only a created run can be invoked; idempotency_in_progress",
}


def errors(*statuses: int) -> dict[int, Any]:
    return error_responses(ZietError, statuses, ERRORS)


class ZietCreateRun(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"agent_id": "demo", "input": {"name": "Ada"}, "max_steps": 10, "metadata": {"ticket": "T-1"}}
            ]
        }
    )

    agent_id: str = Field(min_length=1, max_length=64, description="The agent: its id or name.")
    input: dict[str, Any] | None = None
    max_steps: PositiveInt | None = Field(None, description="May only lower the agent's limit.")
    max_tokens: PositiveInt | None = Field(None, description="May only lower the agent's limit.")
    metadata: Metadata = Field(default_factory=dict, max_length=50, description="String values (≤ 500).")


class ZietMemory(ResponseModel):
    id: str
    run_id: str | None = None
    created_at: str | None = None


class ZietRunStep(ResponseModel):
    id: str
    type: str = Field(json_schema_extra={"enum": ["action", "decision", "approval"]})
    status: str = Field(json_schema_extra={"enum": ["pending", "running", "completed", "failed"]})
    action_id: str | None = None
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    started_at: str | None = None
    completed_at: str | None = None


class ZietRunError(ResponseModel):
    message: str | None = None
    code: str | None = None


class ZietRun(ResponseModel):
    id: str
    agent_id: str
    status: str = Field(
        json_schema_extra={
            "enum": ["created", "running", "waiting_approval", "completed", "failed", "cancelled"]
        }
    )
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    max_steps: int | None = None
    max_tokens: int | None = None
    memory: ZietMemory | None = None
    steps: list[ZietRunStep] | None = None
    error: ZietRunError | None = None
    metadata: dict[str, Any] | None = None
    created_at: str
    started_at: str | None = None
    completed_at: str | None = None


def _object(value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    return {"value": value}


def _step(step: Step) -> ZietRunStep:
    return ZietRunStep(
        id=step.id,
        type=STEP_TYPES[step.type],
        status=STEP_STATUSES.get(step.status, "failed"),
        action_id=step.action,
        input=_object(step.input),
        output=_object(step.output),
        started_at=step.started_at,
        completed_at=step.completed_at,
    )


def view(caller: Caller, run: Run) -> ZietRun:
    steps = run_steps.list_steps(caller, run.id, MAX_LIMIT, None).items if run.step_count else []
    return ZietRun(
        id=run.id,
        agent_id=run.external_ids.get("agent_id", run.agent_id),
        status=STATUSES[run.status],
        input=run.input,
        output=run.output,
        max_steps=run.max_steps,
        max_tokens=run.max_tokens,
        memory=ZietMemory(id=f"mem_{run.id.removeprefix('run_')}", run_id=run.id, created_at=run.created_at),
        steps=[_step(step) for step in steps],
        error=ZietRunError(message=run.error.message, code=run.error.code) if run.error else None,
        metadata=run.metadata,
        created_at=run.created_at,
        started_at=run.started_at,
        completed_at=run.completed_at or run.failed_at or run.cancelled_at,
    )


@router.post(
    f"{BASE}/runs",
    status_code=201,
    tags=TAGS,
    responses={**success(ZietRun, "The run, created", 201), **errors(402, 404, 409, 413, 415, 422)},
)
def create_run(body: ZietCreateRun, caller: OrgCaller) -> Response[str]:
    """Create a run (`created`): start it with POST /runs/{id}/invoke."""
    options = RunOptions(
        input=body.input,
        max_steps=body.max_steps,
        max_tokens=body.max_tokens,
        metadata=body.metadata,
        external_ids={"agent_id": body.agent_id},
        start=False,
    )
    return model_response(view(caller, runs.create_run(caller, body.agent_id, options)), 201)


@router.get(f"{BASE}/runs/<run_id>", tags=TAGS, responses={**success(ZietRun, "The run"), **errors(404)})
def get_run(run_id: RunId, caller: OrgCaller) -> Response[str]:
    """One run, with its steps and memory."""
    return model_response(view(caller, runs.get_run(caller, run_id)))


@router.post(
    f"{BASE}/runs/<run_id>/invoke",
    tags=TAGS,
    responses={**success(ZietRun, "Run started"), **errors(404, 409, 422)},
)
def invoke_run(run_id: RunId, caller: OrgCaller) -> Response[str]:
    """Start a created run (200); any other status is 409 invalid_state."""
    return model_response(view(caller, runs.invoke_run(caller, run_id)))
