"""devstack.item_memory: the items of a run share the values they repeat. These fail if the sharing is
gone (an item's memory, measured with tracemalloc, and the shared objects themselves) or if it changes
what a request answers (numbers as written, updates of one item seen in no other)."""

import gc
import tracemalloc
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.dynamodb.models import dynamodb_backends

from devstack import item_memory
from devstack.template import MOTO_ACCOUNT_ID, REGION
from tests.integration.helpers import scratch_table as scratch

# Python heap an event item like the run log's keeps (tracemalloc, the blocks allocated under moto's
# DynamoDB): ~1,470 bytes without devstack.item_memory, ~690 with it.
EVENT_ITEM_BYTES = 1_000


@pytest.fixture
def table(stack: Any) -> Iterator[str]:
    with scratch("Shared") as name:
        yield name


def _moto_table(name: str) -> Any:
    return dynamodb_backends[MOTO_ACCOUNT_ID][REGION].tables[name]


def _item(name: str, pk: str, sk: int) -> Any:
    return _moto_table(name).get_item(*_keys(pk, sk))


def _keys(pk: str, sk: int) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType({"S": pk}), DynamoType({"N": str(sk)})


def _event(run: int, seq: int) -> dict[str, Any]:
    """An item shaped like an event of a run's log (run id, seq, type, data, ids, timestamps)."""
    return {
        "pk": {"S": f"run_01M8NA9TKB31F4D3NYGW3B{run:04d}"},
        "sk": {"N": str(seq)},
        "type": {"S": "step.completed" if seq % 2 else "step.started"},
        "data": {"M": {"status": {"S": "completed"}, "index": {"N": str(seq // 2)}}},
        "created_at": {"S": f"2026-11-30T04:09:{41 + seq % 3}.454Z"},
        "org_id": {"S": "org_01M8NA9JK2S7B4QWDTHF29MXNJ"},
        "agent_id": {"S": "agt_01M8NA9M1QS1S97PVZ89AZVKCX"},
        "expires_at": {"N": "1798607381"},
    }


def test_an_event_item_keeps_its_own_values_only(table: str) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.put_item(TableName=table, Item=_event(9_999, 0))  # warm: clients, caches, the table's dicts
    runs, events = 10, 22
    gc.collect()
    tracemalloc.start(30)
    try:
        before = tracemalloc.take_snapshot()
        for run in range(runs):
            for seq in range(events):
                dynamodb.put_item(TableName=table, Item=_event(run, seq))
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    by_moto = [tracemalloc.Filter(True, "*/moto/dynamodb/*", all_frames=True)]
    kept = sum(
        stat.size_diff
        for stat in after.filter_traces(by_moto).compare_to(before.filter_traces(by_moto), "filename")
    )
    assert kept / (runs * events) < EVENT_ITEM_BYTES, kept / (runs * events)


def test_items_share_equal_values_and_keep_one_copy_of_their_keys(table: str) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for seq in range(2):
        dynamodb.put_item(TableName=table, Item=_event(1, seq))
    first, second = (
        _item(table, "run_01M8NA9TKB31F4D3NYGW3B0001", 0),
        _item(table, "run_01M8NA9TKB31F4D3NYGW3B0001", 1),
    )

    for name in ("pk", "org_id", "agent_id", "expires_at"):
        assert first.attrs[name] is second.attrs[name], name
    assert first.attrs["data"].value["status"] is second.attrs["data"].value["status"]
    assert first.attrs["data"] is not second.attrs["data"]  # maps, lists and sets stay each item's own
    assert first.hash_key is first.attrs["pk"]
    assert first.range_key is first.attrs["sk"]


def test_numbers_answer_as_written(table: str) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    written = ["5", "5.0", "05", "5"]
    for sk, number in enumerate(written):
        dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": "n"}, "sk": {"N": str(sk)}, "n": {"N": number}, "k": {"N": f"{sk}.0"}},
        )
    for sk, number in enumerate(written):
        item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "n"}, "sk": {"N": str(sk)}})["Item"]
        assert item["n"] == {"N": number}
        assert item["k"] == {"N": f"{sk}.0"}  # equal to the range key, not written as it


def test_an_update_changes_its_item_only(table: str) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    same = {
        "a": {"S": "x"},
        "n": {"N": "1"},
        "m": {"M": {"k": {"S": "x"}}},
        "l": {"L": [{"S": "x"}]},
        "ss": {"SS": ["x"]},
    }
    for sk in range(2):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "u"}, "sk": {"N": str(sk)}, **same})

    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "u"}, "sk": {"N": "0"}},
        UpdateExpression="SET a = :y, m.k = :y, l = list_append(l, :l), b = :x ADD n :one, ss :s",
        ExpressionAttributeValues={
            ":y": {"S": "y"},
            ":x": {"S": "x"},
            ":l": {"L": [{"S": "y"}]},
            ":one": {"N": "1"},
            ":s": {"SS": ["y"]},
        },
    )

    changed = dynamodb.get_item(TableName=table, Key={"pk": {"S": "u"}, "sk": {"N": "0"}})["Item"]
    untouched = dynamodb.get_item(TableName=table, Key={"pk": {"S": "u"}, "sk": {"N": "1"}})["Item"]
    assert untouched == {"pk": {"S": "u"}, "sk": {"N": "1"}, **same}
    assert changed["a"] == {"S": "y"} and changed["m"] == {"M": {"k": {"S": "y"}}}
    assert changed["l"] == {"L": [{"S": "x"}, {"S": "y"}]} and changed["n"] == {"N": "2"}
    assert sorted(changed["ss"]["SS"]) == ["x", "y"]
    # what the update wrote is shared too
    assert _item(table, "u", 0).attrs["b"] is _item(table, "u", 1).attrs["a"]


def test_the_tables_of_shared_values_are_bounded(monkeypatch: pytest.MonkeyPatch, table: str) -> None:
    monkeypatch.setattr(item_memory, "VALUES", 8)
    monkeypatch.setattr(item_memory, "NAMES", 4)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for sk in range(20):
        dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": f"b{sk}"}, "sk": {"N": str(sk)}, "m": {"M": {f"name{sk}": {"S": f"v{sk}"}}}},
        )
    assert len(item_memory._values) <= 8
    assert len(item_memory._names) <= 4
