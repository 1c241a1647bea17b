"""Files (docs/api.md §7): a thin handler over runs_core; the routes live in runs_core.api.routes.files."""

from runs_core.api.app import create_app, make_handler
from runs_core.api.routes.files import router

app = create_app(router)
lambda_handler = make_handler(app)
