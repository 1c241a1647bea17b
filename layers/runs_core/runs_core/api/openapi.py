"""OpenAPI pieces shared by the routers: their Router, the problem schema and the error responses of each
route."""

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import api_gateway
from aws_lambda_powertools.event_handler.openapi.constants import (
    DEFAULT_OPENAPI_RESPONSE_DESCRIPTION,
    DEFAULT_STATUS_CODE,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    model_config = ConfigDict(defer_build=True)  # documentation only: built when the document is

    field: str
    code: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (docs/api.md §2). Content-Type: application/problem+json."""

    model_config = ConfigDict(defer_build=True)  # documentation only: built when the document is

    type: str = Field(examples=["/problems/validation_error"])
    title: str
    status: int
    detail: str
    code: str
    request_id: str | None = None
    errors: list[FieldError] | None = Field(None, description="Only for validation errors.")
    retry_after: int | None = Field(None, description="Seconds; only with 429.")


_DESCRIPTIONS = {
    400: "validation_error, invalid_json, invalid_cursor, unknown_api_version or invalid_version_selector",
    401: "unauthorized: missing or unknown API key",
    402: "insufficient_credits",
    403: "forbidden: X-Org-Id mismatch, or the wrong kind of key for this route",
    404: "not_found (another org's resources are not found too)",
    409: "invalid_state, version_exists, name_taken or thread_busy",
    422: "idempotency_conflict: this Idempotency-Key was used with a different request body",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited: over the org's requests or run-creation limit per minute (see Retry-After)",
    500: "internal_error",
}
COMMON = (400, 401, 403, 429, 500)


def _integer_header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "integer", "minimum": 0}}


# Org requests carry the headers of the rate-limit bucket that applied (run creation: runs, else requests).
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": _integer_header("Requests (or run creations) the org may make per minute."),
    "RateLimit-Remaining": _integer_header("What is left of that limit in the current minute."),
    "RateLimit-Reset": _integer_header("Seconds until the current one-minute window ends."),
}
RETRY_AFTER_HEADER = {"Retry-After": _integer_header("Seconds to wait; the same as `retry_after`.")}
IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: the first response (status and body) is kept 24 h for this org, method, path "
        "and key, and sent again with `Idempotent-Replayed: true`. A different body with the same key is "
        "422 idempotency_conflict; the same key while the first request runs is 409 idempotency_in_progress. "
        "5xx and 429 responses are not kept."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
IDEMPOTENT_REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": "`true`: the stored response of an earlier request with the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
IDEMPOTENCY_CONFLICT = _DESCRIPTIONS[422]
IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress: a request with this Idempotency-Key is still running"


def errors(*statuses: int) -> dict[int, Any]:
    """`responses=` for a route: the common errors plus `statuses`, all problem+json (429 with its headers).

    Write routes (POST/PUT/PATCH) also get Idempotency-Key, 409 idempotency_in_progress and 422
    idempotency_conflict: runs_core.api.spec adds them to every such operation in one place."""
    responses: dict[int, Any] = {}
    for status in sorted({*COMMON, *statuses}):
        response: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/problem+json": {"model": Problem}},
        }
        if status == 429:
            response["headers"] = {**RETRY_AFTER_HEADER, **RATE_LIMIT_HEADERS}
        responses[status] = response
    return responses


class Router(api_gateway.Router):
    """Powertools' Router, documenting each route's success response: Powertools leaves it out of the
    OpenAPI document when a route passes `responses=` (as every route here does, for its errors). It is
    put back from the route's status code (a response without `content` gets the route's return model),
    unless the route documents its 2xx itself; a 204's empty `content` is dropped from the document by
    runs_core.api.spec."""

    def route(
        self,
        rule: str,
        method: str | list[str] | tuple[str],
        cors: bool | None = None,
        compress: bool = False,
        cache_control: str | None = None,
        summary: str | None = None,
        description: str | None = None,
        responses: dict[int, OpenAPIResponse] | None = None,
        response_description: str | None = DEFAULT_OPENAPI_RESPONSE_DESCRIPTION,
        tags: list[str] | None = None,
        operation_id: str | None = None,
        include_in_schema: bool = True,
        security: list[dict[str, list[str]]] | None = None,
        openapi_extensions: dict[str, Any] | None = None,
        deprecated: bool = False,
        enable_validation: bool | None = None,
        custom_response_validation_http_code: int | HTTPStatus | None = None,
        status_code: int = DEFAULT_STATUS_CODE,
        middlewares: list[Callable[..., Any]] | None = None,
    ) -> Callable[[Any], Any]:
        if responses and not any(200 <= int(status) < 300 for status in responses):
            success: OpenAPIResponse = {"description": response_description or HTTPStatus(status_code).phrase}
            if status_code == HTTPStatus.NO_CONTENT:
                success["content"] = {}  # no body
            responses = {status_code: success, **responses}
        return super().route(
            rule,
            method,
            cors,
            compress,
            cache_control,
            summary,
            description,
            responses,
            response_description,
            tags,
            operation_id,
            include_in_schema,
            security,
            openapi_extensions,
            deprecated,
            enable_validation,
            custom_response_validation_http_code,
            status_code,
            middlewares,
        )
