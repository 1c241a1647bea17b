"""devstack.dynamodb_responses: the local stack's DynamoDB responses are byte for byte moto's.

With VERIFY on, every response the fast path serializes is also serialized by moto and compared (it
raises on a difference, which the calling handler or client sees as an error). Fails if a moto upgrade
changes what the patch relies on (install() raises at start), if the fast path stops being used, or if
any response differs: whole runs through the API, and a catalogue of attribute types, ReturnValues,
consumed capacity, batches, transactions and their errors.
"""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack import dynamodb_responses
from devstack.template import REGION
from tests.integration.helpers import ECHO, agent_with, run_to_end, scratch_table, start


@pytest.fixture
def verifying(stack: Any) -> Iterator[None]:
    dynamodb_responses.VERIFY = True
    try:
        yield
    finally:
        dynamodb_responses.VERIFY = False


@pytest.fixture
def table(stack: Any) -> Iterator[str]:
    with scratch_table("Responses") as name:
        yield name


EVERY_TYPE = {
    "pk": {"S": "a"},
    "sk": {"N": "1"},
    "s": {"S": "text é ✓"},
    "empty": {"S": ""},
    "n": {"N": "-12.50"},
    "b": {"B": b"\x00\x01bytes"},
    "ss": {"SS": ["x", "y"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"a", b"\xff"]},
    "bool": {"BOOL": False},
    "null": {"NULL": True},
    "l": {"L": [{"S": "x"}, {"N": "3"}, {"M": {"k": {"BOOL": True}}}, {"L": []}]},
    "m": {"M": {"nested": {"M": {"deep": {"L": [{"NULL": True}]}}}, "k": {"S": "v"}}},
}


def test_runs_through_the_api_get_moto_s_responses(api: Any, verifying: None) -> None:
    before = dict(dynamodb_responses.stats)
    agent = agent_with(
        api, [{"tool_calls": [{"name": "echo", "arguments": {"i": 1}}]}, {"text": "done"}], [ECHO]
    )
    for _ in range(2):
        run = start(api, agent)
        assert run_to_end(api, run["id"])["status"] == "completed"
    listed = api.request("GET", "/v1/runs", query={"limit": 5})
    assert listed.status == 200, listed.text
    events = api.request("GET", f"/v1/runs/{run['id']}/events")
    assert events.status == 200, events.text
    assert dynamodb_responses.stats["verified"] - before["verified"] >= 20  # the fast path is in use


def test_every_attribute_type_and_return_value(table: str, verifying: None) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    before = dict(dynamodb_responses.stats)
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    capacity: dict[str, Any] = {"ReturnConsumedCapacity": "TOTAL"}
    dynamodb.put_item(TableName=table, Item=EVERY_TYPE, **capacity)
    assert dynamodb.put_item(TableName=table, Item=EVERY_TYPE, ReturnValues="ALL_OLD")["Attributes"] == {
        **EVERY_TYPE,
        "empty": {"S": ""},
    }
    got = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True, **capacity)
    assert got["Item"]["b"] == {"B": b"\x00\x01bytes"}
    assert got["Item"]["bs"] == {"BS": [b"a", b"\xff"]}
    dynamodb.get_item(TableName=table, Key=key, ProjectionExpression="m.nested, l[2], b")
    dynamodb.get_item(TableName=table, Key={"pk": {"S": "none"}, "sk": {"N": "0"}})
    for values in ("ALL_NEW", "UPDATED_OLD", "UPDATED_NEW", "ALL_OLD", "NONE"):
        dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET s = :s ADD n :one REMOVE #null",
            ExpressionAttributeNames={"#null": "null"},
            ExpressionAttributeValues={":s": {"S": values}, ":one": {"N": "1"}},
            ReturnValues=values,
            **capacity,
        )
    for sk in range(2, 30):
        dynamodb.put_item(TableName=table, Item={**EVERY_TYPE, "sk": {"N": str(sk)}})
    dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "a"}},
        Limit=7,
        **capacity,
    )
    dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :p AND sk > :k",
        FilterExpression="bool = :f",
        ExpressionAttributeValues={":p": {"S": "a"}, ":k": {"N": "4"}, ":f": {"BOOL": False}},
        Select="COUNT",
    )
    dynamodb.scan(TableName=table, Limit=3)
    dynamodb.batch_get_item(
        RequestItems={table: {"Keys": [key, {"pk": {"S": "a"}, "sk": {"N": "99"}}]}}, **capacity
    )
    dynamodb.batch_write_item(
        RequestItems={table: [{"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"N": "2"}}}}]},
        ReturnItemCollectionMetrics="SIZE",
        **capacity,
    )
    dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}])
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {**EVERY_TYPE, "sk": {"N": "40"}}}},
            {"Delete": {"TableName": table, "Key": {"pk": {"S": "a"}, "sk": {"N": "3"}}}},
        ],
        **capacity,
    )
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": key,
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    with pytest.raises(ClientError):
        dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET s = :s",
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":s": {"S": "x"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    dynamodb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD", **capacity)
    dynamodb.describe_table(TableName=table)
    assert dynamodb_responses.stats["verified"] - before["verified"] >= 40
