"""The files bucket's ObjectCreated notification (prefix pending/): finish presigned uploads."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runs_core.logic import uploads
from runs_core.observability import observed


@observed()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return {"finished": uploads.handle_s3_event(event)}
