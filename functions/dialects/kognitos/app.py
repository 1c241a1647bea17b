"""The Kognitos dialect (docs/api.md §8, /dialects/kognitos/v2): a thin handler over runs_core; the routes
and the `{status_code, message, details}` error bodies live in runs_core.dialects.kognitos."""

from runs_core.api.app import create_app, make_handler
from runs_core.dialects.kognitos import RENDER, router

app = create_app(router, render=RENDER)
lambda_handler = make_handler(app, RENDER)
