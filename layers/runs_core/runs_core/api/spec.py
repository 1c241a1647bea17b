"""The OpenAPI 3.1 document of the whole API, generated from the routers and models."""

import json
from functools import cache
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

ROUTERS = (
    routes_docs.router,
    routes_agents.router,
    routes_runs.router,
    routes_threads.router,
    routes_events.router,
    routes_account.router,
    routes_admin.router,
    routes_files.router,
)
DESCRIPTION = """Durable, observable, controllable agent runs. Errors are RFC 9457 problem+json.
Authenticate with `Authorization: Bearer <key>`, `Authorization: Api-Key <key>` or `x-api-key: <key>`.

Every POST/PUT/PATCH accepts `Idempotency-Key` (≤ 255 characters): the first response is kept 24 h per
org and key and replayed with `Idempotent-Replayed: true`. Each org has rate limits per minute (run
creation, and all requests); over them the answer is 429 `rate_limited` with `Retry-After`, and every
org response carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds)."""


def docs_app() -> Any:
    """A resolver with every router: serves health, the document and Swagger UI (at /v1/docs)."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

    from runs_core.api.app import API_TITLE, create_app
    from runs_core.settings import get_settings

    app = create_app(*ROUTERS)
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
    app.enable_swagger(path="/v1/docs")
    return app


PUBLIC_PATHS = ("/v1/health", "/v1/openapi.json")
WRITE_METHODS = frozenset({"post", "put", "patch"})


@cache
def openapi_document() -> str:
    schema = json.loads(docs_app().get_openapi_json_schema())
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            # Powertools documents request validation as 422; this API answers 400 problem+json instead.
            responses.pop("422", None)
            if path in PUBLIC_PATHS:
                operation["security"] = []  # no key needed
                continue
            if method in WRITE_METHODS:
                _document_idempotency(operation, responses)
            for status, response in responses.items():
                if status.startswith("2"):
                    response.setdefault("headers", {}).update(openapi.RATE_LIMIT_HEADERS)
    _document_multipart(schema)
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    return json.dumps(schema)


def _document_idempotency(operation: dict[str, Any], responses: dict[str, Any]) -> None:
    """Every POST/PUT/PATCH takes Idempotency-Key (API.md §7): the header, its replay header and errors."""
    operation.setdefault("parameters", []).append(openapi.IDEMPOTENCY_KEY_PARAMETER)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    conflict = responses.get("409")
    if conflict is None:
        responses["409"] = {"description": openapi.IDEMPOTENCY_IN_PROGRESS, "content": problem}
    else:
        conflict["description"] = f"{conflict['description']}, or {openapi.IDEMPOTENCY_IN_PROGRESS}"
    responses["422"] = {"description": openapi.IDEMPOTENCY_CONFLICT, "content": problem}
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
        if operation is None or not path.endswith("/runs"):
            continue
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            content["multipart/form-data"] = {
                "schema": {
                    "type": "object",
                    "required": ["json"],
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
