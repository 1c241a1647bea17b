"""WebSocket API ($connect, $disconnect, subscribe, unsubscribe): run events pushed to subscribers."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runs_core.logic import websocket
from runs_core.observability import logger, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return websocket.handle(event)
