"""Steps of a run, in order: pk run_id, sk index (0, 1, 2, …). Written inside run transactions."""

from typing import Any

from runs_core.storage import dynamo


class StepStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def put_item(self, step: dict[str, Any]) -> dict[str, Any]:
        """Transact item creating a step; the index is taken once, so a retried writer cannot duplicate it."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": dynamo.serialize(step),
                "ConditionExpression": "attribute_not_exists(#i)",
                "ExpressionAttributeNames": {"#i": "index"},
            }
        }

    def update_item(self, run_id: str, index: int, changes: dict[str, Any]) -> dict[str, Any]:
        # The step will be at least its key and the changes: over the item size limit is a 413, unwritten.
        dynamo.serialize({"run_id": run_id, "index": index, **changes})
        names = {f"#f{i}": field for i, field in enumerate(changes)}
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.serialize({"run_id": run_id, "index": index}),
                "UpdateExpression": "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(changes))),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": dynamo.values(
                    **{f"f{i}": v for i, v in enumerate(changes.values())}
                ),
            }
        }

    def all(self, run_id: str) -> list[dict[str, Any]]:
        """Every step of a run, oldest first (bounded by the run's max_steps)."""
        return self.page(run_id, after_index=-1, limit=None)

    def page(self, run_id: str, after_index: int, limit: int | None) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "run_id = :run AND #i > :after",
            "ExpressionAttributeNames": {"#i": "index"},
            "ExpressionAttributeValues": dynamo.values(run=run_id, after=after_index),
            "ConsistentRead": True,
        }
        steps: list[dict[str, Any]] = []
        while limit is None or len(steps) < limit:
            if limit is not None:
                request["Limit"] = limit - len(steps)
            response = dynamo.client().query(**request)
            steps += [dynamo.deserialize(item) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return steps
