"""The Ziet dialect (docs/api.md §8, /dialects/ziet/v1): a thin handler over runs_core; the routes and the
`{error, message}` error bodies live in runs_core.dialects.ziet."""

from runs_core.api.app import create_app, make_handler
from runs_core.dialects.ziet import RENDER, router

app = create_app(router, render=RENDER)
lambda_handler = make_handler(app, RENDER)
