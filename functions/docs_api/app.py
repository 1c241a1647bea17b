"""Health, the OpenAPI document and Swagger UI (no auth): the document is the one generated at build time
and shipped in the layer (runs_core.api.document), so this function holds only the docs router."""

from runs_core.api.app import create_app, make_handler
from runs_core.api.routes.docs import router

app = create_app(router)
lambda_handler = make_handler(app)
