"""Health and the published OpenAPI document (no auth)."""

from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

router = Router()


class Health(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/v1/health", tags=["Meta"])
def health() -> Health:
    """Liveness; needs no key."""
    return Health()


@router.get("/v1/openapi.json", tags=["Meta"])
def openapi_json() -> Response[Any]:
    """This document (OpenAPI 3.1)."""
    from runs_core.api.spec import openapi_document  # the spec is built on first request, then cached

    return Response(status_code=200, content_type="application/json", body=openapi_document())
