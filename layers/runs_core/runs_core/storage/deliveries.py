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
_WRITE_CHUNK = 25  # BatchWriteItem's limit
_UNPROCESSED_ROUNDS = 5


class DeliveryMarkers:
    def __init__(self, table: str) -> None:
        self.table = table

    def delivered(self, event_ids: Iterable[str]) -> set[str]:
        """The ids among `event_ids` already put on the bus (strongly consistent reads)."""
        keys = [{"event_id": event_id} for event_id in dict.fromkeys(event_ids)]
        return {item["event_id"] for item in dynamo.batch_get(self.table, keys, projection="event_id")}

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
