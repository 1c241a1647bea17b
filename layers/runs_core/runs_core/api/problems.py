"""The one place where errors become RFC 9457 problem+json responses (docs/api.md §2)."""

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runs_core.errors import ApiError, InvalidJson, ValidationFailed

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response

PROBLEM_JSON = "application/problem+json"
# How an error becomes a response: from_error (problem+json) in /v1, a dialect's own body under /dialects.
Render = Callable[[ApiError, str | None], "Response[str]"]


def problem_json(
    status: int, code: str, title: str, detail: str, request_id: str | None, **extra: Any
) -> str:
    """The problem+json body."""
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return json.dumps(body)


def problem(
    status: int, code: str, title: str, detail: str, request_id: str | None, **extra: Any
) -> "Response[str]":
    """The problem as a resolver's Response."""
    # lazy, for cold start: the 405 function renders problems without Powertools' resolver
    from aws_lambda_powertools.event_handler import Response

    body = problem_json(status, code, title, detail, request_id, **extra)
    return Response(status_code=status, content_type=PROBLEM_JSON, body=body)


def from_error(error: ApiError, request_id: str | None) -> "Response[str]":
    return problem(error.status, error.code, error.title, error.detail, request_id, **error.extra)


def problem_result(error: ApiError, request_id: str | None, render: Render = from_error) -> dict[str, Any]:
    """The error as a Lambda proxy result, for answers given outside the resolver: problem+json (built
    without Powertools' Response, for the 405 function's cold start), or what a dialect's `render` makes."""
    if render is not from_error:
        response = render(error, request_id)
        content_type = response.headers.get("Content-Type", PROBLEM_JSON)
        return {
            "statusCode": response.status_code,
            "headers": {"Content-Type": content_type},
            "body": response.body,
        }
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": PROBLEM_JSON},
        "body": problem_json(error.status, error.code, error.title, error.detail, request_id, **error.extra),
    }


def validation_error(errors: list[dict[str, Any]]) -> ApiError:
    """Powertools/pydantic validation errors → 400 validation_error (or invalid_json) with field errors."""
    if any(error.get("type") == "json_invalid" for error in errors):
        return InvalidJson("The request body is not valid JSON.")
    fields = [_field_error(error) for error in errors]
    first = fields[0] if fields else {"field": "body", "message": "is invalid"}
    return ValidationFailed(f"{first['field']} {first['message']}", fields)


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    location = [str(part) for part in error.get("loc", ())]
    # ("body", "definition", "model", "provider") → "definition.model.provider"; ("query", "limit") → "limit"
    if location and location[0] in ("body", "query", "path", "header"):
        location = location[1:]
    # pydantic's own markers: validators ("function-after[…]") and a dict's key ("[key]": the key itself is
    # the part before it)
    location = [part for part in location if not part.startswith("function-after[") and part != "[key]"]
    message = str(error.get("msg", "is invalid"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    code = str(error.get("type", "invalid"))
    if code == "extra_forbidden":
        message = "is not a known field"
    return {"field": ".".join(location) or "body", "code": code, "message": message}
