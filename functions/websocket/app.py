"""WebSocket API ($connect, $disconnect, subscribe, unsubscribe): run events pushed to subscribers."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runs_core.observability import observed, request_keys
from runs_core.stream import websocket


@observed(request_keys)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return websocket.handle(event)
