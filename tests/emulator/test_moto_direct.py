"""devstack.moto_direct: DynamoDB's data-plane calls, EventBridge's PutEvents and Step Functions'
execution calls answered from moto's handlers without the HTTP round trip give the same answers and the
same errors as the full botocore → moto path."""

import importlib
import json
import queue
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack import moto_direct
from devstack.template import MOTO_ACCOUNT_ID, REGION
from tests.integration.helpers import scratch_table

NESTED = {
    "M": {
        "list": {"L": [{"S": "a"}, {"N": "1.50"}, {"B": b"\x00\xff"}, {"NULL": True}, {"BOOL": False}]},
        "deep": {"M": {"ss": {"SS": ["x", "y"]}, "empty": {"M": {}}}},
    }
}


def _full_path_client(service: str = "dynamodb") -> Any:
    """A client whose calls take botocore's whole path to moto (the handler removed from its events)."""
    client = boto3.client(service, region_name=REGION)
    client.meta.events.unregister(moto_direct.SERVICES[service].event, moto_direct.answer)
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


def test_a_passthrough_url_takes_the_full_path(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.awsrequest import AWSResponse
    from moto.core import config
    from moto.core.botocore_stubber import MockRawResponse

    monkeypatch.setitem(config.default_user_config["core"]["passthrough"], "urls", [r".*dynamodb.*"])
    client = boto3.client("dynamodb", region_name=REGION)
    sent: list[str] = []

    def network(request: Any, **_: Any) -> AWSResponse:  # stands in for AWS: the call is not moto's
        sent.append(request.url)
        return AWSResponse(request.url, 200, {}, MockRawResponse(b"{}"))  # type: ignore[arg-type]

    client.meta.events.register("before-send.dynamodb.GetItem", network)
    before = moto_direct.stats["direct"]
    client.get_item(TableName="anything", Key={"pk": {"S": "a"}})
    assert len(sent) == 1 and moto_direct.stats["direct"] == before


def test_control_plane_calls_take_the_full_path(stack: Any) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    sent: list[str] = []
    client.meta.events.register("before-send.dynamodb.*", lambda request, **_: sent.append(request.url))
    before = moto_direct.stats["direct"]
    client.list_tables()
    assert len(sent) == 1 and moto_direct.stats["direct"] == before


@pytest.mark.parametrize("service", sorted(moto_direct.SERVICES))
def test_install_refuses_a_moto_whose_dispatch_changed(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    urls = importlib.import_module(moto_direct.SERVICES[service].urls)
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


# ------------------------------------------------------------------------------- EventBridge, Step Functions


def _comparable(value: Any, names: dict[str, str]) -> Any:
    """`value` with `names` renamed and what differs per call by nature (dates, event ids) masked."""
    if isinstance(value, datetime):
        return "<date>"
    if isinstance(value, dict):
        return {
            k: "<id>" if k == "EventId" and isinstance(v, str) else _comparable(v, names)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_comparable(v, names) for v in value)
    return _renamed(value, names)


def _events_script(client: Any, bus: str) -> list[Any]:
    def put(*entries: dict[str, Any]) -> Any:
        return _outcome(lambda: client.put_events(Entries=list(entries)))

    entry = {"Source": "direct.test", "DetailType": "probe", "Detail": json.dumps({"a": [1, "x"]})}
    return [
        put({**entry, "EventBusName": bus}),
        put({**entry, "EventBusName": bus}, {**entry, "EventBusName": bus, "Detail": '{"b": null}'}),
        put({**entry, "EventBusName": f"{bus}-missing"}),  # an unknown bus
        put({**entry, "EventBusName": bus, "Detail": "not json"}),  # a malformed detail
        put({"Source": "direct.test", "EventBusName": bus}),  # no detail type nor detail
        put(*[{**entry, "EventBusName": bus}] * 11),  # over PutEvents' limit of 10
    ]


def test_put_events_answers_and_errors_are_the_full_paths(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moto_direct, "VERIFY", True)  # each request also built by moto: compared
    events = boto3.client("events", region_name=REGION)
    bus = f"direct-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    try:
        before = moto_direct.stats["direct.events"]
        answered_directly = _events_script(boto3.client("events", region_name=REGION), bus)
        directly = moto_direct.stats["direct.events"]
        answered_in_full = _events_script(_full_path_client("events"), bus)
    finally:
        events.delete_event_bus(Name=bus)
    assert directly - before == len(answered_directly)
    assert moto_direct.stats["direct.events"] == directly
    assert _comparable(answered_directly, {}) == _comparable(answered_in_full, {})
    # the script does exercise the errors: the call's and its entries'
    errors = [outcome[3]["Error"]["Code"] for outcome in answered_directly if outcome[0] == "error"]
    assert errors == ["ResourceNotFoundException", "ValidationException"]
    entry_errors = [
        entry.get("ErrorCode") for outcome in answered_directly[3:5] for entry in outcome[3]["Entries"]
    ]
    assert entry_errors == ["MalformedDetail", "InvalidArgument"]


WAITING_ASL = {
    "StartAt": "Wait",
    "States": {
        "Wait": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "<function>", "Payload": {"token.$": "$$.Task.Token"}},
            "End": True,
        }
    },
}


@pytest.fixture
def waiting_machine(stack: Any) -> Iterator[tuple[str, dict[str, queue.Queue[str]]]]:
    """A state machine whose executions wait for a task token; the tokens, by execution input's name."""
    from devstack.executions import register_functions, unregister_functions
    from devstack.lambdas import LocalFunction

    tokens: dict[str, queue.Queue[str]] = {}

    def handler(event: dict[str, Any], context: Any) -> None:
        tokens.setdefault(event["name"], queue.Queue()).put(event["token"])

    name = f"direct-{uuid.uuid4().hex[:8]}"
    function = LocalFunction(
        logical_id="DirectProbe", name=name, handler=handler, memory_mb=128, timeout_s=30
    )
    asl = json.loads(json.dumps(WAITING_ASL).replace("<function>", function.arn))
    asl["States"]["Wait"]["Parameters"]["Payload"]["name.$"] = "$.name"
    register_functions([function])
    client = boto3.client("stepfunctions", region_name=REGION)
    arn = client.create_state_machine(
        name=name, definition=json.dumps(asl), roleArn=f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/direct"
    )["stateMachineArn"]
    try:
        yield arn, tokens
    finally:
        for execution in client.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
            client.stop_execution(executionArn=execution["executionArn"])
        client.delete_state_machine(stateMachineArn=arn)
        unregister_functions([function])


def _sfn_script(
    client: Any, machine: str, name: str, tokens: dict[str, queue.Queue[str]]
) -> tuple[list[Any], list[str]]:
    """The outcomes, and the task tokens the executions were given (they are in their histories)."""
    execution = machine.replace(":stateMachine:", ":execution:") + f":{name}"
    other = f"{name}-stopped"
    given: list[str] = []

    def token(of: str) -> str:
        given.append(tokens.setdefault(of, queue.Queue()).get(timeout=20))
        return given[-1]

    def until(arn: str, status: str) -> None:
        deadline = time.monotonic() + 20
        while client.describe_execution(executionArn=arn)["status"] != status and time.monotonic() < deadline:
            time.sleep(0.01)

    outcomes = [
        _outcome(
            lambda: client.start_execution(
                stateMachineArn=machine, name=name, input=json.dumps({"name": name})
            )
        )
    ]
    first = token(name)
    outcomes += [
        _outcome(lambda: client.describe_execution(executionArn=execution)),
        # the same name again: ExecutionAlreadyExists (another input) or the same execution (the same input)
        _outcome(lambda: client.start_execution(stateMachineArn=machine, name=name, input="{}")),
        _outcome(lambda: client.start_execution(stateMachineArn=f"{machine}-missing", name=name)),
        _outcome(lambda: client.start_execution(stateMachineArn="not-an-arn", name=name)),
        _outcome(lambda: client.describe_execution(executionArn=f"{execution}-missing")),
        _outcome(lambda: client.send_task_heartbeat(taskToken=first)),
        _outcome(lambda: client.send_task_success(taskToken=first, output=json.dumps({"done": 1}))),
    ]
    until(execution, "SUCCEEDED")
    outcomes += [
        _outcome(lambda: client.describe_execution(executionArn=execution)),
        _outcome(lambda: client.send_task_success(taskToken=first, output="{}")),  # used already
        _outcome(lambda: client.send_task_failure(taskToken="not-a-token", error="E")),
        _outcome(lambda: client.get_execution_history(executionArn=execution)),
        _outcome(
            lambda: client.start_execution(
                stateMachineArn=machine, name=other, input=json.dumps({"name": other})
            )
        ),
    ]
    token(other)
    stopped = f"{execution}-stopped"
    outcomes += [
        _outcome(lambda: client.stop_execution(executionArn=stopped, error="Stopped", cause="test")),
        _outcome(lambda: client.stop_execution(executionArn=f"{execution}-missing")),
    ]
    until(stopped, "ABORTED")
    outcomes.append(_outcome(lambda: client.describe_execution(executionArn=stopped)))
    listed = _outcome(lambda: client.list_executions(stateMachineArn=machine))
    listed[3]["executions"].sort(key=lambda execution: execution["name"])
    outcomes.append(listed)
    return outcomes, given


def test_step_functions_answers_and_errors_are_the_full_paths(
    waiting_machine: tuple[str, dict[str, queue.Queue[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moto_direct, "VERIFY", True)  # each request also built by moto: compared
    machine, tokens = waiting_machine
    direct_name, full_name = (f"x{uuid.uuid4().hex[:12]}" for _ in range(2))
    before = moto_direct.stats["direct.stepfunctions"]
    answered_directly, given = _sfn_script(
        boto3.client("stepfunctions", region_name=REGION), machine, direct_name, tokens
    )
    directly = moto_direct.stats["direct.stepfunctions"]
    full = _full_path_client("stepfunctions")
    answered_in_full, given_in_full = _sfn_script(full, machine, full_name, tokens)
    assert directly - before >= len(answered_directly)  # and the polls for a status
    assert moto_direct.stats["direct.stepfunctions"] == directly
    # The two scripts' executions differ only in name (and, in the listing, in which ones are listed)
    answered_directly[-1][3]["executions"] = [
        e for e in answered_directly[-1][3]["executions"] if e["name"].startswith(direct_name)
    ]
    answered_in_full[-1][3]["executions"] = [
        e for e in answered_in_full[-1][3]["executions"] if e["name"].startswith(full_name)
    ]
    names = {direct_name: "<name>", full_name: "<name>"} | {
        token: "<token>" for token in given + given_in_full
    }
    assert _comparable(answered_directly, names) == _comparable(answered_in_full, names)
    # the script does exercise the answers and errors it means to
    codes = [outcome[3]["Error"]["Code"] for outcome in answered_directly if outcome[0] == "error"]
    assert codes == [
        "ExecutionAlreadyExists",
        "StateMachineDoesNotExist",
        "InvalidArn",
        "ExecutionDoesNotExist",
        "InvalidToken",  # a heartbeat of a task without HeartbeatSeconds (moto)
        "InvalidToken",  # the token was used
        "InvalidToken",
        "ExecutionDoesNotExist",
    ]
    statuses = [outcome[3].get("status") for outcome in answered_directly if outcome[0] == "ok"]
    assert statuses == [None, "RUNNING", None, "SUCCEEDED", None, None, None, "ABORTED", None]


@pytest.mark.parametrize(
    ("service", "operation", "call"),
    [
        ("dynamodb", "GetItem", lambda client: client.get_item(TableName="any", Key={"pk": {"S": "a"}})),
        ("events", "PutEvents", lambda client: client.put_events(Entries=[{"Source": "s"}])),
        ("stepfunctions", "DescribeExecution", lambda client: client.describe_execution(executionArn="arn")),
    ],
)
def test_a_fault_injected_for_one_operation_answers_before_the_direct_path(
    stack: Any, service: str, operation: str, call: Callable[[Any], Any]
) -> None:
    """As tests/integration/test_faults.py injects them: at before-call.<endpoint prefix>.<operation>."""
    from botocore.awsrequest import AWSResponse

    client = boto3.client(service, region_name=REGION)
    injected = {"Error": {"Code": "ThrottlingException", "Message": "injected"}, "ResponseMetadata": {}}
    client.meta.events.register(
        f"before-call.{client.meta.service_model.endpoint_prefix}.{operation}",
        lambda **_: (AWSResponse("https://injected.invalid", 400, {}, None), injected),
    )
    before = moto_direct.stats["direct"]
    with pytest.raises(ClientError) as raised:
        call(client)
    assert raised.value.response["Error"]["Message"] == "injected"
    assert moto_direct.stats["direct"] == before


def test_one_response_parser_per_protocol_parses_as_a_new_one() -> None:
    """answer() reuses botocore's parser (botocore makes one per call): parsing leaves it unchanged."""
    import copy

    import botocore.session
    from botocore.parsers import create_parser

    model = botocore.session.get_session().get_service_model("dynamodb").operation_model("GetItem")
    parser = moto_direct._parser("json")
    assert moto_direct._parser("json") is parser
    state = copy.copy(vars(parser))
    response = {
        "status_code": 200,
        "headers": {"x-amzn-requestid": "r"},
        "body": b'{"Item": {"pk": {"S": "a"}, "b": {"B": "aGk="}}}',
    }
    first = parser.parse(dict(response), model.output_shape)
    assert parser.parse(dict(response), model.output_shape) == first
    assert first == create_parser("json").parse(dict(response), model.output_shape)
    assert first["Item"]["b"] == {"B": b"hi"}
    assert vars(parser) == state
