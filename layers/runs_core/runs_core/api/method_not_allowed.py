"""The handler of the API's catch-all `ANY` routes (MethodNotAllowedFunction): 405 with `Allow`.

It needs no resolver, router or model: the problem body (runs_core.api.problems), the headers every
response carries (runs_core.api.responses) and the Allow map it is given (cold start)."""

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runs_core.api.problems import Render, from_error, problem_result
from runs_core.api.responses import finish
from runs_core.errors import MethodNotAllowed, NotFound
from runs_core.observability import api_keys, observed


def make_method_not_allowed_handler(
    allowed_methods: Callable[[], Mapping[str, tuple[str, ...]]],
    render_for: Callable[[str], Render] = lambda _: from_error,
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The handler of the API's catch-all `ANY` routes: API Gateway prefers a resource's own methods over
    ANY, so only a method the path does not serve reaches it → 405 method_not_allowed with `Allow`.

    `allowed_methods()`: resource path (template form, `/v1/runs/{run_id}`) → its methods. Answered before
    the header and body rules and outside the idempotent section (nothing runs, so nothing is stored), and
    not counted against the org's rate limits (a 405 does no work). `render_for(path)`: how the path's errors
    are rendered (a dialect's own body under /dialects)."""

    @observed(api_keys, traced=False)  # nothing to trace (no AWS call): no X-Ray SDK import on a 405
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request_id = (event.get("requestContext") or {}).get("requestId")
        method = str(event.get("httpMethod") or "").upper()
        path = event.get("path") or ""
        allow = allowed_methods().get(str(event.get("resource") or ""))
        render = render_for(path)
        if not allow:
            response = problem_result(NotFound(f"No route {method} {path}."), request_id, render)
            return finish(event, response, None, request_id)
        detail = f"{method} is not allowed on {path}; allowed: {', '.join(allow)}."
        response = problem_result(MethodNotAllowed(detail), request_id, render)
        response["headers"]["Allow"] = ", ".join(allow)
        return finish(event, response, None, request_id)

    return lambda_handler
