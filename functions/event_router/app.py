"""The event log's stream router (DynamoDB stream of EventsTable): run events onto the EventBridge bus."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runs_core.observability import observed
from runs_core.stream import event_router


@observed()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return event_router.handle_stream_batch(event, context)
