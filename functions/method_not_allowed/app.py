"""405 method_not_allowed (docs/api.md §2) for the API's catch-all `ANY` routes: API Gateway REST prefers a
resource's own methods over ANY, so only a method the path does not serve reaches this function. The
`Allow` header comes from the published OpenAPI document (runs_core.api.document.route_methods, generated
from the routers at build time); rendering from runs_core (a dialect's path gets its dialect's error body:
runs_core.dialects.renders.render_for)."""

from runs_core.api.document import route_methods
from runs_core.api.method_not_allowed import make_method_not_allowed_handler
from runs_core.dialects.renders import render_for

lambda_handler = make_method_not_allowed_handler(route_methods, render_for)
