"""Lambda REQUEST authorizer: API key (three header forms) → org principal, or 401."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runs_core.auth import authorize
from runs_core.observability import observed, request_keys


@observed(request_keys, traced=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize(event)
