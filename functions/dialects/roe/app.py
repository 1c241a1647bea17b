"""The Roe AI dialect (docs/api.md §8, /dialects/roe): a thin handler over runs_core; the synchronous run
route and the `{message}` error bodies live in runs_core.dialects.roe."""

from runs_core.api.app import create_app, make_handler
from runs_core.dialects.roe import RENDER, router

app = create_app(router, render=RENDER)
lambda_handler = make_handler(app, RENDER)
