"""devstack.retention: what the local stack keeps for finished runs is DynamoDB's items, not copies.

These fail if a moto upgrade breaks a patch's assumptions: a cancelled TransactWriteItems must restore
its items in place (same Table object, no copy made), moto must not record its instances, a stream's
records must be dropped once read, and finished executions must be bounded.
"""

import gc
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.common_models import BaseModel
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import StreamRecord, Table
from moto.dynamodbstreams.models import dynamodbstreams_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from devstack import retention
from devstack.template import MOTO_ACCOUNT_ID, REGION
from tests.integration.helpers import ECHO, agent_with, execution_done, run_to_end, start
from tests.integration.helpers import scratch_table as scratch

DRAIN_DEADLINE_S = 20


def _dynamodb_backend() -> Any:
    return dynamodb_backends[MOTO_ACCOUNT_ID][REGION]


def _is_table(value: Any, name: str) -> bool:
    return isinstance(value, Table) and value.name == name


def _live(kind: type) -> int:
    gc.collect()
    return sum(1 for value in gc.get_objects() if isinstance(value, kind))


@pytest.fixture
def scratch_table(stack: Any) -> Iterator[str]:
    """A table with a stream and a range key, deleted afterwards."""
    stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    with scratch("Scratch", StreamSpecification=stream) as name:
        yield name


def test_a_cancelled_transaction_restores_its_items_in_place_without_copying_the_table(
    scratch_table: str,
) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for sk in range(3):
        dynamodb.put_item(
            TableName=scratch_table, Item={"pk": {"S": "a"}, "sk": {"N": str(sk)}, "v": {"N": "0"}}
        )
    table = _dynamodb_backend().tables[scratch_table]
    records = len(table.stream_shard.items)
    tables_before = _live(Table)

    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[
                {  # changes an existing item (in place, in moto)
                    "Update": {
                        "TableName": scratch_table,
                        "Key": {"pk": {"S": "a"}, "sk": {"N": "0"}},
                        "UpdateExpression": "SET v = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {
                    "Put": {"TableName": scratch_table, "Item": {"pk": {"S": "a"}, "sk": {"N": "9"}}}
                },  # a new one
                {"Delete": {"TableName": scratch_table, "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}}},
                {  # fails: the whole transaction is cancelled
                    "ConditionCheck": {
                        "TableName": scratch_table,
                        "Key": {"pk": {"S": "a"}, "sk": {"N": "2"}},
                        "ConditionExpression": "v = :seven",
                        "ExpressionAttributeValues": {":seven": {"N": "7"}},
                    }
                },
            ]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"

    assert _dynamodb_backend().tables[scratch_table] is table  # not replaced by a copy
    assert _live(Table) == tables_before  # and no copy was made
    items = dynamodb.query(
        TableName=scratch_table,
        KeyConditionExpression="pk = :a",
        ExpressionAttributeValues={":a": {"S": "a"}},
    )["Items"]
    assert [(item["sk"]["N"], item["v"]["N"]) for item in items] == [("0", "0"), ("1", "0"), ("2", "0")]
    assert len(table.stream_shard.items) == records  # the cancelled writes left no stream records

    dynamodb.transact_write_items(  # a successful one still writes, and streams, everything
        TransactItems=[
            {"Put": {"TableName": scratch_table, "Item": {"pk": {"S": "a"}, "sk": {"N": "9"}}}},
            {"Delete": {"TableName": scratch_table, "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}}},
        ]
    )
    assert len(table.stream_shard.items) == records + 2
    assert _dynamodb_backend().tables[scratch_table] is table


def test_moto_records_no_instances(scratch_table: str) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=scratch_table, Item={"pk": {"S": "r"}, "sk": {"N": "1"}}
    )  # a new Item and StreamRecord; the fixture made a Table
    for model in (Table, StreamRecord, BaseModel):
        assert getattr(model, "instances_tracked", []) == [], model


def test_a_read_stream_record_is_dropped_and_sequence_numbers_go_on(scratch_table: str) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = dynamodb.describe_table(TableName=scratch_table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    for sk in range(4):
        dynamodb.put_item(TableName=scratch_table, Item={"pk": {"S": "t"}, "sk": {"N": str(sk)}})
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    first = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=2)["Records"]
    numbers = [int(record["dynamodb"]["SequenceNumber"]) for record in first]

    assert retention.trim_stream(arn, str(numbers[-1])) == 2

    rest = streams.get_records(
        ShardIterator=streams.get_shard_iterator(
            StreamArn=arn,
            ShardId=shard,
            ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            SequenceNumber=str(numbers[-1]),
        )["ShardIterator"]
    )["Records"]
    assert [int(record["dynamodb"]["SequenceNumber"]) for record in rest] == [
        numbers[-1] + 1,
        numbers[-1] + 2,
    ]
    horizon = streams.get_records(
        ShardIterator=streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    )["Records"]
    assert [record["dynamodb"]["Keys"]["sk"]["N"] for record in horizon] == ["2", "3"]
    dynamodb.put_item(TableName=scratch_table, Item={"pk": {"S": "t"}, "sk": {"N": "4"}})
    latest = _dynamodb_backend().tables[scratch_table].stream_shard.items[-1].record
    assert int(latest["dynamodb"]["SequenceNumber"]) == numbers[-1] + 3


def test_read_stream_answers_copies_of_moto_records(scratch_table: str) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    arn = dynamodb.describe_table(TableName=scratch_table)["Table"]["LatestStreamArn"]
    item = {"pk": {"S": "c"}, "sk": {"N": "1"}, "m": {"M": {"l": {"L": [{"S": "x"}, {"N": "2"}]}}}}
    dynamodb.put_item(TableName=scratch_table, Item=item)
    dynamodb.put_item(TableName=scratch_table, Item={**item, "n": {"N": "3"}})
    shard = _dynamodb_backend().tables[scratch_table].stream_shard
    read = retention.read_stream(arn, None, None)
    originals = [record.record for record in shard.items]
    assert read == originals

    def containers(value: Any) -> Iterator[int]:
        if isinstance(value, (dict, list)):
            yield id(value)
            for entry in value.values() if isinstance(value, dict) else value:
                yield from containers(entry)

    assert not set(containers(read)) & set(containers(originals))  # changing a copy changes no record
    shared: dict[str, Any] = {"x": [1]}
    copied = retention._copied({"a": shared, "b": shared}, {})
    assert copied["a"] is copied["b"] and copied["a"] is not shared  # as copy.deepcopy


def test_shard_iterators_are_bounded(monkeypatch: pytest.MonkeyPatch, scratch_table: str) -> None:
    monkeypatch.setattr(retention, "SHARD_ITERATORS", 5)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = dynamodb.describe_table(TableName=scratch_table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    for _ in range(20):
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")
    assert len(dynamodbstreams_backends[MOTO_ACCOUNT_ID][REGION].shard_iterators) <= 5


def _retained(state_machine_arn: str, events_table: str) -> dict[str, int]:
    """What the emulator holds besides items: table objects, stream records, shard iterators,
    finished executions."""
    state_machine = stepfunctions_parser_backends[MOTO_ACCOUNT_ID][REGION].describe_state_machine(
        state_machine_arn
    )
    gc.collect()  # count what is kept, not a copy in a reference cycle the collector has not reached yet
    return {
        "tables": _live(Table),
        "copies of the events table": sum(1 for value in gc.get_objects() if _is_table(value, events_table)),
        "stream records": len(_dynamodb_backend().tables[events_table].stream_shard.items),
        "shard iterators": len(dynamodbstreams_backends[MOTO_ACCOUNT_ID][REGION].shard_iterators),
        "finished executions": sum(
            1 for execution in state_machine.executions if retention._finished(execution)
        ),
    }


def _run_and_drain(
    api: Any, agent: str, count: int, state_machine_arn: str, events_table: str
) -> dict[str, int]:
    for _ in range(count):
        run = start(api, agent)
        assert run_to_end(api, run["id"])["status"] == "completed"
        execution_done(run["id"])
    deadline = time.monotonic() + DRAIN_DEADLINE_S
    while (retained := _retained(state_machine_arn, events_table))["stream records"]:
        assert time.monotonic() < deadline, f"the stream poller did not read every record: {retained}"
        time.sleep(0.05)
    return retained


def test_retained_state_does_not_grow_with_the_number_of_runs(
    stack: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "FINISHED_EXECUTIONS", 2)
    state_machine_arn = stack.state_machines["RunStateMachine"]
    events_table = next(
        name for name in stack.tables if _dynamodb_backend().tables[name].stream_shard is not None
    )
    agent = agent_with(api, [{"tool_calls": [{"name": "echo", "arguments": {}}]}, {"text": "ok"}], [ECHO])

    after_two = _run_and_drain(api, agent, 2, state_machine_arn, events_table)
    after_eight = _run_and_drain(api, agent, 6, state_machine_arn, events_table)

    assert after_eight["tables"] == after_two["tables"]
    assert after_eight["copies of the events table"] == after_two["copies of the events table"] == 1
    assert after_eight["stream records"] == after_two["stream records"] == 0
    assert after_eight["finished executions"] <= 2  # the cap (an execution is dropped when one starts)
    assert after_eight["shard iterators"] <= after_two["shard iterators"] + 2  # at most one poll in flight
