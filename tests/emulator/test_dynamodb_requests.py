"""devstack.dynamodb_requests: the local stack parses DynamoDB requests exactly as moto's JSONParser.

Fails if the fast parse is gone (not in use after a run), if it parses any request of a catalogue
differently from moto (values, types, key order), if a malformed request raises anything other than
what moto raises, or if a moto upgrade changes a handler the walkers mirror (install() raises).
"""

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from devstack import dynamodb_requests
from tests.integration.helpers import ECHO, agent_with, run_to_end, start

ATTRIBUTES = {
    "pk": {"S": "a"},
    "n": {"N": "-12.50"},
    "b": {"B": base64.b64encode(b"\x00\x01bytes").decode()},
    "ss": {"SS": ["x", "y"]},
    "bs": {"BS": [base64.b64encode(b"\xff").decode()]},
    "bool": {"BOOL": False},
    "null": {"NULL": True},
    "l": {"L": [{"S": "x"}, {"M": {"k": {"BOOL": True}}}, {"L": []}]},
    "m": {"M": {"nested": {"M": {"deep": {"L": [{"NULL": True}]}}}, "k": {"S": "v"}}},
    "two": {"S": "x", "N": "1"},  # two members in one AttributeValue: the member-order walk
    "unknown": {"X": "y"},
    "none": {"S": None},
}

CATALOGUE: list[tuple[str, Any]] = [
    ("PutItem", {"TableName": "t", "Item": ATTRIBUTES, "ReturnValues": "ALL_OLD", "Extra": 1}),
    (
        "UpdateItem",
        {
            "TableName": "t",
            "Key": {"pk": {"S": "a"}},
            "UpdateExpression": "SET #a = :v",
            "ExpressionAttributeNames": {"#a": "a"},
            "ExpressionAttributeValues": {":v": {"N": "1"}},
            "ConditionExpression": "attribute_exists(pk)",
        },
    ),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": ATTRIBUTES}},
                {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "REMOVE x"}},
                {"ConditionCheck": {"TableName": "t", "Key": {}, "ConditionExpression": "size(a) > :n"}},
            ],
            "ClientRequestToken": "token",
        },
    ),
    (
        "Query",
        {"TableName": "t", "Limit": 7, "ExclusiveStartKey": {"pk": {"S": "a"}}, "ConsistentRead": True},
    ),
    ("Query", {"TableName": "t", "Limit": 1.5}),  # int() of a float, as moto does
    ("Query", {"TableName": "t", "Limit": "12"}),
    ("Query", {"TableName": "t", "Limit": None, "KeyConditions": {"pk": {"AttributeValueList": []}}}),
    ("BatchGetItem", {"RequestItems": {"t": {"Keys": [{"pk": {"S": "a"}}], "AttributesToGet": ["a"]}}}),
    (
        "CreateTable",
        {
            "TableName": "t",
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": "6"},
            "Tags": [{"Key": "k", "Value": "v"}],
        },
    ),
    ("RestoreTableToPointInTime", {"SourceTableName": "t", "RestoreDateTime": "2026-01-02T03:04:05Z"}),
    ("ExportTableToPointInTime", {"TableArn": "arn", "ExportTime": 1767323045, "S3Bucket": "b"}),
    ("GetItem", {}),
    ("GetItem", []),  # the body is not an object
    ("GetItem", "a string"),
    ("PutItem", {"TableName": "t", "Item": "not a map"}),
    ("PutItem", {"TableName": "t", "Item": {"pk": "not an attribute value"}}),
    ("PutItem", {"TableName": "t", "Item": {"pk": ["a", "list"]}}),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"B": "not base64!"}}}),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"SS": "abc"}}}),  # a string iterated as a list
    ("PutItem", {"TableName": "t", "Item": {"pk": {"L": {"k": {"S": "v"}}}}}),  # a map iterated as a list
    ("Query", {"TableName": "t", "Limit": "seven"}),
    ("Query", {"TableName": "t", "Limit": [1]}),
]

RAW_BODIES = [b"", b"not json", b"\xff\xfe", b'{"TableName": "t", "Key": {"pk": {"S": "\xc3\xa9"}}}']


def _outcome(parse: Any, parser: Any, body: Any) -> Any:
    try:
        return ("parsed", parse(parser, {"body": body}))
    except Exception as error:  # what moto raises is what a malformed request gets
        return ("raised", type(error), str(error))


def _parser(operation: str) -> Any:
    from moto.core.parse import JSONParser
    from moto.core.utils import get_service_model

    return JSONParser(get_service_model("dynamodb").operation_model(operation))


@pytest.fixture
def verifying(stack: Any) -> Iterator[None]:
    dynamodb_requests.VERIFY = True
    try:
        yield
    finally:
        dynamodb_requests.VERIFY = False


def test_runs_through_the_api_are_parsed_as_moto_parses_them(api: Any, verifying: None) -> None:
    before = dict(dynamodb_requests.stats)
    agent = agent_with(
        api, [{"tool_calls": [{"name": "echo", "arguments": {"i": 1}}]}, {"text": "done"}], [ECHO]
    )
    run = start(api, agent)
    assert run_to_end(api, run["id"])["status"] == "completed"
    assert api.request("GET", f"/v1/runs/{run['id']}/events").status == 200
    assert dynamodb_requests.stats["verified"] - before["verified"] >= 20  # the fast parse is in use


@pytest.mark.parametrize(("operation", "body"), CATALOGUE)
def test_a_request_parses_or_fails_as_with_moto(stack: Any, operation: str, body: Any) -> None:
    from moto.core.parse import JSONParser, RequestParser

    assert JSONParser.parse is not RequestParser.parse  # installed
    encoded = json.dumps(body).encode()
    parser = _parser(operation)
    before = dynamodb_requests.stats["fast"]
    fast = _outcome(JSONParser.parse, parser, encoded)
    moto = _outcome(RequestParser.parse, _parser(operation), encoded)
    assert fast[0] == moto[0]
    if fast[0] == "parsed":
        assert dynamodb_requests.stats["fast"] == before + 1  # parsed by the walker, not moto's fallback
        assert dynamodb_requests._same(fast[1], moto[1]), (fast, moto)
    else:
        assert fast == moto


@pytest.mark.parametrize("body", RAW_BODIES)
def test_a_body_that_is_not_json_parses_as_with_moto(stack: Any, body: bytes) -> None:
    from moto.core.parse import JSONParser, RequestParser

    fast = _outcome(JSONParser.parse, _parser("GetItem"), body)
    moto = _outcome(RequestParser.parse, _parser("GetItem"), body)
    assert fast[0] == moto[0] == "parsed"
    assert dynamodb_requests._same(fast[1], moto[1])


def test_comparison_sees_types_and_key_order() -> None:
    same = dynamodb_requests._same
    assert same({"a": [1, {"b": b"x"}]}, {"a": [1, {"b": b"x"}]})
    assert not same({"a": 1}, {"a": 1.0})
    assert not same({"a": True}, {"a": 1})
    assert not same({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not same([1], [1, 2])


def test_install_refuses_a_changed_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.parse import JSONParser

    if "parse" in vars(JSONParser):
        monkeypatch.delattr(JSONParser, "parse")  # as before install(): only the changed handler differs
    monkeypatch.setattr(JSONParser, "_parse_list", lambda self, shape, node: node, raising=False)
    with pytest.raises(RuntimeError, match=r"revisit devstack\.dynamodb_requests"):
        dynamodb_requests.install.__wrapped__()  # type: ignore[attr-defined]
