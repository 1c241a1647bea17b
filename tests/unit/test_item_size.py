"""DynamoDB item sizes (runs_core.storage.dynamo.item_size), by AWS's rules: attribute names and values in
UTF-8, numbers by significant digits, 3 bytes per list or map plus 1 per element; an item over the limit is
PayloadTooLarge (413) before anything is sent."""

import pytest

from runs_core.errors import PayloadTooLarge
from runs_core.storage.dynamo import MAX_ITEM_BYTES, item_size, serialize


@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"id": {"S": "abc"}}, 2 + 3),
        ({"name": {"S": "café"}}, 4 + 5),  # UTF-8 bytes, not characters
        ({"n": {"N": "123.45"}}, 1 + 4),  # 5 significant digits: 3 bytes, + 1
        ({"n": {"N": "-0.000100"}}, 1 + 2),  # zeros trimmed: one digit
        ({"n": {"N": "1E+5"}}, 1 + 2),
        ({"b": {"B": b"\x00\x01\x02"}}, 1 + 3),
        ({"t": {"BOOL": True}, "z": {"NULL": True}}, 2 + 2),
        ({"l": {"L": []}}, 1 + 3),
        ({"l": {"L": [{"S": "a"}, {"N": "1"}]}}, 1 + 3 + (1 + 1) + (1 + 2)),
        ({"m": {"M": {"key": {"BOOL": False}}}}, 1 + 3 + (1 + 3 + 1)),
        ({"s": {"SS": ["a", "bc"]}, "ns": {"NS": ["1", "22"]}}, 1 + 3 + 2 + 2 + 2),
    ],
)
def test_item_size_follows_the_documented_rules(item, size):
    assert item_size(item) == size


def test_nested_values_count_their_names_and_overheads():
    plain = {"input": {"text": "x" * 100, "list": [1, {"k": "v"}]}}
    # "input" 5 + map 3 + ("text" 1+4+100) + ("list" 1+4 + list 3 + (1+2) + (1 + map 3 + (1+1+1)))
    assert item_size(serialize(plain)) == 5 + 3 + (1 + 4 + 100) + (1 + 4 + 3 + (1 + 2) + (1 + 3 + 3))


def test_an_item_over_the_limit_is_payload_too_large_with_the_limit_in_detail():
    fits = {"id": "run_1", "input": "x" * (MAX_ITEM_BYTES - 100)}
    assert item_size(serialize(fits)) <= MAX_ITEM_BYTES
    with pytest.raises(PayloadTooLarge) as raised:
        serialize({"id": "run_1", "input": "x" * MAX_ITEM_BYTES})
    assert raised.value.status == 413 and str(MAX_ITEM_BYTES) in raised.value.detail
