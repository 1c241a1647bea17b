"""`lambda` actions: invoke `function` with {run_id, action, arguments}; its JSON reply is the result."""

import json
from functools import cache
from typing import Any

from runs_core.actions.base import ActionContext, ActionError

_MAX_ERROR_MESSAGE = 1000


@cache
def lambda_client() -> Any:
    import boto3  # made once per process, on first use

    return boto3.client("lambda")


def invoke_lambda(
    spec: dict[str, Any], arguments: dict[str, Any], ctx: ActionContext, *, client: Any = None
) -> Any:
    function = spec.get("function")
    if not isinstance(function, str) or not function:
        raise ActionError("a lambda action needs a `function`")
    payload = json.dumps({"run_id": ctx.run_id, "action": spec.get("name"), "arguments": arguments})
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = (client or lambda_client()).invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=payload.encode("utf-8")
        )
        raw = response["Payload"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise ActionError(f"could not invoke the lambda function: {code}") from None
    except BotoCoreError as error:
        raise ActionError(f"could not invoke the lambda function: {type(error).__name__}") from None
    if response.get("FunctionError"):
        raise ActionError(f"lambda function failed: {_error_message(raw)}")
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ActionError("lambda function returned data that is not JSON") from None


def _error_message(raw: bytes) -> str:
    try:
        message = json.loads(raw).get("errorMessage")
    except (ValueError, AttributeError):
        message = None
    if not isinstance(message, str) or not message:
        return "unhandled error"
    return message[:_MAX_ERROR_MESSAGE]
