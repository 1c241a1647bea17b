"""Operators' org management (docs/api.md §7): a thin handler; routes in runs_core.api.routes.admin."""

from runs_core.api.app import create_app, make_handler
from runs_core.api.routes.admin import router

app = create_app(router)
lambda_handler = make_handler(app)
