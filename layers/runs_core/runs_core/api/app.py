"""Builds the Powertools resolver every API function uses, and the Lambda handler around it.

Routes live in routers (runs_core.api.routes.*) so that each function serves its group and the docs
function can include them all to publish one OpenAPI document generated from the same code.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext

from runs_core.api import idempotency
from runs_core.api.caller import refuse_non_operator
from runs_core.api.limits import Quota, creates_run
from runs_core.api.multipart import accepts_multipart, body_bytes, is_multipart_run_route, multipart_to_json
from runs_core.api.problems import Render, from_error, problem_result, validation_error
from runs_core.api.responses import SUPPORTED_API_VERSIONS, finish
from runs_core.api.strict_json import loads_storable
from runs_core.errors import (
    ApiError,
    InvalidJson,
    NotFound,
    PayloadTooLarge,
    UnknownApiVersion,
    UnsupportedMediaType,
    ValidationFailed,
)
from runs_core.logic.rate_limits import REQUESTS, RUNS
from runs_core.observability import api_keys, logger, observed

MAX_JSON_BODY_BYTES = 1024 * 1024
API_TITLE = "Runs API"


def _request_id(app: APIGatewayRestResolver) -> str | None:
    return app.current_event.request_context.request_id


def create_app(*routers: Router, render: Render = from_error) -> APIGatewayRestResolver:
    """`render`: how an error becomes a response (problem+json; a dialect renders its seed's error body)."""
    app = APIGatewayRestResolver(enable_validation=True)
    for router in routers:
        app.include_router(router)
    # include_router copies the router's context, which is that of the resolver that included the router
    # before: in a host that runs several copies of this function in one process (the local stack), maybe
    # mid-request.
    app.clear_context()

    @app.exception_handler(ApiError)
    def _api_error(error: ApiError) -> Response[Any]:
        return render(error, _request_id(app))

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response[Any]:
        return render(validation_error(list(error.errors())), _request_id(app))

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[Any]:
        return render(NotFound(f"No route {app.current_event.path}."), _request_id(app))

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        return render(ApiError("Something went wrong on our side."), _request_id(app))

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
        return _not_json_text(event)
    return None


def _not_json_text(event: dict[str, Any]) -> ApiError | None:
    """A JSON body must be UTF-8 text of strict, storable JSON (runs_core.api.strict_json), checked
    here, before routing, instead of failing deeper in as a 500. (API Gateway base64-encodes a body that
    is not UTF-8 text.)"""
    try:
        text = body_bytes(event).decode("utf-8")
    except (ValidationFailed, UnicodeDecodeError):
        return InvalidJson("The request body is not UTF-8 text.")
    try:
        loads_storable(text)
    except ApiError as error:
        return error
    except ValueError:
        return None  # not JSON at all: the resolver answers invalid_json with its own detail
    return None


def make_handler(
    app: APIGatewayRestResolver, render: Render = from_error
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    @observed(api_keys)  # request_id (= correlation id), org_id, run_id of the route
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request_id = (event.get("requestContext") or {}).get("requestId")
        # Guards in order (docs/api.md §7): the org's requests bucket (every org request counts, even one
        # rejected next), the operators' routes' role (before their body is read), the header/body
        # rules, the Idempotency-Key's length; then the idempotent section, which checks the runs bucket
        # only when a run creation really executes (a replay costs no run quota).
        quota = Quota.for_event(event)
        rejected = (
            (quota.take(REQUESTS) if quota else None)
            or refuse_non_operator(event)
            or _precheck(event)
            or idempotency.key_problem(event)
        )
        if rejected is None:
            try:
                response = idempotency.run_once(
                    event, context, lambda: _dispatch(app, event, context, quota, request_id, render)
                )
            except ApiError as error:  # idempotency_in_progress, idempotency_conflict
                rejected = error
        if rejected is not None:
            response = problem_result(rejected, request_id, render)
        return finish(event, response, quota, request_id)

    return lambda_handler


def _dispatch(
    app: APIGatewayRestResolver,
    event: dict[str, Any],
    context: LambdaContext,
    quota: Quota | None,
    request_id: str | None,
    render: Render = from_error,
) -> dict[str, Any]:
    if quota is not None and creates_run(event):
        refused = quota.take(RUNS)
        if refused is not None:
            return problem_result(refused, request_id, render)
    if is_multipart_run_route(event):
        # Inside the idempotent section, so a retried multipart request replays instead of storing its
        # files again: store the files, then route it as the JSON request it carries.
        try:
            event = multipart_to_json(event)
        except ApiError as refused:
            return problem_result(refused, request_id, render)
    response: dict[str, Any] = app.resolve(event, context)
    return response
