"""Create template.yaml's DynamoDB tables in moto, from their CloudFormation Properties."""

from typing import Any

from devstack.template import Template

# AWS::Serverless::SimpleTable's PrimaryKey.Type → a DynamoDB attribute type.
_SIMPLE_TABLE_TYPES = {"String": "S", "Number": "N", "Binary": "B"}


def create_tables(template: Template, client: Any) -> list[str]:
    """Create every table of the template (TableName = logical id); returns their names."""
    names = []
    for logical_id, resource in template.resources_of("AWS::DynamoDB::Table").items():
        properties = template.resolve(resource.get("Properties") or {})
        client.create_table(**_create_table_request(logical_id, properties))
        _apply_post_create_settings(client, logical_id, properties)
        names.append(logical_id)
    for logical_id, resource in template.resources_of("AWS::Serverless::SimpleTable").items():
        properties = template.resolve(resource.get("Properties") or {})
        client.create_table(**_simple_table_request(logical_id, properties))
        names.append(logical_id)
    return names


def _create_table_request(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    billing_mode = properties.get("BillingMode", "PROVISIONED")
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": billing_mode,
    }
    if billing_mode == "PROVISIONED":
        request["ProvisionedThroughput"] = _throughput(properties.get("ProvisionedThroughput"))
    if properties.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [
            _index(index, billing_mode, is_global=True) for index in properties["GlobalSecondaryIndexes"]
        ]
    if properties.get("LocalSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = [
            _index(index, billing_mode, is_global=False) for index in properties["LocalSecondaryIndexes"]
        ]
    stream = properties.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = properties.get("SSESpecification")
    if sse:
        request["SSESpecification"] = {
            key: value
            for key, value in {
                "Enabled": _bool(sse.get("SSEEnabled", False)),
                "SSEType": sse.get("SSEType"),
                "KMSMasterKeyId": sse.get("KMSMasterKeyId"),
            }.items()
            if value is not None
        }
    if properties.get("Tags"):
        request["Tags"] = [{"Key": str(tag["Key"]), "Value": str(tag["Value"])} for tag in properties["Tags"]]
    return request


def _apply_post_create_settings(client: Any, name: str, properties: dict[str, Any]) -> None:
    """What CloudFormation sets with separate API calls after CreateTable: TTL and PITR."""
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and _bool(ttl.get("Enabled", False)):
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    pitr = properties.get("PointInTimeRecoverySpecification")
    if pitr and _bool(pitr.get("PointInTimeRecoveryEnabled", False)):
        client.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


def _simple_table_request(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": [
            {"AttributeName": key["Name"], "AttributeType": _SIMPLE_TABLE_TYPES[key["Type"]]}
        ],
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
    }
    if properties.get("ProvisionedThroughput"):
        request["BillingMode"] = "PROVISIONED"
        request["ProvisionedThroughput"] = _throughput(properties["ProvisionedThroughput"])
    else:
        request["BillingMode"] = "PAY_PER_REQUEST"
    return request


def _index(index: dict[str, Any], billing_mode: str, *, is_global: bool) -> dict[str, Any]:
    converted: dict[str, Any] = {
        "IndexName": index["IndexName"],
        "KeySchema": index["KeySchema"],
        "Projection": index.get("Projection") or {"ProjectionType": "ALL"},
    }
    if is_global and billing_mode == "PROVISIONED":
        converted["ProvisionedThroughput"] = _throughput(index.get("ProvisionedThroughput"))
    return converted


def _throughput(value: dict[str, Any] | None) -> dict[str, int]:
    value = value or {}
    return {
        "ReadCapacityUnits": int(value.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(value.get("WriteCapacityUnits", 5)),
    }


def _bool(value: Any) -> bool:
    """CloudFormation accepts true/false as YAML booleans or as strings."""
    return value if isinstance(value, bool) else str(value).lower() == "true"
