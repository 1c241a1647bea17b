"""405 method_not_allowed (docs/api.md §2) for the API's catch-all `ANY` routes: API Gateway REST prefers a
resource's own methods over ANY, so only a method the path does not serve reaches this function. The
`Allow` header comes from the routers (runs_core.api.spec.route_methods); rendering from runs_core (a
dialect's path gets its dialect's error body: runs_core.api.spec.render_for)."""

from runs_core.api.app import make_method_not_allowed_handler
from runs_core.api.spec import render_for, route_methods

lambda_handler = make_method_not_allowed_handler(route_methods, render_for)
