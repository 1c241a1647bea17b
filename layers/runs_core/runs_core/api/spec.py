"""The OpenAPI 3.1 document of the whole API, generated from the routers and models."""

import json
import re
from functools import cache
from http import HTTPStatus
from typing import Any

from runs_core.api import (
    openapi,
    routes_account,
    routes_admin,
    routes_agents,
    routes_docs,
    routes_events,
    routes_files,
    routes_runs,
    routes_threads,
)
from runs_core.api.problems import Render, from_error
from runs_core.dialects import kognitos, langgraph, openai_responses, tr, ziet

ROUTERS = (
    routes_docs.router,
    routes_agents.router,
    routes_runs.router,
    routes_threads.router,
    routes_events.router,
    routes_account.router,
    routes_admin.router,
    routes_files.router,
    tr.router,
    ziet.router,
    kognitos.router,
    openai_responses.router,
    langgraph.router,
)
# The dialects that render their own error bodies (tr's are /v1's problem+json).
DIALECT_RENDERS: dict[str, Render] = {ziet.BASE: ziet.RENDER, kognitos.BASE: kognitos.RENDER}
DIALECT_RENDERS[openai_responses.BASE] = openai_responses.RENDER
DIALECT_RENDERS[langgraph.BASE] = langgraph.RENDER


def render_for(path: str) -> Render:
    """How errors on `path` are rendered: its dialect's way, else problem+json."""
    return next(
        (render for base, render in DIALECT_RENDERS.items() if path.startswith(base + "/")), from_error
    )


DOCS_PATH = "/v1/docs"  # Swagger UI: served by the resolver itself, not by a router
DESCRIPTION = """Durable, observable, controllable agent runs. Errors are RFC 9457 problem+json. An unknown
path is 404 `not_found`; a method a known path does not serve is 405 `method_not_allowed`, with an `Allow`
header listing the path's methods (after authentication, like the path's own operations).
Authenticate with `Authorization: Bearer <key>`, `Authorization: Api-Key <key>` or `x-api-key: <key>`.

Every POST/PUT/PATCH accepts `Idempotency-Key` (≤ 255 characters): the first response is kept 24 h per
org and key and replayed with `Idempotent-Replayed: true`. Each org has rate limits per minute (run
creation, and all requests); over them the answer is 429 `rate_limited` with `Retry-After`, and every
org response carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds).

Every response carries `Request-Id` (errors repeat it in the body as `request_id`) and `Api-Version`: send
`Api-Version: YYYY-MM-DD` to pin one (an unknown one is 400 unknown_api_version). `X-End-User` (≤ 128
characters) names the end user a request acts for; `X-Org-Id`, if sent, must be the key's org (else 403).

## Events

`GET /v1/runs/{run_id}/events` polls a run's event log; with `Accept: text/event-stream` the same URL streams
Server-Sent Events. Event types: `run.created`, `run.queued`, `run.started`, `step.started`,
`step.completed`, `message.delta`, `message.completed`, `tool.call`, `tool.result`, `run.waiting_for_input`,
`run.input_received`, `run.waiting_approval`, `run.approval_decided`, `run.completed`, `run.failed`,
`run.cancelled`.

## WebSocket

Live events also flow over a WebSocket API (deployed: the stack's WebSocket endpoint; locally: `/ws` on the
same port). Connect with the API key (`?api_key=<key>` or the usual headers), then send
`{"action": "subscribe", "run_id": "run_…", "after_seq": 0}` to receive the backlog after `after_seq` and then
every new event envelope `{"seq", "type", "run_id", "data", "created_at"}` as it happens;
`{"action": "unsubscribe", "run_id": "run_…"}` stops them. Each event is also put on the stack's EventBridge
bus (`source: runs-api`, `detail-type: <event type>`)."""


_PATH_PARAMETER = re.compile(r"<(\w+)>")


@cache
def route_methods() -> dict[str, tuple[str, ...]]:
    """Every path the API serves (template form: `/v1/runs/{run_id}`) → its methods, sorted: the `Allow`
    header of a 405 (runs_core.api.app.make_method_not_allowed_handler)."""
    methods: dict[str, set[str]] = {DOCS_PATH: {"GET"}}
    for router in ROUTERS:
        for key in router._routes:  # Powertools' route key: (rule, methods, …)
            rule, route_methods_ = key[0], key[1]
            methods.setdefault(_PATH_PARAMETER.sub(r"{\1}", rule), set()).update(
                m.upper() for m in route_methods_
            )
    return {path: tuple(sorted(found)) for path, found in methods.items()}


def docs_app() -> Any:
    """A resolver with every router: serves health, the document and Swagger UI (at /v1/docs)."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

    from runs_core.api.app import API_TITLE, create_app
    from runs_core.settings import get_settings

    app = create_app(*ROUTERS)
    _document_success_responses(app)
    app.configure_openapi(
        title=API_TITLE,
        version=get_settings().api_version,
        description=DESCRIPTION,
        security_schemes={
            "bearer": HTTPBearer(),
            "apiKeyHeader": APIKey(name="x-api-key", **{"in": APIKeyIn.header}),
        },
        security=[{"bearer": []}, {"apiKeyHeader": []}],
    )
    app.enable_swagger(path=DOCS_PATH)
    return app


def _document_success_responses(app: Any) -> None:
    """Powertools leaves a route's success response out of the document when the route passes `responses=`
    (as every route here does, for its errors): put it back, from the route's status code and return model
    (a response without `content` gets the return model), unless the route documents its 2xx itself."""
    for route in app._static_routes + app._dynamic_routes:
        if not route.responses or any(200 <= int(status) < 300 for status in route.responses):
            continue
        phrase = HTTPStatus(route.status_code).phrase
        success: dict[str, Any] = {"description": route.response_description or phrase}
        if route.status_code == HTTPStatus.NO_CONTENT:
            success["content"] = {}  # no body; removed from the document below
        route.responses = {route.status_code: success, **route.responses}


PUBLIC_PATHS = ("/v1/health", "/v1/openapi.json")
WRITE_METHODS = frozenset({"post", "put", "patch"})


@cache
def openapi_document() -> str:
    schema = json.loads(docs_app().get_openapi_json_schema())
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            # Powertools documents request validation as 422; this API answers 400 problem+json instead.
            if _is_powertools_validation(responses.get("422")):
                del responses["422"]
            if path in PUBLIC_PATHS:
                operation["security"] = []  # no key needed
                continue
            if method in WRITE_METHODS:
                _document_idempotency(operation, responses)
            for status, response in responses.items():
                if status.startswith("2"):
                    response.setdefault("headers", {}).update(openapi.RATE_LIMIT_HEADERS)
                if not response.get("content", True):
                    del response["content"]  # 204
    _document_multipart(schema)
    _document_links(schema)
    # Powertools' own validation-error schemas: this API answers validation errors with 400 problem+json,
    # and a schema left behind that refers to a removed one makes the document invalid.
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    return json.dumps(schema)


def _is_powertools_validation(response: dict[str, Any] | None) -> bool:
    return response is not None and "HTTPValidationError" in json.dumps(response.get("content", {}))


def _document_idempotency(operation: dict[str, Any], responses: dict[str, Any]) -> None:
    """Every POST/PUT/PATCH takes Idempotency-Key (docs/api.md §7): the header, its replay header and
    errors."""
    operation.setdefault("parameters", []).append(openapi.IDEMPOTENCY_KEY_PARAMETER)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for status, description in (
        ("409", openapi.IDEMPOTENCY_IN_PROGRESS),
        ("422", openapi.IDEMPOTENCY_CONFLICT),
    ):
        documented = responses.get(status)  # the route's own (409 invalid_state, 422 run_failed): kept
        if documented is None:
            responses[status] = {"description": description, "content": problem}
        else:
            documented["description"] = f"{documented['description'].rstrip('.')}; or {description}"
    for status, response in responses.items():
        if status.startswith("2"):
            response.setdefault("headers", {}).update(openapi.IDEMPOTENT_REPLAYED_HEADER)


def _document_multipart(schema: dict[str, Any]) -> None:
    """The multipart bodies the handlers parse themselves (runs_core.api.multipart)."""
    paths = schema.get("paths", {})
    upload = paths.get("/v1/files", {}).get("post")
    if upload is not None:
        upload["requestBody"] = routes_files.MULTIPART_UPLOAD_BODY
    for path, operations in paths.items():
        operation = operations.get("post")
        if operation is None or not path.endswith("/runs") or not path.startswith("/v1/"):
            continue
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            run_body = (
                {"input": {"name": "Ada"}}
                if "{agent}" in path
                else {"agent": "demo", "input": {"name": "Ada"}}
            )
            content["multipart/form-data"] = {
                "schema": {
                    "type": "object",
                    "required": ["json"],
                    "examples": [{"json": json.dumps(run_body), "file": "Invoice INV-1: 120.00 EUR"}],
                    "properties": {
                        "json": {"type": "string", "description": "The JSON body, as for application/json."},
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "Files (≤ 5 MiB each).",
                        },
                    },
                }
            }


_RUN = {"run_id": "$response.body#/id"}
_RUN_LINKS = {
    "GetRun": ("get", "/v1/runs/{run_id}", _RUN),
    "ListRunSteps": ("get", "/v1/runs/{run_id}/steps", _RUN),
    "ListRunEvents": ("get", "/v1/runs/{run_id}/events", _RUN),
    "InvokeRun": ("post", "/v1/runs/{run_id}/invoke", _RUN),
    "WaitForRun": ("post", "/v1/runs/{run_id}/wait", _RUN),
    "CancelRun": ("post", "/v1/runs/{run_id}/cancel", _RUN),
    "GetRunMemory": ("get", "/v1/runs/{run_id}/memory", _RUN),
}
_AGENT = {"agent": "$response.body#/id"}
_THREAD = {"thread_id": "$response.body#/id"}
# OpenAPI links (where the ids in a response lead): documentation, and paths for stateful fuzzing.
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("post", "/v1/runs", "201"): _RUN_LINKS,
    ("post", "/v1/agents/{agent}/runs", "202"): _RUN_LINKS,
    ("post", "/v1/threads/{thread_id}/runs", "201"): _RUN_LINKS,
    ("post", "/v1/agents", "201"): {
        "GetAgent": ("get", "/v1/agents/{agent}", _AGENT),
        "ListAgentVersions": ("get", "/v1/agents/{agent}/versions", _AGENT),
        "PublishAgentVersion": ("post", "/v1/agents/{agent}/versions", _AGENT),
        "CreateAgentRun": ("post", "/v1/agents/{agent}/runs", _AGENT),
    },
    ("post", "/v1/agents/{agent}/versions", "201"): {
        "GetAgentVersion": (
            "get",
            "/v1/agents/{agent}/versions/{version}",
            {"agent": "$response.body#/agent_id", "version": "$response.body#/version"},
        ),
    },
    ("post", "/v1/threads", "201"): {
        "GetThread": ("get", "/v1/threads/{thread_id}", _THREAD),
        "CreateThreadRun": ("post", "/v1/threads/{thread_id}/runs", _THREAD),
        "ListThreadRuns": ("get", "/v1/threads/{thread_id}/runs", _THREAD),
        "ListThreadMessages": ("get", "/v1/threads/{thread_id}/messages", _THREAD),
        "GetThreadMemory": ("get", "/v1/threads/{thread_id}/memory", _THREAD),
    },
    ("post", "/v1/files", "201"): {
        "GetFile": ("get", "/v1/files/{file_id}", {"file_id": "$response.body#/id"})
    },
    ("post", "/v1/files/uploads", "201"): {
        "GetFile": ("get", "/v1/files/{file_id}", {"file_id": "$response.body#/file/id"})
    },
    ("post", "/v1/api-keys", "201"): {
        "RevokeApiKey": ("delete", "/v1/api-keys/{key_id}", {"key_id": "$response.body#/id"})
    },
}


def _document_links(schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    for (method, path, status), links in LINKS.items():
        response = paths[path][method]["responses"][status]
        response["links"] = {
            name: {"operationId": paths[target_path][target_method]["operationId"], "parameters": parameters}
            for name, (target_method, target_path, parameters) in links.items()
        }
