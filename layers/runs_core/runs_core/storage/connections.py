"""WebSocket connections and their subscriptions (ConnectionsTable: pk S HASH, sk S RANGE, TTL expires_at).

* a connection: pk "conn#<connection_id>", sk "conn" — org_id, key_hash and key_checked_at (the API key it
  connected with, and when that key was last found active), runs (string set of subscribed run ids);
* a subscription: pk "run#<run_id>", sk "<connection_id>" — org_id, last_sent_seq, and a copy of the
  connection's key_hash / key_checked_at (so the router can re-check the key without another read).

Subscriptions are keyed by run, so the stream router finds a run's subscribers with one strongly
consistent Query (no index that could lag behind a subscribe). `last_sent_seq` is the claim: whoever
sends events first..last to a subscription (the subscribe handler's backlog or the router) first moves
it from first - 1 to last with one conditional update that also takes a lease (sending_seq,
sending_until), so each event is sent at most once and in order; releasing the lease is one more update.
"""

import time
from dataclasses import dataclass
from typing import Any

from runs_core.storage import dynamo

# A sender that dies mid-batch (a crash, a timeout) holds its subscription this long; later events then
# flow again, but the unposted rest of its batch is not resent (claimed already): the client sees a gap
# in `seq` and resubscribes with after_seq, as after any reconnect.
LEASE_SECONDS = 30

CONNECTION_TTL_S = 2 * 3600


@dataclass(frozen=True)
class Subscriber:
    last_sent_seq: int
    key_hash: str | None  # None: written before keys were recorded; treated as a key that is gone
    key_checked_at: float


def _conn_key(connection_id: str) -> dict[str, Any]:
    return dynamo.serialize({"pk": f"conn#{connection_id}", "sk": "conn"})


def _sub_key(run_id: str, connection_id: str) -> dict[str, Any]:
    return dynamo.serialize({"pk": f"run#{run_id}", "sk": connection_id})


class Connections:
    def __init__(self, table: str) -> None:
        self.table = table

    def put_connection(self, connection_id: str, org_id: str, key_hash: str, now_epoch: int) -> None:
        item = {
            "pk": f"conn#{connection_id}",
            "sk": "conn",
            "connection_id": connection_id,
            "org_id": org_id,
            "key_hash": key_hash,
            "key_checked_at": now_epoch,
            "connected_at": now_epoch,
            "expires_at": now_epoch + CONNECTION_TTL_S,
        }
        dynamo.client().put_item(TableName=self.table, Item=dynamo.serialize(item))

    def get_connection(self, connection_id: str) -> dict[str, Any] | None:
        return dynamo.get(self.table, {"pk": f"conn#{connection_id}", "sk": "conn"}, consistent=True)

    def delete_connection(self, connection_id: str) -> None:
        """The connection and every subscription of it."""
        response = dynamo.client().delete_item(
            TableName=self.table, Key=_conn_key(connection_id), ReturnValues="ALL_OLD"
        )
        old = dynamo.deserialize(response["Attributes"]) if response.get("Attributes") else {}
        for run_id in old.get("runs") or ():
            dynamo.client().delete_item(TableName=self.table, Key=_sub_key(str(run_id), connection_id))

    def subscribe(self, connection: dict[str, Any], run_id: str, after_seq: int, expires_at: int) -> None:
        """(Re)subscribe: the subscription starts after `after_seq` (a resubscribe resets it). It is
        written under the subscriber's own lease, so the router cannot push an event before the
        `subscribed` frame is out; the caller releases it (release(run_id, connection_id, after_seq,
        after_seq)) once the frame is posted, then sends the backlog, which covers what the router skipped."""
        connection_id = str(connection["connection_id"])
        dynamo.client().update_item(
            TableName=self.table,
            Key=_conn_key(connection_id),
            UpdateExpression="ADD runs :r",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":r": {"SS": [run_id]}},
        )
        item = {
            "pk": f"run#{run_id}",
            "sk": connection_id,
            "connection_id": connection_id,
            "run_id": run_id,
            "org_id": connection["org_id"],
            "key_hash": connection.get("key_hash"),
            "key_checked_at": connection.get("key_checked_at", 0),
            "last_sent_seq": after_seq,
            "sending_seq": after_seq,
            "sending_until": time.time() + LEASE_SECONDS,
            "expires_at": expires_at,
        }
        dynamo.client().put_item(TableName=self.table, Item=dynamo.serialize(item))

    def unsubscribe(self, connection_id: str, run_id: str) -> None:
        dynamo.client().delete_item(TableName=self.table, Key=_sub_key(run_id, connection_id))
        dynamo.client().update_item(
            TableName=self.table,
            Key=_conn_key(connection_id),
            UpdateExpression="DELETE runs :r",
            ExpressionAttributeValues={":r": {"SS": [run_id]}},
        )

    def last_sent(self, run_id: str, connection_id: str) -> int | None:
        """The subscription's last claimed seq; None when there is no subscription."""
        item = dynamo.get(self.table, {"pk": f"run#{run_id}", "sk": connection_id}, consistent=True)
        return int(item["last_sent_seq"]) if item else None

    def key_checked(self, connection_id: str, now_epoch: int, run_id: str | None = None) -> None:
        """The key was found active at `now_epoch`: on the subscription to `run_id` (the router's view), or
        on the connection (the message handler's). A row deleted meanwhile is not brought back."""
        key = (
            {"pk": f"run#{run_id}", "sk": connection_id}
            if run_id
            else {"pk": f"conn#{connection_id}", "sk": "conn"}
        )
        dynamo.update_if(self.table, key, {"key_checked_at": now_epoch}, "attribute_exists(pk)")

    def subscribers(self, run_id: str) -> dict[str, Subscriber]:
        """connection_id → its subscription to the run, for every subscriber (strongly consistent)."""
        found: dict[str, Subscriber] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": dynamo.values(pk=f"run#{run_id}"),
            "ConsistentRead": True,
        }
        while True:
            response = dynamo.client().query(**kwargs)
            for raw in response.get("Items", []):
                item = dynamo.deserialize(raw)
                found[str(item["sk"])] = Subscriber(
                    int(item["last_sent_seq"]), item.get("key_hash"), float(item.get("key_checked_at") or 0)
                )
            if not response.get("LastEvaluatedKey"):
                return found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def claim(self, run_id: str, connection_id: str, first: int, last: int) -> bool:
        """Take the right to post seqs first..last: only when first - 1 was the last one sent and no other
        sender holds a live lease. last_sent_seq moves to `last` at once (nobody else can claim them);
        the lease keeps last + 1 from being posted before this batch is out (order per run)."""
        now = time.time()
        claimed = dynamo.update_if(
            self.table,
            {"pk": f"run#{run_id}", "sk": connection_id},
            {"last_sent_seq": last, "sending_seq": last, "sending_until": now + LEASE_SECONDS},
            "attribute_exists(pk) AND last_sent_seq = :prev"
            " AND (attribute_not_exists(sending_until) OR sending_until < :now)",
            condition_values={"prev": first - 1, "now": now},
        )
        return claimed is not None

    def release(self, run_id: str, connection_id: str, last: int, sent_through: int) -> None:
        """The batch ending at `last` was posted through `sent_through`: free the lease, and hand back
        any unsent rest (no-op if the lease was lost)."""
        update = "REMOVE sending_seq, sending_until"
        values: dict[str, Any] = {"last": last}
        if sent_through < last:
            update = "SET last_sent_seq = :through " + update
            values["through"] = sent_through
        try:
            dynamo.client().update_item(
                TableName=self.table,
                Key=_sub_key(run_id, connection_id),
                UpdateExpression=update,
                ConditionExpression="sending_seq = :last",
                ExpressionAttributeValues=dynamo.values(**values),
            )
        except Exception as error:
            if not dynamo.is_conditional_failure(error):
                raise
