"""Health, the published OpenAPI document and Swagger UI (no auth).

The document is the file generated at build time (runs_core.api.document), so this router, the only one
DocsFunction serves, imports no other router or model."""

import json
from importlib import resources
from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ConfigDict

from runs_core.api.document import DOCS_PATH, openapi_document
from runs_core.api.openapi import Router

router = Router()
SWAGGER_UI_ASSETS = "aws_lambda_powertools.event_handler.openapi.swagger_ui"


class Health(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built on first use, not at a cold start

    status: Literal["ok"] = "ok"


@router.get("/v1/health", tags=["Meta"])
def health() -> Health:
    """Liveness; needs no key."""
    return Health()


@router.get("/v1/openapi.json", tags=["Meta"])
def openapi_json() -> Response[Any]:
    """This document (OpenAPI 3.1)."""
    return Response(status_code=200, content_type="application/json", body=openapi_document())


@router.get(DOCS_PATH, include_in_schema=False)
def swagger_ui() -> Response[str]:
    """Swagger UI over the served document, as Powertools' enable_swagger renders it (its page and assets;
    `?format=json`: the document it shows), with the stage's base path as the server so "Try it out"
    reaches the API."""
    # lazy, for cold start: only the Swagger UI page needs it
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    event = router.current_event
    document = json.loads(openapi_document())
    document["servers"] = [{"url": _base_path(event.raw_event) or "/"}]
    # `</` escaped: the document is embedded in a <script> element.
    spec = json.dumps(document, indent=2).replace("</", "<\\/")
    if (event.query_string_parameters or {}).get("format") == "json":
        return Response(status_code=200, content_type="application/json", body=spec)
    assets = resources.files(SWAGGER_UI_ASSETS)
    page = generate_swagger_html(
        spec,
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",  # no CDN: the assets are inlined
        None,  # no OAuth2
    )
    return Response(status_code=200, content_type="text/html", body=page)


def _base_path(event: dict[str, Any]) -> str:
    """`/<stage>` when the request's path starts with its stage (the execute-api URL), else "" (a custom
    domain, the local stack)."""
    context = event.get("requestContext") or {}
    stage = context.get("stage")
    if stage and stage != "$default" and str(context.get("path") or "").startswith(f"/{stage}"):
        return f"/{stage}"
    return ""
