"""Health, the OpenAPI document and Swagger UI (no auth). Includes every router so the spec is complete."""

from runs_core.api.app import make_handler
from runs_core.api.spec import docs_app

app = docs_app()
lambda_handler = make_handler(app)
