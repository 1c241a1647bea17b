"""The API's published OpenAPI document, as served: the file runs_core.api.spec generates at build time
(`make openapi`), shipped in the layer next to this module. Reading it is all DocsFunction and
MethodNotAllowedFunction do with it: no router or model is imported for it at a cold start."""

import json
from functools import cache
from pathlib import Path

DOCUMENT = Path(__file__).with_name("openapi.json")
DOCS_PATH = "/v1/docs"  # Swagger UI (runs_core.api.routes.docs): HTML for people, not in the document


@cache
def openapi_document() -> str:
    """The document's JSON text as served: compact (the file is indented for review), read once per
    execution environment."""
    return json.dumps(json.loads(DOCUMENT.read_text(encoding="utf-8")))


@cache
def route_methods() -> dict[str, tuple[str, ...]]:
    """Every path the API serves (template form: `/v1/runs/{run_id}`) → its methods, sorted: the `Allow`
    header of a 405 (runs_core.api.method_not_allowed)."""
    paths: dict[str, dict[str, object]] = json.loads(DOCUMENT.read_text(encoding="utf-8"))["paths"]
    methods: dict[str, tuple[str, ...]] = {DOCS_PATH: ("GET",)}
    methods.update({path: tuple(sorted(m.upper() for m in operations)) for path, operations in paths.items()})
    return methods
