"""Reads of the event log (EventsTable: run_id HASH, seq N RANGE). Writes happen in storage.runs, in the
same transaction as the run change they record."""

from typing import Any

from runs_core.storage import dynamo


class EventLog:
    def __init__(self, table: str) -> None:
        self.table = table

    def after(self, run_id: str, after_seq: int, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` events of the run with seq > `after_seq`, in seq order (strongly consistent)."""
        response = dynamo.client().query(
            TableName=self.table,
            KeyConditionExpression="run_id = :r AND seq > :after",
            ExpressionAttributeValues=dynamo.values(r=run_id, after=after_seq),
            ScanIndexForward=True,
            Limit=limit,
            ConsistentRead=True,
        )
        return [dynamo.deserialize(item) for item in response.get("Items", [])]
