"""The Kognitos dialect (seed 001; docs/api.md §8), base /dialects/kognitos/v2.

`POST /runs` `{name, process_id, agent_id, stage, inputs?, file_ids?}` starts a run: `process_id` names our
agent (id or name), `stage` Draft/Published picks its version (draft: the highest, pre-releases too;
published: the `latest` tag), and `agent_id`, `process_id` and `stage` are kept on the run (external_ids)
and echoed. A RunResource's `id` is the run id without its `run_` prefix (Kognitos ids are ≤ 26
characters); either form is accepted in paths. Lists are `{items, continuation_token}`, filtered by the
required `process_id` and `agent_id`, so a page may hold fewer than `limit` items while a token follows.
Statuses: created/queued → Created, running/waiting_* → Running, completed → Succeeded, failed →
Exception, cancelled → Stopped. Outputs are `[{name, value}]`, a value that is not a string or number
being its JSON text. Errors are `{status_code, message, details: [{name, value}]}` (details: the fields).
"""

import json
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import ConfigDict, Field

from runs_core import ids
from runs_core.api.caller import OrgCaller
from runs_core.api.openapi import Router
from runs_core.api.problems import Render
from runs_core.dialects.common import error_responses, renderer
from runs_core.errors import ApiError
from runs_core.logic import runs
from runs_core.models.common import MAX_INTEGER, RequestModel, ResponseModel
from runs_core.models.runs import NamedInput, Run, RunOptions

BASE = "/dialects/kognitos/v2"
TAGS = ["Dialect: Kognitos"]
ID_PATTERN = r"^[a-zA-Z0-9-_]+$"
Status = Literal["Created", "Running", "Exception", "Stopped", "Succeeded"]
STATUSES: dict[str, Status] = {
    "created": "Created",
    "queued": "Created",
    "running": "Running",
    "waiting_for_input": "Running",
    "waiting_approval": "Running",
    "completed": "Succeeded",
    "failed": "Exception",
    "cancelled": "Stopped",
}
Stage = Literal["Draft", "Published"]
Scalar = str | int | float
BoundedInt = Annotated[int, Field(ge=-MAX_INTEGER, le=MAX_INTEGER)]

router = Router()


class KognitosErrorDetail(ResponseModel):
    name: str
    value: Scalar


class KognitosError(ResponseModel):
    status_code: int
    message: str
    details: list[KognitosErrorDetail] | None = None


def _error_body(error: ApiError, request_id: str | None) -> dict[str, Any]:
    details = [
        {"name": field["field"], "value": field["message"]} for field in error.extra.get("errors") or []
    ]
    details.append({"name": "code", "value": error.code})
    if request_id:
        details.append({"name": "request_id", "value": request_id})
    return {"status_code": error.status, "message": error.detail, "details": details}


RENDER: Render = renderer(_error_body)
ERRORS = {
    400: "Invalid input values (validation_error, invalid_cursor, …; `details` names the fields)",
    404: "A referenced resource (process, run, file) was not found (another org's too)",
    409: "idempotency_in_progress, or a file not uploaded yet",
}


def errors(*statuses: int) -> dict[int, Any]:
    return error_responses(KognitosError, statuses, ERRORS)


class RunInput(NamedInput):
    name: str = Field(min_length=1, max_length=100)
    value: str | BoundedInt | float


class KognitosCreateRun(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Invoice run",
                    "process_id": "demo",
                    "agent_id": "AGENT1",
                    "stage": "Published",
                    "inputs": [{"name": "name", "value": "Ada"}],
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=100)
    process_id: str = Field(
        min_length=1, max_length=64, pattern=ID_PATTERN, description="Our agent: id or name."
    )
    agent_id: str = Field(min_length=1, max_length=26, pattern=ID_PATTERN, description="Kept and echoed.")
    stage: Stage
    inputs: list[RunInput] | None = Field(None, max_length=256)
    file_ids: list[str] | None = Field(None, max_length=20)


class RunOutput(ResponseModel):
    name: str
    value: Scalar


class RunResource(ResponseModel):
    id: str = Field(description="The run id without its `run_` prefix.")
    name: str
    agent_id: str
    process_id: str
    stage: Stage
    status: Status
    created_at: str
    file_ids: list[str] | None = None
    outputs: list[RunOutput] | None = None


class ListResponse(ResponseModel):
    items: list[RunResource] | None
    continuation_token: str | None


def _scalar(value: Any) -> Scalar:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    return json.dumps(value, separators=(",", ":"))


def view(run: Run) -> RunResource:
    external = run.external_ids
    stage = external.get("stage")
    return RunResource(
        id=run.id.removeprefix("run_"),
        name=run.name or run.id,
        agent_id=external.get("agent_id", run.agent_name),
        process_id=external.get("process_id", run.agent_name),
        stage="Draft" if stage == "Draft" else "Published",
        status=STATUSES[run.status],
        created_at=run.created_at,
        file_ids=run.file_ids,
        outputs=[RunOutput(name=output.key, value=_scalar(output.value)) for output in run.outputs],
    )


def run_id_of(run_id: str) -> str:
    """A path's run id: the Kognitos form (no prefix) or ours."""
    return run_id if ids.has_prefix(run_id, "run") else f"run_{run_id}"


@router.post(f"{BASE}/runs", status_code=201, tags=TAGS, responses=errors(402, 404, 409, 413, 415, 422))
def create_run(body: KognitosCreateRun, caller: OrgCaller) -> RunResource:
    """Start a run of the process (our agent) at the stage's version."""
    options = RunOptions(
        name=body.name,
        stage="draft" if body.stage == "Draft" else "published",
        inputs=[NamedInput(name=item.name, value=item.value) for item in body.inputs]
        if body.inputs
        else None,
        file_ids=body.file_ids or [],
        external_ids={"agent_id": body.agent_id, "process_id": body.process_id, "stage": body.stage},
    )
    return view(runs.create_run(caller, body.process_id, options))


def _matches(run: Run, agent_id: str, stage: Stage | None) -> bool:
    external = run.external_ids
    theirs = external.get("agent_id")
    if theirs is None:  # a run not created through this dialect: its agent is ours
        return agent_id in (run.agent_id, run.agent_name) and stage in (None, "Published")
    return theirs == agent_id and stage in (None, external.get("stage", "Published"))


@router.get(f"{BASE}/runs", tags=TAGS, responses=errors(404))
def list_runs(
    caller: OrgCaller,
    process_id: Annotated[str, Query(min_length=1, max_length=64, description="The process: our agent.")],
    agent_id: Annotated[str, Query(min_length=1, max_length=64)],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    stage: Annotated[Stage | None, Query()] = None,
    continuation_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> ListResponse:
    """The runs of a process and agent, newest first."""
    from runs_core.logic.agents import load_agent  # lazy, for cold start: only this route needs agents

    agent = load_agent(caller, process_id)  # an unknown process is 404
    page = runs.list_runs(caller, limit, continuation_token, agent=agent["id"])
    items = [view(run) for run in page.items if _matches(run, agent_id, stage)]
    return ListResponse(items=items, continuation_token=page.next_cursor)


@router.get(f"{BASE}/runs/<run_id>", tags=TAGS, responses=errors(404))
def get_run(run_id: Annotated[str, Path(min_length=1, max_length=64)], caller: OrgCaller) -> RunResource:
    """One run."""
    return view(runs.get_run(caller, run_id_of(run_id)))
