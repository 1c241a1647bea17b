"""Key-value memory of runs and threads: pk scope ("run#<id>" | "thread#<id>"), sk key."""

from typing import Any

from runs_core.storage import dynamo

MAX_KEYS_LISTED = 1000


class MemoryStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def get(self, scope: str, key: str) -> Any:
        item = dynamo.get(self.table, {"scope": scope, "key": key}, consistent=True)
        return item["value"] if item else None

    def put(self, scope: str, key: str, value: Any, now: str) -> None:
        item = {"scope": scope, "key": key, "value": value, "updated_at": now}
        dynamo.client().put_item(TableName=self.table, Item=dynamo.serialize(item))

    def delete(self, scope: str, key: str) -> bool:
        response = dynamo.client().delete_item(
            TableName=self.table, Key=dynamo.serialize({"scope": scope, "key": key}), ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    def items(self, scope: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#s = :scope",
            "ExpressionAttributeNames": {"#s": "scope"},
            "ExpressionAttributeValues": dynamo.values(scope=scope),
            "ConsistentRead": True,
        }
        found: dict[str, Any] = {}
        while len(found) < MAX_KEYS_LISTED:
            response = dynamo.client().query(**request)
            for raw in response.get("Items", []):
                item = dynamo.deserialize(raw)
                found[item["key"]] = item.get("value")
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found
