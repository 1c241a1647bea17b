"""The OpenAPI 3.1 document of the whole API, generated from the routers and models."""

import json
from functools import cache
from typing import Any

from runs_core.api import (
    routes_account,
    routes_admin,
    routes_agents,
    routes_docs,
    routes_events,
    routes_files,
    routes_runs,
)

ROUTERS = (
    routes_docs.router,
    routes_agents.router,
    routes_runs.router,
    routes_events.router,
    routes_account.router,
    routes_admin.router,
    routes_files.router,
)
DESCRIPTION = """Durable, observable, controllable agent runs. Errors are RFC 9457 problem+json.
Authenticate with `Authorization: Bearer <key>`, `Authorization: Api-Key <key>` or `x-api-key: <key>`."""


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


@cache
def openapi_document() -> str:
    schema = json.loads(docs_app().get_openapi_json_schema())
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            # Powertools documents request validation as 422; this API answers 400 problem+json instead.
            operation.get("responses", {}).pop("422", None)
            if path in ("/v1/health", "/v1/openapi.json"):
                operation["security"] = []  # no key needed
    _document_multipart(schema)
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    return json.dumps(schema)


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
