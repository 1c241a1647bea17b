"""Builds the Powertools resolver every API function uses, and the Lambda handler around it.

Routes live in routers (runs_core.api.routes_*) so that each function serves its group and the docs
function can include them all to publish one OpenAPI document generated from the same code.
"""

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext

from runs_core.api import idempotency
from runs_core.api.limits import Quota, creates_run
from runs_core.api.multipart import accepts_multipart, is_multipart_run_route, multipart_to_json
from runs_core.api.problems import PROBLEM_JSON, from_error, problem, validation_problem
from runs_core.errors import (
    ApiError,
    InvalidJson,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnknownApiVersion,
    UnsupportedMediaType,
    ValidationFailed,
)
from runs_core.logic.rate_limits import REQUESTS, RUNS
from runs_core.observability import api_keys, logger, observed
from runs_core.settings import get_settings

SUPPORTED_API_VERSIONS = frozenset({"2026-11-01"})
MAX_JSON_BODY_BYTES = 1024 * 1024
# DynamoDB numbers: 38 digits of precision, magnitudes from 1E-130 up to (not including) 1E+126.
MAX_INTEGER_DIGITS = 38
MIN_NUMBER_MAGNITUDE, MAX_NUMBER_MAGNITUDE = 1e-130, 1e126
# A JSON \u escape of a UTF-16 surrogate: paired it is one character, alone it is no text at all.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
API_TITLE = "Runs API"


def _request_id(app: APIGatewayRestResolver) -> str | None:
    return app.current_event.request_context.request_id


def create_app(*routers: Router) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    for router in routers:
        app.include_router(router)
    # include_router copies the router's context, which is that of the resolver that included the router
    # before: in the local stack, another copy of this function (local.lambdas), maybe mid-request.
    app.clear_context()

    @app.exception_handler(ApiError)
    def _api_error(error: ApiError) -> Response[Any]:
        return from_error(error, _request_id(app))

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response[Any]:
        return validation_problem(list(error.errors()), _request_id(app))

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[Any]:
        path = app.current_event.path
        return problem(404, "not_found", "Not found", f"No route {path}.", _request_id(app))

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        return problem(
            500, "internal_error", "Internal error", "Something went wrong on our side.", _request_id(app)
        )

    return app


def _precheck(event: dict[str, Any]) -> ApiError | None:
    """Header and body rules that hold for every route, checked before routing."""
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    version = headers.get("api-version")
    if version is not None and version not in SUPPORTED_API_VERSIONS:
        return UnknownApiVersion(
            f"Unknown Api-Version {version!r}; supported: {', '.join(SUPPORTED_API_VERSIONS)}."
        )
    body = event.get("body")
    if body and event.get("httpMethod") in ("POST", "PUT", "PATCH"):
        content_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if content_type == "multipart/form-data" and accepts_multipart(event):
            return None  # files: checked by runs_core.api.multipart (API Gateway caps the body at 10 MB)
        if content_type != "application/json":
            return UnsupportedMediaType(f"Send application/json, not {content_type!r}.")
        if len(body) > MAX_JSON_BODY_BYTES:
            return PayloadTooLarge(f"JSON bodies are limited to {MAX_JSON_BODY_BYTES} bytes.")
        return _not_json_text(body, bool(event.get("isBase64Encoded")))
    return None


def _not_json_text(body: str, base64_encoded: bool) -> ApiError | None:
    """A JSON body must be UTF-8 text of strict JSON (RFC 8259) that can be stored as it is: bytes that are
    not UTF-8, an unpaired surrogate escape (`"\\ud800"`, which no UTF-8 text can hold), NaN or Infinity
    are 400 invalid_json; an empty object key, an integer of more than 38 digits or a number beyond
    DynamoDB's range (none fits an item) is 400 validation_error. Checked here, before routing, instead of
    failing deeper in as a 500."""
    if base64_encoded:  # API Gateway sends a body that is not UTF-8 base64-encoded
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return InvalidJson("The request body is not UTF-8 text.")
    try:
        document = json.loads(
            body,
            object_pairs_hook=_object_without_empty_keys,
            parse_int=_storable_int,
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
        if _SURROGATE_ESCAPE.search(body):
            json.dumps(document, ensure_ascii=False).encode("utf-8")
    except _Unstorable as error:
        return error.problem
    except UnicodeEncodeError:  # (a ValueError: caught first)
        return InvalidJson("The request body holds an unpaired UTF-16 surrogate escape.")
    except (ValueError, RecursionError):
        return None  # not JSON at all: the resolver answers invalid_json with its own detail
    return None


class _Unstorable(Exception):
    def __init__(self, problem: ApiError) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def _object_without_empty_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if any(key == "" for key, _ in pairs):
        message = "object keys must not be empty"
        raise _Unstorable(
            ValidationFailed(message, [{"field": "body", "code": "empty_key", "message": message}])
        )
    return dict(pairs)


def _storable_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        message = f"integers have at most {MAX_INTEGER_DIGITS} digits"
        raise _Unstorable(
            ValidationFailed(message, [{"field": "body", "code": "number", "message": message}])
        )
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Unstorable(InvalidJson(f"The number {text[:40]} is out of range."))
    if value and not MIN_NUMBER_MAGNITUDE <= abs(value) < MAX_NUMBER_MAGNITUDE:
        message = "numbers are 0 or between 1e-130 and 1e126 in magnitude"
        raise _Unstorable(
            ValidationFailed(message, [{"field": "body", "code": "number", "message": message}])
        )
    return value


def _no_constant(name: str) -> Any:
    raise _Unstorable(InvalidJson(f"{name} is not JSON."))


def make_handler(app: APIGatewayRestResolver) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    @observed(api_keys)  # request_id (= correlation id), org_id, run_id of the route
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request_id = (event.get("requestContext") or {}).get("requestId")
        # Guards in order (API.md §7): the org's requests bucket (every org request counts, even one
        # rejected next), the header/body rules, the Idempotency-Key's length; then the idempotent
        # section, which checks the runs bucket only when a run creation really executes (a replay
        # costs no run quota).
        quota = Quota.for_event(event)
        rejected = (
            (quota.take(REQUESTS) if quota else None) or _precheck(event) or idempotency.key_problem(event)
        )
        if rejected is None:
            try:
                response = idempotency.run_once(
                    event, context, lambda: _dispatch(app, event, context, quota, request_id)
                )
            except ApiError as error:  # idempotency_in_progress, idempotency_conflict
                rejected = error
        if rejected is not None:
            response = _problem_response(rejected, request_id)
        return _finish(event, response, quota, request_id)

    return lambda_handler


def make_method_not_allowed_handler(
    allowed_methods: Callable[[], Mapping[str, tuple[str, ...]]],
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The handler of the API's catch-all `ANY` routes: API Gateway prefers a resource's own methods over
    ANY, so only a method the path does not serve reaches it → 405 method_not_allowed with `Allow`.

    `allowed_methods()`: resource path (template form, `/v1/runs/{run_id}`) → its methods. Answered before
    the header and body rules and outside the idempotent section (nothing runs, so nothing is stored), and
    not counted against the org's rate limits (a 405 does no work)."""

    @observed(api_keys)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request_id = (event.get("requestContext") or {}).get("requestId")
        method = str(event.get("httpMethod") or "").upper()
        path = event.get("path") or ""
        allow = allowed_methods().get(str(event.get("resource") or ""))
        error: ApiError
        if not allow:
            error = NotFound(f"No route {method} {path}.")
        else:
            error = MethodNotAllowed(
                f"{method} is not allowed on {path}; allowed: {', '.join(allow)}.", allow
            )
        response = _problem_response(error, request_id)
        if isinstance(error, MethodNotAllowed):
            response["headers"]["Allow"] = ", ".join(error.allow)
        return _finish(event, response, None, request_id)

    return lambda_handler


def _finish(
    event: dict[str, Any], response: dict[str, Any], quota: Quota | None, request_id: str | None
) -> dict[str, Any]:
    """The headers every response carries (API.md §1), and the one log line per request."""
    sent = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    served_version = sent.get("api-version")
    if served_version not in SUPPORTED_API_VERSIONS:
        served_version = get_settings().api_version
    response["headers"] = {
        **(response.get("headers") or {}),
        **(quota.headers() if quota else {}),
        "Request-Id": request_id,
        "Api-Version": served_version,
    }
    # One line per request (never headers or bodies: they carry API keys and secrets).
    logger.info(
        "request",
        extra={
            "method": event.get("httpMethod"),
            "path": event.get("path"),
            "status": response.get("statusCode"),
        },
    )
    return response


def _dispatch(
    app: APIGatewayRestResolver,
    event: dict[str, Any],
    context: LambdaContext,
    quota: Quota | None,
    request_id: str | None,
) -> dict[str, Any]:
    if quota is not None and creates_run(event):
        refused = quota.take(RUNS)
        if refused is not None:
            return _problem_response(refused, request_id)
    if is_multipart_run_route(event):
        # Inside the idempotent section, so a retried multipart request replays instead of storing its
        # files again: store the files, then route it as the JSON request it carries.
        try:
            event = multipart_to_json(event)
        except ApiError as refused:
            return _problem_response(refused, request_id)
    response: dict[str, Any] = app.resolve(event, context)
    return response


def _problem_response(error: ApiError, request_id: str | None) -> dict[str, Any]:
    problem_response = from_error(error, request_id)
    return {
        "statusCode": problem_response.status_code,
        "headers": {"Content-Type": PROBLEM_JSON},
        "body": problem_response.body,
    }
