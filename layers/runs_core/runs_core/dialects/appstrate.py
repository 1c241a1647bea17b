"""The Appstrate dialect (seed 003; docs/api.md §8), base /dialects/appstrate.

`POST /api/agents/{scope}/{name}/run?version=` runs our agent named `@scope/name` fire-and-forget and
answers `{runId}` (202: the seed shows no status; /v1's fire-and-forget is 202 too). The body is /v1's
run options (`input`, `metadata`, `file_ids`, …; `{}` is fine), as JSON or multipart/form-data (part
`json` plus files, as in /v1). `Appstrate-User` (`eu_…`) is the end user the run is for (/v1's
X-End-User), `Appstrate-Version` selects the API version like Api-Version, and Idempotency-Key and
X-Org-Id work as in /v1. Errors are problem+json with Appstrate's members: `code`, `requestId`, `param`
(the first invalid field), `retryAfter` (with 429) and `errors`.
"""

import dataclasses
import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Request, Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query

from runs_core.api.caller import MAX_END_USER_LENGTH, org_caller
from runs_core.api.openapi import Router
from runs_core.api.problems import Render
from runs_core.api.responses import SUPPORTED_API_VERSIONS
from runs_core.context import Caller
from runs_core.dialects.common import PROBLEM_JSON, error_responses, invalid, json_response, renderer
from runs_core.errors import ApiError, UnknownApiVersion
from runs_core.logic import runs
from runs_core.models.common import ResponseModel
from runs_core.models.runs import RunOptions

BASE = "/dialects/appstrate"
TAGS = ["Dialect: Appstrate"]
SCOPE = re.compile(r"^@[a-z0-9][a-z0-9-]*$")
END_USER = re.compile(r"^eu_[A-Za-z0-9_-]+$")

router = Router()


class AppstrateFieldError(ResponseModel):
    field: str
    code: str
    message: str


class AppstrateProblem(ResponseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str
    requestId: str
    param: str | None = None
    retryAfter: int | None = None
    errors: list[AppstrateFieldError] | None = None


def _error_body(error: ApiError, request_id: str | None) -> dict[str, Any]:
    fields = list(error.extra.get("errors") or [])
    body: dict[str, Any] = {
        "type": f"/problems/{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        "requestId": request_id,
        "param": fields[0]["field"] if fields else None,
        "retryAfter": error.extra.get("retry_after"),
        "errors": fields or None,
    }
    return {key: value for key, value in body.items() if value is not None}


RENDER: Render = renderer(_error_body, PROBLEM_JSON)
ERRORS = {
    400: "validation_error (`param` names the field), invalid_version_selector, unknown_api_version, a bad "
    "Appstrate-User",
    404: "not_found: no agent `@scope/name` in the key's org",
    409: "idempotency_in_progress, or a file not uploaded yet",
    422: "idempotency_conflict",
    429: "rate_limited: 20 runs a minute by default (`retryAfter`, Retry-After)",
}


def appstrate_caller(request: Request) -> Caller:
    """org_caller, acting for `Appstrate-User` and checking `Appstrate-Version`."""
    caller = org_caller(request)
    version = request.resolved_event.headers.get("Appstrate-Version")
    if version is not None and version not in SUPPORTED_API_VERSIONS:
        supported = ", ".join(sorted(SUPPORTED_API_VERSIONS))
        raise UnknownApiVersion(f"Unknown Appstrate-Version {version!r}; supported: {supported}.")
    end_user = request.resolved_event.headers.get("Appstrate-User")
    if end_user is None:
        return caller
    if not END_USER.match(end_user) or len(end_user) > MAX_END_USER_LENGTH:
        raise invalid("Appstrate-User", f"must be an end-user id (eu_…, ≤ {MAX_END_USER_LENGTH} characters)")
    return dataclasses.replace(caller, end_user_id=end_user)


class RunStarted(ResponseModel):
    runId: str


@router.post(
    f"{BASE}/api/agents/<scope>/<name>/run",
    status_code=202,
    tags=TAGS,
    responses={
        202: {
            "description": "The run, started: its id",
            "content": {"application/json": {"model": RunStarted}},
        },
        **error_responses(AppstrateProblem, (402, 404, 409, 413, 415, 422), ERRORS, PROBLEM_JSON),
    },
)
def run_agent(
    scope: Annotated[str, Path(min_length=2, max_length=62, description="`@scope`", examples=["@acme"])],
    name: Annotated[str, Path(min_length=1, max_length=63, examples=["demo"])],
    caller: Annotated[Caller, Depends(appstrate_caller)],
    body: Annotated[RunOptions | None, Body()] = None,
    version: Annotated[
        str | None, Query(max_length=128, description="Exact version, dist-tag or semver range.")
    ] = None,
    appstrate_user: Annotated[
        str | None, Header(alias="Appstrate-User", max_length=128, description="End user (eu_…).")
    ] = None,
    appstrate_version: Annotated[
        str | None, Header(alias="Appstrate-Version", max_length=10, description="YYYY-MM-DD.")
    ] = None,
) -> Response[str]:
    """Run the agent `@scope/name` (fire-and-forget)."""
    if not SCOPE.match(scope):
        raise invalid("scope", "must match ^@[a-z0-9][a-z0-9-]*$")
    options = runs.with_version(body or RunOptions(), version)
    run = runs.create_run(caller, f"{scope}/{name}", options)
    return json_response(202, {"runId": run.id}, {"Location": f"/v1/runs/{run.id}"})
