"""Rate-limit counters in DynamoDB: one item per (org, bucket, minute), id "<org>#<bucket>#<epoch minute>".

One UpdateItem per check: ADD 1 unless the count already reached the limit (a ConditionExpression), so
the check and the increment are one atomic request. TTL (`expires_at`) removes old windows.
"""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runs_core.logic.rate_limits import CounterUnavailable
from runs_core.storage import dynamo


class RateLimitStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def increment(self, counter_id: str, limit: int, expires_at: int) -> tuple[bool, int]:
        try:
            response = dynamo.client().update_item(
                TableName=self.table,
                Key=dynamo.serialize({"id": counter_id}),
                UpdateExpression="SET #expires_at = :expires_at ADD #count :one",
                ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
                ExpressionAttributeNames={"#count": "count", "#expires_at": "expires_at"},
                ExpressionAttributeValues=dynamo.values(one=1, limit=limit, expires_at=expires_at),
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if dynamo.is_conditional_failure(error):
                old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
                return False, _count(old) or limit
            raise CounterUnavailable(str(error)) from error
        except BotoCoreError as error:  # unreachable endpoint, timeouts, exhausted retries
            raise CounterUnavailable(str(error)) from error
        return True, _count(response.get("Attributes")) or 1


def _count(item: dict[str, Any] | None) -> int:
    return int(dynamo.deserialize(item).get("count", 0)) if item else 0
