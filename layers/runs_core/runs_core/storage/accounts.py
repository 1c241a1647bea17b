"""Orgs and API keys. Keys are stored by the SHA-256 of the secret; the secret itself never is."""

from typing import Any

from runs_core.storage import dynamo
from runs_core.storage.dynamo import KeyRange


class OrgStore:
    def __init__(self, table: str, api_keys: "ApiKeyStore") -> None:
        self.table = table
        self.api_keys = api_keys

    def create(self, org: dict[str, Any], first_key: dict[str, Any]) -> None:
        """Put a new org and its first API key together (neither exists without the other)."""
        dynamo.transact([self.put_item(org), self.api_keys.put_item(first_key)])

    def get(self, org_id: str) -> dict[str, Any] | None:
        return dynamo.get(self.table, {"id": org_id})

    def put_item(self, org: dict[str, Any]) -> dict[str, Any]:
        """The transact item that creates `org` (fails if the id exists)."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": dynamo.serialize(org),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }

    def debit_item(self, org_id: str, credits: int) -> dict[str, Any]:
        """Transact item taking `credits` from the balance. It may go below zero: the org's runs then
        stop at their next step (budget_exceeded) and it cannot create new ones (402)."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.serialize({"id": org_id}),
                "UpdateExpression": "SET credits_balance = credits_balance - :c",
                "ExpressionAttributeValues": dynamo.values(c=credits),
            }
        }

    def update(self, org_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Apply `changes` to an existing org; None if there is no such org."""
        return dynamo.update_if(self.table, {"id": org_id}, changes, "attribute_exists(id)")


class ApiKeyStore:
    BY_ORG = "by_org"

    def __init__(self, table: str) -> None:
        self.table = table

    def get_by_hash(self, key_hash: str, consistent: bool = False) -> dict[str, Any] | None:
        return dynamo.get(self.table, {"key_hash": key_hash}, consistent=consistent)

    def put_item(self, key: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": dynamo.serialize(key),
                "ConditionExpression": "attribute_not_exists(key_hash)",
            }
        }

    def put(self, key: dict[str, Any]) -> None:
        dynamo.client().put_item(**self.put_item(key)["Put"])

    def page(self, org_id: str, before_id: str | None, limit: int) -> list[dict[str, Any]]:
        key_range = KeyRange("id", "key_", before_id or "key_~", exclusive_high=before_id is not None)
        return dynamo.query_desc(self.table, self.BY_ORG, ("org_id", org_id), key_range, limit)

    def find(self, org_id: str, key_id: str) -> dict[str, Any] | None:
        found = dynamo.query_desc(
            self.table, self.BY_ORG, ("org_id", org_id), KeyRange("id", key_id, key_id), 1
        )
        return found[0] if found else None

    def revoke(self, key_hash: str, revoked_at: str) -> dict[str, Any]:
        response = dynamo.client().update_item(
            TableName=self.table,
            Key=dynamo.serialize({"key_hash": key_hash}),
            UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
            ExpressionAttributeValues=dynamo.values(now=revoked_at),
            ReturnValues="ALL_NEW",
        )
        return dynamo.deserialize(response["Attributes"])
