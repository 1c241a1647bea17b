"""The caller's org and API keys (docs/api.md §7): a thin handler; routes in runs_core.api.routes.account."""

from runs_core.api.app import create_app, make_handler
from runs_core.api.routes.account import router

app = create_app(router)
lambda_handler = make_handler(app)
