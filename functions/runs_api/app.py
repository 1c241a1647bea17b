"""Runs (docs/api.md §4): a thin handler over runs_core; the routes live in runs_core.api.routes.runs."""

from runs_core.api.app import create_app, make_handler
from runs_core.api.routes.runs import router

app = create_app(router)
lambda_handler = make_handler(app)
