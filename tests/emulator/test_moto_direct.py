"""devstack.moto_direct: DynamoDB's data-plane calls answered from moto's DynamoHandler without the
HTTP round trip give the same answers and the same errors as the full botocore → moto path."""

from collections.abc import Callable
from contextlib import ExitStack
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack import moto_direct
from devstack.template import REGION
from tests.integration.helpers import scratch_table

NESTED = {
    "M": {
        "list": {"L": [{"S": "a"}, {"N": "1.50"}, {"B": b"\x00\xff"}, {"NULL": True}, {"BOOL": False}]},
        "deep": {"M": {"ss": {"SS": ["x", "y"]}, "empty": {"M": {}}}},
    }
}


def _full_path_client() -> Any:
    """A client whose calls take botocore's whole path to moto (the handler removed from its events)."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.meta.events.unregister(moto_direct.EVENT, moto_direct.answer)
    return client


def _outcome(call: Callable[[], dict[str, Any]]) -> Any:
    """The answer without what differs per request (request id, date, checksum), or the error."""
    try:
        response = call()
    except ClientError as error:
        answer = {key: value for key, value in error.response.items() if key != "ResponseMetadata"}
        return ("error", type(error).__name__, error.response["ResponseMetadata"]["HTTPStatusCode"], answer)
    metadata = response.pop("ResponseMetadata")
    return ("ok", metadata["HTTPStatusCode"], metadata["RetryAttempts"], response)


def _script(client: Any, table: str) -> list[Any]:
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    other = {"pk": {"S": "a"}, "sk": {"N": "2"}}
    item = {
        **key,
        "b": {"B": b"\x01\x02"},
        "bs": {"BS": [b"\x01", b"\x02"]},
        "ns": {"NS": ["1", "2.5", "-3"]},
        "nested": NESTED,
        "version": {"N": "1"},
    }
    return [
        _outcome(lambda: client.put_item(TableName=table, Item=item)),
        _outcome(lambda: client.put_item(TableName=table, Item={**other, "version": {"N": "7"}})),
        _outcome(lambda: client.get_item(TableName=table, Key=key)),
        _outcome(lambda: client.get_item(TableName=table, Key=key, ProjectionExpression="nested.deep, ns")),
        # a failed condition, with and without the item in the error
        _outcome(
            lambda: client.put_item(
                TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        ),
        _outcome(
            lambda: client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET version = version + :one",
                ConditionExpression="version = :wrong",
                ExpressionAttributeValues={":one": {"N": "1"}, ":wrong": {"N": "9"}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        ),
        _outcome(
            lambda: client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET version = version + :one, nested.deep.added = :new ADD ns :more",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":new": {"L": [{"S": "z"}]},
                    ":more": {"NS": ["4"]},
                },
                ReturnValues="ALL_NEW",
            )
        ),
        # validation errors: a bad expression, an empty key value, an unknown table
        _outcome(lambda: client.update_item(TableName=table, Key=key, UpdateExpression="SET = 1")),
        _outcome(lambda: client.get_item(TableName=table, Key={"pk": {"S": ""}, "sk": {"N": "1"}})),
        _outcome(lambda: client.get_item(TableName=f"{table}-missing", Key=key)),
        # a cancelled transaction: reasons per item, the failing one with its item
        _outcome(
            lambda: client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": table,
                            "Key": other,
                            "UpdateExpression": "SET version = :v",
                            "ExpressionAttributeValues": {":v": {"N": "8"}},
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": key,
                            "ConditionExpression": "version = :v",
                            "ExpressionAttributeValues": {":v": {"N": "100"}},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                ]
            )
        ),
        _outcome(
            lambda: client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}}}},
                    {"Delete": {"TableName": table, "Key": other}},
                ]
            )
        ),
        _outcome(
            lambda: client.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}])
        ),
        _outcome(
            lambda: client.batch_write_item(
                RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": "c"}, "sk": {"N": "3"}}}}]}
            )
        ),
        _outcome(lambda: client.batch_get_item(RequestItems={table: {"Keys": [key, other]}})),
        _outcome(
            lambda: client.query(
                TableName=table,
                KeyConditionExpression="pk = :pk AND sk > :zero",
                ExpressionAttributeValues={":pk": {"S": "a"}, ":zero": {"N": "0"}},
            )
        ),
        _outcome(lambda: client.query(TableName=table, KeyConditionExpression="nonsense")),
        _outcome(lambda: client.scan(TableName=table, Limit=2)),
        _outcome(lambda: client.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD")),
    ]


def test_direct_answers_and_errors_are_the_full_paths(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_direct, "VERIFY", True)  # each request also built by moto: compared
    direct = boto3.client("dynamodb", region_name=REGION)
    full = _full_path_client()
    before = moto_direct.stats["direct"]
    with ExitStack() as tables:
        first = tables.enter_context(scratch_table("direct"))
        second = tables.enter_context(scratch_table("direct"))
        answered_directly = _script(direct, first)
        directly = moto_direct.stats["direct"]
        answered_in_full = _script(full, second)
    assert directly - before == len(answered_directly)  # every call of the script was answered directly
    assert moto_direct.stats["verified"] > 0  # requests built from templates, checked against moto's
    assert moto_direct.stats["direct"] == directly  # and none of the full path's
    rename = {first: "<table>", second: "<table>"}
    assert _renamed(answered_directly, rename) == _renamed(answered_in_full, rename)
    kinds = [outcome[0] for outcome in answered_directly]
    assert kinds.count("error") == 7  # the script does exercise the error paths
    cancelled = answered_directly[10][3]
    assert cancelled["Error"]["Code"] == "TransactionCanceledException"
    reasons = [reason["Code"] for reason in cancelled["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"]


def _renamed(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in names.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {_renamed(k, names): _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_renamed(v, names) for v in value)
    return value


def test_resource_api_reads_typed_values_through_the_direct_path(stack: Any) -> None:
    with scratch_table("direct") as name:
        table = boto3.resource("dynamodb", region_name=REGION).Table(name)
        before = moto_direct.stats["direct"]
        table.put_item(Item={"pk": "r", "sk": 1, "n": Decimal("2.5"), "b": b"\x00", "s": {"a", "b"}})
        item = table.get_item(Key={"pk": "r", "sk": 1})["Item"]
        assert moto_direct.stats["direct"] == before + 2
    assert item["n"] == Decimal("2.5") and bytes(item["b"].value) == b"\x00" and item["s"] == {"a", "b"}


def test_control_plane_calls_take_the_full_path(stack: Any) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    sent: list[str] = []
    client.meta.events.register("before-send.dynamodb.*", lambda request, **_: sent.append(request.url))
    before = moto_direct.stats["direct"]
    client.list_tables()
    assert len(sent) == 1 and moto_direct.stats["direct"] == before


def test_install_refuses_a_moto_whose_dispatch_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb import urls

    monkeypatch.setattr(urls, "url_paths", {"{0}/": object()})
    with pytest.raises(RuntimeError, match="moto_direct"):
        moto_direct._check()


def test_a_handler_for_one_operation_answers_before_the_direct_path(stack: Any) -> None:
    from botocore.awsrequest import AWSResponse

    client = boto3.client("dynamodb", region_name=REGION)
    injected = {"Error": {"Code": "ThrottlingException", "Message": "injected"}, "ResponseMetadata": {}}
    client.meta.events.register(
        "before-call.dynamodb.GetItem",
        lambda **_: (AWSResponse("https://injected.invalid", 400, {}, None), injected),
    )
    with pytest.raises(ClientError) as raised:
        client.get_item(TableName="any", Key={"pk": {"S": "a"}})
    assert raised.value.response["Error"]["Message"] == "injected"
