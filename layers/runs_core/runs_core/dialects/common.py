"""What the dialects share: JSON without nulls, error rendering and documentation, status mapping."""

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ValidationError

from runs_core.api.openapi import RATE_LIMIT_HEADERS, RETRY_AFTER_HEADER, Problem
from runs_core.api.problems import Render, validation_error
from runs_core.errors import ApiError, ValidationFailed
from runs_core.models.runs import RunOptions

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response[str]:
    return Response(status, JSON, json.dumps(body, separators=(",", ":")), dict(headers or {}))


def model_response(model: BaseModel, status: int = 200) -> Response[str]:
    """`model` as JSON without its null members: the seeds' schemas leave a field out rather than null it."""
    return json_response(status, model.model_dump(mode="json", exclude_none=True))


def success(model: Any, description: str, status: int = 200) -> dict[int, Any]:
    """The documented success response of a route answering model_response(model)."""
    return {status: {"description": description, "content": {JSON: {"model": model}}}}


def renderer(body_of: Callable[[ApiError, str | None], dict[str, Any]], content_type: str = JSON) -> Render:
    """A Render (runs_core.api.problems) from the function that builds a dialect's error body. A 429 keeps
    its Retry-After header, whatever the body."""

    def render(error: ApiError, request_id: str | None) -> Response[str]:
        headers = {}
        if error.extra.get("retry_after") is not None:
            headers["Retry-After"] = str(error.extra["retry_after"])
        body = json.dumps(body_of(error, request_id), separators=(",", ":"))
        return Response(error.status, content_type, body, headers)

    return render


def field_errors(error: ApiError) -> list[dict[str, str]]:
    """The field errors a validation error carries (`errors`), for dialects that list them."""
    return list(error.extra.get("errors") or [])


def status_map(ours_to_seed: Mapping[str, str]) -> Callable[[str], list[str]]:
    """The reverse of a status mapping: a seed status → our statuses (for list filters)."""
    reverse: dict[str, list[str]] = {}
    for ours, seed in ours_to_seed.items():
        reverse.setdefault(seed, []).append(ours)
    return lambda seed: reverse.get(seed, [])


# What each error status of a dialect route means (a dialect may say it its own way: `described`).
DESCRIPTIONS = {
    400: "validation_error, invalid_json, invalid_cursor, invalid_version_selector or unknown_api_version",
    402: "insufficient_credits",
    403: "forbidden: X-Org-Id is not the key's org",
    404: "not_found (another org's resources too)",
    409: "invalid_state, or idempotency_in_progress",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "Idempotency-Key reused",
    429: "rate_limited (see Retry-After)",
    500: "internal_error",
}
COMMON = (400, 403, 429, 500)


def error_responses(
    model: Any,
    statuses: Iterable[int] = (),
    described: Mapping[int, str] | None = None,
    content_type: str = JSON,
) -> dict[int, Any]:
    """`responses=` of a dialect route: the COMMON errors and `statuses`, with the dialect's error model. 401
    is API Gateway's own (the authorizer's, problem+json whose members include every dialect's error
    fields); 429 carries Retry-After and the rate-limit headers."""
    descriptions = {**DESCRIPTIONS, **(described or {})}
    responses: dict[int, Any] = {}
    for status in sorted({*COMMON, *statuses}):
        description = descriptions[status]
        responses[status] = {"description": description, "content": {content_type: {"model": model}}}
        if status == 429:
            responses[status]["headers"] = {**RETRY_AFTER_HEADER, **RATE_LIMIT_HEADERS}
    responses[401] = {
        "description": "unauthorized: a missing or unknown API key (API Gateway's answer, problem+json; its "
        "body also carries `error`, `message`, `status_code` and `requestId`)",
        "content": {PROBLEM_JSON: {"model": Problem}},
    }
    return responses


def run_options(fields: dict[str, Any]) -> RunOptions:
    """RunOptions from what a dialect mapped, its violations a 400 like /v1's (not a 500)."""
    try:
        return RunOptions.model_validate(fields)
    except ValidationError as error:
        raise validation_error([dict(item) for item in error.errors()]) from None


def invalid(field: str, message: str) -> ValidationFailed:
    """A 400 validation_error about one field."""
    return ValidationFailed(
        f"{field} {message}", [{"field": field, "code": "value_error", "message": message}]
    )
