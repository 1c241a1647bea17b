"""The Roe AI dialect (seed 002; docs/api.md §8), base /dialects/roe.

`POST /v1/agents/run/{agent_id}/` runs our agent (id or name) synchronously and answers its outputs as
`[{key, description, data_type, value, cost}]`, `value` a string (JSON text unless it is one) and `cost`
the run's cost in USD. The agent's inputs are the body's top-level keys; the seed's own example wraps them
as `{"inputs": {…}}`, which is unwrapped (a body whose only key besides `metadata` is an object `inputs`).
`metadata` is an object or its JSON text, its values kept as strings. `organization_id`, if sent, must be
the key's org (else 403). Errors are `{message}`. Where Roe is silent: a run that fails or is cancelled is
422, and one that has not finished within 25 s (or waits for input or approval) is 504; it goes on, and
its id is in the message (read it through /v1 or another dialect).
"""

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from runs_core.api.caller import OrgCaller
from runs_core.api.openapi import Router
from runs_core.api.problems import Render
from runs_core.dialects.common import error_responses, invalid, json_response, renderer, run_options
from runs_core.errors import ApiError, Forbidden
from runs_core.logic import waiting
from runs_core.models.common import ResponseModel
from runs_core.run_status import COMPLETED

BASE = "/dialects/roe"
TAGS = ["Dialect: Roe AI"]
WAIT_SECONDS = waiting.MAX_WAIT_SECONDS

router = Router()


class RoeErrorResponse(ResponseModel):
    message: str = Field(description="Error message")


class RunNotFinished(ApiError):
    status, code, title = 504, "run_not_finished", "Run not finished"


def _error_body(error: ApiError, request_id: str | None) -> dict[str, Any]:
    return {"message": error.detail}


RENDER: Render = renderer(_error_body)
ERRORS = {
    400: "Bad request - invalid input data",
    402: "Insufficient credits",
    403: "organization_id (or X-Org-Id) is not the key's org",
    404: "Agent not found (another org's too)",
    409: "idempotency_in_progress",
    422: "The run failed or was cancelled; or Idempotency-Key reused",
    504: "The run did not finish within 25 s (or waits for input or approval); it goes on: its id is in the "
    "message",
}


class AgentExecutionRequest(BaseModel):
    """The agent's inputs as top-level keys (or wrapped as `inputs`), and `metadata`."""

    model_config = ConfigDict(
        defer_build=True,  # built on first use, not at a cold start
        extra="allow",
        json_schema_extra={
            "examples": [{"inputs": {"name": "Ada"}}, {"name": "Ada", "metadata": {"job": "j-1"}}]
        },
    )

    metadata: dict[str, Any] | str | None = Field(
        None, description="Optional metadata as JSON object or JSON string"
    )


class AgentDatum(ResponseModel):
    key: str = Field(description="The key of the output")
    description: str | None = Field(None, description="The description of the output")
    data_type: str = Field(description="The MIME data type of the output")
    value: str = Field(description="The value of the output, serialized as a string")
    cost: float | None = Field(None, description="The cost of the agent job execution")


def _metadata(value: dict[str, Any] | str | None) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise invalid("metadata", "must be a JSON object or its JSON text") from None
        if not isinstance(value, dict):
            raise invalid("metadata", "must be a JSON object or its JSON text")
    return {key: item if isinstance(item, str) else json.dumps(item) for key, item in (value or {}).items()}


def _inputs(extra: dict[str, Any]) -> dict[str, Any]:
    if set(extra) == {"inputs"} and isinstance(extra["inputs"], dict):
        return dict(extra["inputs"])  # the seed's own example: {"inputs": {"key": "value"}}
    return extra


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


@router.post(
    f"{BASE}/v1/agents/run/<agent_id>",
    tags=TAGS,
    responses={
        200: {
            "description": "Agent job result",
            "content": {"application/json": {"model": list[AgentDatum]}},
        },
        **error_responses(RoeErrorResponse, (402, 404, 409, 413, 415, 422, 504), ERRORS),
    },
)
def run_agent(
    agent_id: Annotated[str, Path(min_length=1, max_length=64, description="Our agent: id or name.")],
    body: Annotated[AgentExecutionRequest, Body()],
    caller: OrgCaller,
    organization_id: Annotated[
        str | None, Query(max_length=64, description="If sent, the key's org (else 403).")
    ] = None,
) -> Response[str]:
    """Run the agent synchronously and return its outputs (a trailing `/` on the path is fine)."""
    if organization_id is not None and organization_id != caller.org_id:
        raise Forbidden("organization_id is not the API key's organization.")
    options = run_options(
        {"input": _inputs(dict(body.model_extra or {})), "metadata": _metadata(body.metadata)}
    )
    run = waiting.run_and_wait(caller, agent_id, options, WAIT_SECONDS)
    if run.status != COMPLETED:
        raise RunNotFinished(f"The run {run.id} is {run.status} after {WAIT_SECONDS} s; it goes on.")
    data = [
        AgentDatum(
            key=output.key,
            description=output.description,
            data_type=output.data_type,
            value=_text(output.value),
            cost=run.usage.cost_usd,
        ).model_dump(exclude_none=True)
        for output in run.outputs
    ]
    return json_response(200, data, {"Run-Id": run.id})
