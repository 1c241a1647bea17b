"""Step Functions execution status changes (EventBridge): end the runs whose execution ended first."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runs_core.execution import execution_ended
from runs_core.observability import observed


def _keys(event: dict[str, Any]) -> dict[str, Any]:
    detail = event.get("detail") or {}
    return {"run_id": execution_ended.run_id_of(detail), "execution_status": detail.get("status")}


@observed(_keys)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return execution_ended.handle_status_change(event)
