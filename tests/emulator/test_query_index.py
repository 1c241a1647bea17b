"""devstack.query_index: a Query reads its partition's page, and answers exactly what moto's whole-table
Query answers.

Fails if a moto upgrade changes what the patch relies on (install() raises at start), if the patch
stops being used (windowed count), if a Query's window grows with the table, or if any answer (items,
order, Count, ScannedCount, LastEvaluatedKey) differs from unpatched moto's after puts, in-place
updates that move an item between index partitions, deletes, batch writes and rolled-back transactions.
"""

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack import query_index
from devstack.template import REGION
from tests.integration.helpers import scratch_table

PARTITIONS = ["p0", "p1", "p2"]
GROUPS = ["g0", "g1"]


@pytest.fixture
def table(stack: Any) -> Iterator[str]:
    """pk/sk table with a GSI (gpk, gsk) and a GSI with a hash key only (gpk)."""
    indexes = [
        {
            "IndexName": "by_group",
            "KeySchema": [
                {"AttributeName": "gpk", "KeyType": "HASH"},
                {"AttributeName": "gsk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": "group_only",
            "KeySchema": [{"AttributeName": "gpk", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        },
    ]
    with scratch_table("QueryIndex", [("gpk", "S"), ("gsk", "S")], GlobalSecondaryIndexes=indexes) as name:
        yield name


def _item(rng: random.Random) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": rng.choice(PARTITIONS)},
        "sk": {"N": str(rng.randrange(60))},
        "n": {"N": str(rng.randrange(5))},
    }
    if rng.random() < 0.85:  # some items are not in the indexes
        item["gpk"] = {"S": rng.choice(GROUPS)}
        item["gsk"] = {"S": f"{rng.choice('abc')}{rng.randrange(30):02d}"}
    return item


def _write(dynamodb: Any, name: str, rng: random.Random) -> None:
    roll = rng.random()
    if roll < 0.45:
        dynamodb.put_item(TableName=name, Item=_item(rng))
    elif roll < 0.7:  # in place: may move the item to another index partition, or out of the index
        key = {"pk": {"S": rng.choice(PARTITIONS)}, "sk": {"N": str(rng.randrange(60))}}
        if rng.random() < 0.2:
            dynamodb.update_item(TableName=name, Key=key, UpdateExpression="REMOVE gpk")
        else:
            dynamodb.update_item(
                TableName=name,
                Key=key,
                UpdateExpression="SET gpk = :g, gsk = :s ADD n :one",
                ExpressionAttributeValues={
                    ":g": {"S": rng.choice(GROUPS)},
                    ":s": {"S": f"{rng.choice('abc')}{rng.randrange(30):02d}"},
                    ":one": {"N": "1"},
                },
            )
    elif roll < 0.8:
        key = {"pk": {"S": rng.choice(PARTITIONS)}, "sk": {"N": str(rng.randrange(60))}}
        dynamodb.delete_item(TableName=name, Key=key)
    elif roll < 0.9:
        items = {(i["pk"]["S"], i["sk"]["N"]): i for i in (_item(rng) for _ in range(5))}
        dynamodb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": i}} for i in items.values()]})
    else:  # a transaction that moves items, then fails its condition: rolled back
        moved = _item(rng)
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": name, "Item": moved}},
                    {
                        "Put": {
                            "TableName": name,
                            "Item": {**_item(rng), "pk": {"S": "p-never"}},
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as error:
            assert error.response["Error"]["Code"] == "TransactionCanceledException"


def _queries(name: str, rng: random.Random) -> list[dict[str, Any]]:
    limit = rng.choice([1, 4, 9, 500])
    forward = rng.random() < 0.6
    table_query: dict[str, Any] = {
        "TableName": name,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": rng.choice(PARTITIONS)}},
    }
    ranged = rng.choice(
        [
            ("sk > :a", {":a": {"N": str(rng.randrange(60))}}),
            ("sk BETWEEN :a AND :b", {":a": {"N": "10"}, ":b": {"N": str(rng.randrange(10, 60))}}),
            ("sk <= :a", {":a": {"N": str(rng.randrange(60))}}),
        ]
    )
    table_ranged = {
        **table_query,
        "KeyConditionExpression": f"pk = :p AND {ranged[0]}",
        "ExpressionAttributeValues": {**table_query["ExpressionAttributeValues"], **ranged[1]},
    }
    group = {":g": {"S": rng.choice(GROUPS)}}
    index_query = {
        "TableName": name,
        "IndexName": "by_group",
        "KeyConditionExpression": "gpk = :g",
        "ExpressionAttributeValues": group,
    }
    index_ranged = rng.choice(
        [
            ("begins_with(gsk, :x)", {":x": {"S": rng.choice("abc")}}),
            ("gsk > :x", {":x": {"S": f"b{rng.randrange(30):02d}"}}),
            ("gsk BETWEEN :x AND :y", {":x": {"S": "a10"}, ":y": {"S": "b20"}}),
        ]
    )
    filtered = {
        **index_query,
        "KeyConditionExpression": f"gpk = :g AND {index_ranged[0]}",
        "ExpressionAttributeValues": {**group, **index_ranged[1], ":n": {"N": "2"}},
        "FilterExpression": "n >= :n",
    }
    hash_only = {**index_query, "IndexName": "group_only"}
    return [
        {**query, "Limit": limit, "ScanIndexForward": forward}
        for query in (table_query, table_ranged, index_query, filtered, hash_only)
    ]


def _pages(dynamodb: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    pages, start = [], None
    for _ in range(200):
        page = dynamodb.query(**query, **({"ExclusiveStartKey": start} if start else {}))
        page.pop("ResponseMetadata", None)
        pages.append(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages
    raise AssertionError(f"no end of pages: {query}")


def test_queries_answer_what_moto_answers_over_the_whole_table(table: str) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    rng = random.Random(11)
    windowed = query_index.stats["windowed"]
    for round_ in range(24):
        for _ in range(rng.randrange(1, 12)):
            _write(dynamodb, table, rng)
        for query in _queries(table, rng):
            patched = _pages(dynamodb, query)
            with query_index.whole_table():
                unpatched = _pages(dynamodb, query)
            assert patched == unpatched, (round_, query)
    assert query_index.stats["windowed"] > windowed  # the patch is in use


def test_a_query_reads_its_page_not_the_table(table: str) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for chunk in range(0, 2_000, 25):
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {
                        "PutRequest": {
                            "Item": {
                                "pk": {"S": "big"},
                                "sk": {"N": str(i)},
                                "gpk": {"S": "big"},
                                "gsk": {"S": f"{i:06d}"},
                            }
                        }
                    }
                    for i in range(chunk, chunk + 25)
                ]
            }
        )
    for index in ({}, {"IndexName": "by_group"}):
        key = "gpk" if index else "pk"
        first = dynamodb.query(
            TableName=table,
            KeyConditionExpression=f"{key} = :k",
            ExpressionAttributeValues={":k": {"S": "big"}},
            Limit=20,
            ScanIndexForward=False,
            **index,
        )
        before = dict(query_index.stats)
        second = dynamodb.query(
            TableName=table,
            KeyConditionExpression=f"{key} = :k",
            ExpressionAttributeValues={":k": {"S": "big"}},
            Limit=20,
            ScanIndexForward=False,
            ExclusiveStartKey=first["LastEvaluatedKey"],
            **index,
        )
        assert [item["sk"]["N"] for item in second["Items"]] == [str(i) for i in range(1_979, 1_959, -1)]
        assert query_index.stats["windowed"] == before["windowed"] + 1
        assert query_index.stats["window_items"] - before["window_items"] <= 21  # the page and one more


def test_sorted_partitions_kept_are_bounded(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models import dynamodb_backends

    from devstack.template import MOTO_ACCOUNT_ID

    monkeypatch.setattr(query_index, "SORTED_PARTITIONS", 4)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for run in range(10):  # like a run's event log: a partition of its own, read once
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"run{run}"}, "sk": {"N": "1"}})
        dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :k",
            ExpressionAttributeValues={":k": {"S": f"run{run}"}},
        )
    index = dynamodb_backends[MOTO_ACCOUNT_ID][REGION].tables[table].__dict__["_runs_api_query_index"]
    assert len(index.sorted) == 4
    again = dynamodb.query(  # one no longer cached is sorted again
        TableName=table, KeyConditionExpression="pk = :k", ExpressionAttributeValues={":k": {"S": "run0"}}
    )
    assert [item["pk"]["S"] for item in again["Items"]] == ["run0"]
