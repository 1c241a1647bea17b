"""The Step Functions task of a run: one agent step, or parking/expiring/failing one of its waits."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runs_core.execution import tasks
from runs_core.observability import logger, observed, task_keys


@observed(task_keys)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = tasks.handle_task(event)
    logger.info("task done", extra={"next": result.get("next")})
    return result
