"""Agents table: one partition per org holding agents, name claims and immutable versions.

sk = agent#<agt_id>              the agent (name, description, dist_tags)
sk = name#<name>                 claims the name, points at the agent id (names are unique per org)
sk = version#<agt_id>#<semver>   one immutable version; `created_sk` orders versions by publish time
"""

from typing import Any

from runs_core.storage import dynamo
from runs_core.storage.dynamo import KeyRange, TransactionCancelled


class NameClaimed(Exception):
    pass


class VersionClaimed(Exception):
    pass


class AgentMissing(Exception):
    pass


def _agent_sk(agent_id: str) -> str:
    return f"agent#{agent_id}"


def _version_sk(agent_id: str, version: str) -> str:
    return f"version#{agent_id}#{version}"


class AgentStore:
    BY_CREATED = "by_created"

    def __init__(self, table: str) -> None:
        self.table = table

    def _key(self, org_id: str, sk: str) -> dict[str, Any]:
        return dynamo.serialize({"org_id": org_id, "sk": sk})

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": dynamo.serialize(item),
                "ConditionExpression": "attribute_not_exists(sk)",
            }
        }

    def _version_item(self, org_id: str, version: dict[str, Any]) -> dict[str, Any]:
        agent_id = version["agent_id"]
        return {
            **version,
            "org_id": org_id,
            "sk": _version_sk(agent_id, version["version"]),
            "created_sk": f"version#{agent_id}#{version['created_at']}#{version['version']}",
        }

    def create(self, org_id: str, agent: dict[str, Any], version: dict[str, Any]) -> None:
        """Claim the name, write the agent and its first version: all or nothing."""
        try:
            dynamo.transact(
                [
                    self._put_new({"org_id": org_id, "sk": f"name#{agent['name']}", "agent_id": agent["id"]}),
                    self._put_new({**agent, "org_id": org_id, "sk": _agent_sk(agent["id"])}),
                    self._put_new(self._version_item(org_id, version)),
                ]
            )
        except TransactionCancelled as cancelled:
            if cancelled.reasons[0] == "ConditionalCheckFailed":
                raise NameClaimed from None
            raise

    def publish(self, org_id: str, version: dict[str, Any], tags: list[str], now: str) -> dict[str, Any]:
        """Write a new version and point `tags` at it; returns the agent after the change."""
        agent_id = version["agent_id"]
        update: dict[str, Any] = {
            "Update": {
                "TableName": self.table,
                "Key": self._key(org_id, _agent_sk(agent_id)),
                "ConditionExpression": "attribute_exists(sk)",
                **self._tag_update(tags, version["version"], now),
            }
        }
        try:
            dynamo.transact([self._put_new(self._version_item(org_id, version)), update])
        except TransactionCancelled as cancelled:
            if cancelled.reasons[0] == "ConditionalCheckFailed":
                raise VersionClaimed from None
            if cancelled.reasons[1] == "ConditionalCheckFailed":
                raise AgentMissing from None
            raise
        agent = self.get(org_id, agent_id, consistent=True)
        assert agent is not None
        return agent

    @staticmethod
    def _tag_update(tags: list[str], version: str, now: str) -> dict[str, Any]:
        names = {f"#t{i}": tag for i, tag in enumerate(tags)}
        sets = [f"dist_tags.#t{i} = :v" for i in range(len(tags))] + ["updated_at = :now"]
        return {
            "UpdateExpression": "SET " + ", ".join(sets),
            **({"ExpressionAttributeNames": names} if names else {}),
            "ExpressionAttributeValues": dynamo.values(v=version, now=now),
        }

    def move_tag(self, org_id: str, agent_id: str, tag: str, version: str, now: str) -> dict[str, Any]:
        response = dynamo.client().update_item(
            TableName=self.table,
            Key=self._key(org_id, _agent_sk(agent_id)),
            ConditionExpression="attribute_exists(sk)",
            ReturnValues="ALL_NEW",
            **self._tag_update([tag], version, now),
        )
        return dynamo.deserialize(response["Attributes"])

    def get(self, org_id: str, agent_id: str, consistent: bool = False) -> dict[str, Any] | None:
        return dynamo.get(self.table, {"org_id": org_id, "sk": _agent_sk(agent_id)}, consistent)

    def id_for_name(self, org_id: str, name: str) -> str | None:
        claim = dynamo.get(self.table, {"org_id": org_id, "sk": f"name#{name}"})
        return claim["agent_id"] if claim else None

    def get_version(self, org_id: str, agent_id: str, version: str) -> dict[str, Any] | None:
        return dynamo.get(self.table, {"org_id": org_id, "sk": _version_sk(agent_id, version)})

    def page(self, org_id: str, before_sk: str | None, limit: int) -> list[dict[str, Any]]:
        key_range = KeyRange("sk", "agent#", before_sk or "agent#~", exclusive_high=before_sk is not None)
        return dynamo.query_desc(self.table, None, ("org_id", org_id), key_range, limit)

    def list_versions(
        self, org_id: str, agent_id: str, before_created_sk: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Versions newest (last published) first."""
        prefix = f"version#{agent_id}#"
        high = before_created_sk or prefix + "~"
        key_range = KeyRange("created_sk", prefix, high, exclusive_high=before_created_sk is not None)
        return dynamo.query_desc(self.table, self.BY_CREATED, ("org_id", org_id), key_range, limit)

    def all_version_numbers(self, org_id: str, agent_id: str) -> list[str]:
        """Every version number of an agent (for semver range selection): one Query, keys only."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "org_id = :org AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": dynamo.values(org=org_id, prefix=f"version#{agent_id}#"),
            "ProjectionExpression": "#v",
            "ExpressionAttributeNames": {"#v": "version"},
        }
        numbers: list[str] = []
        while True:
            response = dynamo.client().query(**request)
            numbers += [dynamo.deserialize(item)["version"] for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return numbers
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
