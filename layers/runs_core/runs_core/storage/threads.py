"""Threads table (pk org_id, sk id) and thread messages table (pk thread_id, sk id: msg_ ULIDs, so oldest
first is ascending).

A thread's turn-taking lives on its item: `active_run_id` (absent while idle) and `queue` (run ids waiting
for the thread). Every change of those is conditional on the thread's `rev`, written in the same
transaction as the run it concerns, so two runs can never both hold a thread.
"""

from typing import Any

from runs_core.changes import StaleThread, ThreadTurn
from runs_core.storage import dynamo
from runs_core.storage.dynamo import KeyRange, TransactionCancelled


class ThreadStore:
    def __init__(self, table: str, messages_table: str) -> None:
        self.table = table
        self.messages_table = messages_table

    def create(self, thread: dict[str, Any]) -> dict[str, Any]:
        item = {**thread, "rev": 1, "queue": []}
        dynamo.client().put_item(
            TableName=self.table, Item=dynamo.serialize(item), ConditionExpression="attribute_not_exists(id)"
        )
        return item

    def get(self, org_id: str, thread_id: str, consistent: bool = False) -> dict[str, Any] | None:
        return dynamo.get(self.table, {"org_id": org_id, "id": thread_id}, consistent)

    def page(self, org_id: str, key_range: KeyRange, limit: int) -> list[dict[str, Any]]:
        """The org's threads, newest first."""
        return dynamo.query_desc(self.table, None, ("org_id", org_id), key_range, limit)

    def set_turn(self, turn: ThreadTurn) -> None:
        """Set who holds the thread and who waits; StaleThread if the thread changed since it was read."""
        try:
            dynamo.transact([self.turn_update(turn)])
        except TransactionCancelled:
            raise StaleThread from None

    def turn_update(self, turn: ThreadTurn) -> dict[str, Any]:
        """A transaction item that sets who holds the thread and who waits, if the thread is as read."""
        thread, active_run_id, queue = turn.thread, turn.active_run_id, turn.queue
        names = {"#rev": "rev", "#queue": "queue", "#active": "active_run_id"}
        if active_run_id is None:
            expression = "SET #queue = :queue, #rev = :next_rev REMOVE #active"
            values = dynamo.values(queue=queue, next_rev=thread["rev"] + 1, rev=thread["rev"])
        else:
            expression = "SET #active = :active, #queue = :queue, #rev = :next_rev"
            values = dynamo.values(
                active=active_run_id, queue=queue, next_rev=thread["rev"] + 1, rev=thread["rev"]
            )
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.serialize({"org_id": thread["org_id"], "id": thread["id"]}),
                "UpdateExpression": expression,
                "ConditionExpression": "#rev = :rev",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def message_put(self, message: dict[str, Any]) -> dict[str, Any]:
        """A transaction item appending one message (written with the run change that produced it)."""
        return {
            "Put": {
                "TableName": self.messages_table,
                "Item": dynamo.serialize(message),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }

    def messages(self, thread_id: str, after_id: str | None, limit: int) -> list[dict[str, Any]]:
        """Messages oldest first, after `after_id`."""
        request: dict[str, Any] = {
            "TableName": self.messages_table,
            "KeyConditionExpression": "#pk = :pk AND #sk > :after",
            "ExpressionAttributeNames": {"#pk": "thread_id", "#sk": "id"},
            "ExpressionAttributeValues": dynamo.values(pk=thread_id, after=after_id or "msg_"),
            "Limit": limit,
            "ConsistentRead": True,
        }
        response = dynamo.client().query(**request)
        return [dynamo.deserialize(item) for item in response.get("Items", [])]

    def recent_messages(self, thread_id: str, limit: int) -> list[dict[str, Any]]:
        """The last `limit` messages, oldest first (what a new run of the thread is shown)."""
        newest = dynamo.query_desc(
            self.messages_table, None, ("thread_id", thread_id), KeyRange("id", "msg_", "msg_~"), limit
        )
        return newest[::-1]
