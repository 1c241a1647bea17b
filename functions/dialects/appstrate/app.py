"""The Appstrate dialect (docs/api.md §8, /dialects/appstrate): a thin handler over runs_core; the route and
the problem+json bodies with Appstrate's members live in runs_core.dialects.appstrate."""

from runs_core.api.app import create_app, make_handler
from runs_core.dialects.appstrate import RENDER, router

app = create_app(router, render=RENDER)
lambda_handler = make_handler(app, RENDER)
