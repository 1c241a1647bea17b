"""The Step Functions task of a run: one agent step, or parking/expiring/failing one of its waits."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runs_core.logic import execution
from runs_core.observability import logger, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(run_id=event.get("run_id"))
    return execution.handle_task(event)
