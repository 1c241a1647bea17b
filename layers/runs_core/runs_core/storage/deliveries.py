"""Delivery markers of the stream router: one item per event put on the bus (event_id = run_id:seq).

EventBridge does not deduplicate, and a DynamoDB stream redelivers records (a retried batch starts at
its first failed record, so records after it come again). The router skips events that already have a
marker and writes markers only after PutEvents accepted the entries. The window left is a crash between
PutEvents and the marker write: consumers that must be exact can still dedupe on detail.event_id.
Markers expire (TTL) after the stream's 24 h retention has passed.
"""

from collections.abc import Iterable
from typing import Any

from runs_core.storage import dynamo

MARKER_TTL_S = 2 * 24 * 3600
_GET_CHUNK = 100  # BatchGetItem's limit
_WRITE_CHUNK = 25  # BatchWriteItem's limit
_UNPROCESSED_ROUNDS = 5


class DeliveryMarkers:
    def __init__(self, table: str) -> None:
        self.table = table

    def delivered(self, event_ids: Iterable[str]) -> set[str]:
        """The ids among `event_ids` already put on the bus (strongly consistent reads)."""
        ids = list(dict.fromkeys(event_ids))
        found: set[str] = set()
        for start in range(0, len(ids), _GET_CHUNK):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [{"event_id": {"S": event_id}} for event_id in ids[start : start + _GET_CHUNK]],
                    "ConsistentRead": True,
                    "ProjectionExpression": "event_id",
                }
            }
            for _ in range(_UNPROCESSED_ROUNDS):
                response = dynamo.client().batch_get_item(RequestItems=request)
                items = response.get("Responses", {}).get(self.table, [])
                found.update(item["event_id"]["S"] for item in items)
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise RuntimeError("BatchGetItem left keys unprocessed")
        return found

    def mark(self, event_ids: Iterable[str], now_epoch: int) -> None:
        ids = list(dict.fromkeys(event_ids))
        expires_at = now_epoch + MARKER_TTL_S

        def put(event_id: str) -> dict[str, Any]:
            item = dynamo.serialize({"event_id": event_id, "expires_at": expires_at})
            return {"PutRequest": {"Item": item}}

        for start in range(0, len(ids), _WRITE_CHUNK):
            request: dict[str, Any] = {
                self.table: [put(event_id) for event_id in ids[start : start + _WRITE_CHUNK]]
            }
            for _ in range(_UNPROCESSED_ROUNDS):
                response = dynamo.client().batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                raise RuntimeError("BatchWriteItem left items unprocessed")
