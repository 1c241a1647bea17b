"""OpenAPI pieces shared by the routers: the problem schema and the error responses of each route."""

from typing import Any

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    field: str
    code: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (API.md §2). Content-Type: application/problem+json."""

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
    409: "invalid_state, version_exists or name_taken",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
}
COMMON = (400, 401, 403, 429, 500)


def errors(*statuses: int) -> dict[int, Any]:
    """`responses=` for a route: the common errors plus `statuses`, all problem+json."""
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {"application/problem+json": {"model": Problem}},
        }
        for status in sorted({*COMMON, *statuses})
    }
