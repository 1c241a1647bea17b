"""DynamoDB plumbing shared by the stores: one lazily made client, (de)serialisation, transactions, pages."""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from runs_core.errors import PayloadTooLarge

MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit: attribute names and values

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@cache
def client() -> Any:
    import boto3  # the client is made once per process, on first use (cold start stays lean)

    return boto3.client("dynamodb")


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _to_dynamo(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(item) for item in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(item) for item in value]
    return value


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """An item (or key) in DynamoDB's wire format; PayloadTooLarge (413) if it would exceed the item size
    limit, so a request that would store it writes nothing instead of failing in DynamoDB (a 500)."""
    serialized = {
        key: _serializer.serialize(_to_dynamo(value)) for key, value in item.items() if value is not None
    }
    check_item_size(serialized)
    return serialized


def check_item_size(serialized: dict[str, Any]) -> None:
    size = item_size(serialized)
    if size > MAX_ITEM_BYTES:
        raise PayloadTooLarge(
            f"The request would store an item of {size} bytes; an item is limited to {MAX_ITEM_BYTES} bytes "
            "(DynamoDB's 400 KB, attribute names included)."
        )


def item_size(serialized: dict[str, Any]) -> int:
    """The bytes DynamoDB counts for an item in wire format ({"name": {"S": "…"}}), by AWS's rules
    (developer guide, "Item sizes and formats"): each attribute's name (UTF-8) plus its value."""
    return sum(_utf8_size(name) + _value_size(value) for name, value in serialized.items())


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _number_size(text: str) -> int:
    """1 byte per two significant digits (leading and trailing zeros trimmed), plus 1."""
    mantissa = text.lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return (len(mantissa) + 1) // 2 + 1


def _value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return _utf8_size(data)
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return len(getattr(data, "value", data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8_size(member) for member in data)
    if kind == "NS":
        return sum(_number_size(member) for member in data)
    if kind == "BS":
        return sum(len(getattr(member, "value", member)) for member in data)
    # L and M: 3 bytes, plus 1 per element (a map's element also counts its key's name)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + _utf8_size(name) + _value_size(element) for name, element in data.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def serialize_value(value: Any) -> Any:
    return _serializer.serialize(_to_dynamo(value))


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _from_dynamo(_deserializer.deserialize(value)) for key, value in item.items()}


def values(**named: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments: values(v=1) → {":v": {"N": "1"}}."""
    return {f":{name}": serialize_value(value) for name, value in named.items()}


class TransactionCancelled(Exception):
    """A transaction was cancelled; `reasons[i]` is the code for the i-th item ('None' when it was fine)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


def transact(items: list[dict[str, Any]]) -> None:
    try:
        client().transact_write_items(TransactItems=items)
    except client().exceptions.TransactionCanceledException as error:
        reasons = [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]
        raise TransactionCancelled(reasons) from error


def is_conditional_failure(error: Exception) -> bool:
    return getattr(error, "response", {}).get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def update_if(
    table: str,
    key: dict[str, Any],
    changes: dict[str, Any],
    condition: str,
    condition_names: dict[str, str] | None = None,
    condition_values: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """SET `changes` on an item if `condition` holds; the item as written, or None when it did not hold."""
    names = {f"#f{i}": field for i, field in enumerate(changes)}
    sets = ", ".join(f"#f{i} = :f{i}" for i in range(len(changes)))
    try:
        response = client().update_item(
            TableName=table,
            Key=serialize(key),
            UpdateExpression=f"SET {sets}",
            ConditionExpression=condition,
            ExpressionAttributeNames={**names, **(condition_names or {})},
            ExpressionAttributeValues={
                **values(**{f"f{i}": value for i, value in enumerate(changes.values())}),
                **values(**(condition_values or {})),
            },
            ReturnValues="ALL_NEW",
        )
    except Exception as error:
        if is_conditional_failure(error):
            return None
        raise
    return deserialize(response["Attributes"])


_BATCH_GET_LIMIT = 100  # keys per BatchGetItem
_BATCH_GET_ROUNDS = 5  # rounds of UnprocessedKeys retried before giving up


def batch_get(
    table: str, keys: list[dict[str, Any]], consistent: bool = True, projection: str | None = None
) -> list[dict[str, Any]]:
    """The items among `keys` (plain dicts; absent ones are simply missing), in chunks of 100, retrying
    unprocessed keys a few rounds (then RuntimeError: the caller's retry mechanism takes over)."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), _BATCH_GET_LIMIT):
        chunk = [serialize(key) for key in keys[start : start + _BATCH_GET_LIMIT]]
        request: dict[str, Any] = {
            table: {
                "Keys": chunk,
                "ConsistentRead": consistent,
                **({"ProjectionExpression": projection} if projection else {}),
            }
        }
        for _ in range(_BATCH_GET_ROUNDS):
            response = client().batch_get_item(RequestItems=request)
            found.extend(deserialize(item) for item in response.get("Responses", {}).get(table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise RuntimeError(f"BatchGetItem on {table} kept returning unprocessed keys")
    return found


def get(table: str, key: dict[str, Any], consistent: bool = False) -> dict[str, Any] | None:
    response = client().get_item(TableName=table, Key=serialize(key), ConsistentRead=consistent)
    item = response.get("Item")
    return deserialize(item) if item else None


@dataclass(frozen=True)
class KeyRange:
    """A descending sort-key range: `low <= sk <= high`, without `high` itself when `exclusive_high`."""

    sort_key: str
    low: str
    high: str
    exclusive_high: bool = False


def query_desc(
    table: str,
    index: str | None,
    partition: tuple[str, Any],
    key_range: KeyRange,
    want: int,
    filter_expression: str | None = None,
    filter_names: dict[str, str] | None = None,
    filter_values: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Up to `want` items, newest (highest sort key) first, following DynamoDB pages as a filter needs."""
    return list(
        _iter_desc(table, index, partition, key_range, filter_expression, filter_names, filter_values, want)
    )


def _iter_desc(
    table: str,
    index: str | None,
    partition: tuple[str, Any],
    key_range: KeyRange,
    filter_expression: str | None,
    filter_names: dict[str, str] | None,
    filter_values: dict[str, Any] | None,
    want: int,
) -> Iterator[dict[str, Any]]:
    pk_name, pk_value = partition
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :low AND :high",
        "ExpressionAttributeNames": {"#pk": pk_name, "#sk": key_range.sort_key, **(filter_names or {})},
        "ExpressionAttributeValues": {
            **values(pk=pk_value, low=key_range.low, high=key_range.high),
            **(filter_values or {}),
        },
        "ScanIndexForward": False,
    }
    if index:
        request["IndexName"] = index
    if filter_expression:
        request["FilterExpression"] = filter_expression
    yielded = 0
    while True:
        # +1 so a page that ends exactly on the exclusive bound still fills up. With a filter, Limit
        # counts items read before filtering: read ahead so a sparse filter needs fewer round trips.
        remaining = want - yielded + 1
        request["Limit"] = min(remaining * 4, 1000) if filter_expression else remaining
        response = client().query(**request)
        for raw in response.get("Items", []):
            item = deserialize(raw)
            if key_range.exclusive_high and item[key_range.sort_key] == key_range.high:
                continue
            yield item
            yielded += 1
            if yielded >= want:
                return
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
