"""Lambda REQUEST authorizer: API key (three header forms) → org principal, or 401."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runs_core.auth import authorize
from runs_core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize(event)
