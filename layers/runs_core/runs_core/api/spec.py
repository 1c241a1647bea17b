"""The OpenAPI 3.1 document of the whole API, generated from the routers and models at build time.

`make openapi` (python -m runs_core.api.spec) writes it to runs_core/api/openapi.json, committed and shipped
in the layer; DocsFunction serves that file and MethodNotAllowedFunction takes its `Allow` headers from
it (runs_core.api.document), so neither imports the routers and models at a cold start. The contract
tests regenerate it and fail, naming the command, when the committed file no longer matches the routes.
Only Powertools' public API is used: Router.route (runs_core.api.openapi.Router) and
get_openapi_json_schema.
"""

import json
from pathlib import Path
from typing import Any

from runs_core.api import openapi
from runs_core.api.document import DOCUMENT
from runs_core.api.routes import (
    account,
    admin,
    agents,
    docs,
    events,
    files,
    runs,
    threads,
)
from runs_core.dialects import appstrate, kognitos, langgraph, openai_responses, roe, tr, ziet

ROUTERS = (
    docs.router,
    agents.router,
    runs.router,
    threads.router,
    events.router,
    account.router,
    admin.router,
    files.router,
    tr.router,
    ziet.router,
    kognitos.router,
    roe.router,
    appstrate.router,
    openai_responses.router,
    langgraph.router,
)
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
bus (`source: runs-api`, `detail-type: <event type>`).

## Dialects

The seed run APIs' own wire formats, for their clients (change only the base URL and the key), under
`/dialects/<name>`, each under its tag `Dialect: <name>` with the seed's schemas: threads/runs
(`/dialects/tr/v1`), Ziet (`/dialects/ziet/v1`), Kognitos (`/dialects/kognitos/v2`), Roe AI
(`/dialects/roe`) and Appstrate (`/dialects/appstrate`). They are the same runs as `/v1`, with the same
auth, tenancy, idempotency and rate limits; each answers errors in its seed's error body."""


def resolver_with_every_router() -> Any:
    """A resolver with every router, for the document's generation (the served DocsFunction holds only
    runs_core.api.routes.docs)."""
    from runs_core.api.app import create_app

    return create_app(*ROUTERS)


PUBLIC_PATHS = ("/v1/health", "/v1/openapi.json")
WRITE_METHODS = frozenset({"post", "put", "patch"})


def generate() -> dict[str, Any]:
    """The document, from the routers and models through Powertools' public OpenAPI generation, with what
    Powertools does not know added: the 400 problem+json answer to validation errors instead of its 422,
    Idempotency-Key, the rate-limit headers, the multipart bodies, links."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

    from runs_core.api.app import API_TITLE
    from runs_core.settings import get_settings

    document = resolver_with_every_router().get_openapi_json_schema(
        title=API_TITLE,
        version=get_settings().api_version,
        description=DESCRIPTION,
        security_schemes={
            "bearer": HTTPBearer(),
            "apiKeyHeader": APIKey(name="x-api-key", **{"in": APIKeyIn.header}),
        },
        security=[{"bearer": []}, {"apiKeyHeader": []}],
    )
    schema: dict[str, Any] = json.loads(document)
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
    return schema


def write(path: Path = DOCUMENT) -> None:
    """Writes the generated document where DocsFunction serves it from (`make openapi`)."""
    path.write_text(json.dumps(generate(), indent=2) + "\n", encoding="utf-8")


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
        upload["requestBody"] = files.MULTIPART_UPLOAD_BODY
    for path, operations in paths.items():
        operation = operations.get("post")
        v1_run = path.startswith("/v1/") and path.endswith("/runs")
        if operation is None or not (v1_run or path.startswith(f"{appstrate.BASE}/")):
            continue
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            run_body = (
                {"input": {"name": "Ada"}}
                if "{agent}" in path or "{scope}" in path
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


if __name__ == "__main__":
    write()
    print(f"wrote {DOCUMENT}")
