"""What a DynamoDB item costs the local stack in memory: moto patched so that the items of a run share
the values they repeat, as one copy each, instead of each item keeping its own.

A finished run leaves ~50 items behind (the run, 5 steps, 22 events, 22 delivery markers), and in a
long-running `make dev` those items are what grows (devstack.retention bounds everything else). moto
5.2.5 builds every attribute value of every item as a `DynamoType` object of its own, holding its own
copy of the string decoded from the request: the run id, org id, agent id, event type, status,
timestamps and small numbers that every item of a run repeats are a DynamoType (~100 bytes) and a
string (~75 bytes) again in each item, and in each map nested in it, with its own copy of every map
key. Items also keep their hash and range key twice: `Table.put_item` builds them as DynamoTypes of
their own (`hash_key`, `range_key`) next to the same values in `attrs`. Measured (tracemalloc, an event
item like the run log's: 2.2 KB of Python heap per item; bench.soak: RSS +0.114 MB per run after the
first 100).

What install() does, in `Item.__init__` (after devstack.overhead's), and after an update expression
has changed an item (in the item's own maps and lists):

1. Scalar values (S, N, B, BOOL, NULL), at any depth, are replaced by an equal DynamoType already kept
   by an item, from a table of the last VALUES distinct values seen (first in, first out). Equal means
   the same type and the same representation: N "5.0" is not shared with N "5" (moto answers a
   number as it was written). Only scalars are shared: moto never changes a scalar DynamoType in place
   (SET, ADD, REMOVE, AttributeUpdates build new ones and put them into the item, a map or a list),
   while lists, maps and sets are changed in place (`DynamoType.__setitem__`, ADD and DELETE on a
   set, list_append) and stay each item's own.
2. The names of a map's entries are shared the same way (NAMES distinct names, first in, first out;
   not `sys.intern`: a name may be a unique value, e.g. a metadata key, and interned strings live
   for ever in CPython 3.12).
3. An item's hash key and range key are the DynamoTypes of its key attributes: the key put_item uses
   in moto's table (the range key object) is the one in attrs, and the hash key is the shared value.

Nothing changes what a request answers: every value keeps its type and its exact representation, and
an item's values are read, compared, copied and replaced as before. The tables are bounded: a value
no longer in any item is kept until VALUES newer ones pushed it out. Each patch checks what it relies
on and fails loudly at start if a moto upgrade changed it; tests/emulator/test_item_memory.py fails if
the sharing is gone or changes an answer.
"""

import threading
from typing import Any

from devstack.once import installs_once

VALUES = 4096  # distinct scalar values shared between items, the most recently seen
NAMES = 1024  # distinct map entry names shared between items
SCALARS = frozenset({"S", "N", "B", "BOOL", "NULL"})  # never changed in place by moto

_lock = threading.Lock()
_values: dict[tuple[str, Any], Any] = {}  # (type, value) → the DynamoType items share
_names: dict[str, str] = {}


@installs_once
def install() -> None:
    """Apply every patch (idempotent). After devstack.overhead: it wraps the Item.__init__ it set."""
    _share_item_values()
    _share_updated_values()


def _shared(value: Any, new: bool = True) -> Any:
    """`value` with its scalars shared, or the kept DynamoType equal to it (a scalar); under _lock.

    `new`: its maps were just built for an item, and are rebuilt with shared names; otherwise (after an
    update) a map's entries are replaced in its own dict, which moto may hold elsewhere.
    """
    kind, entries = value.type, value.value
    if kind in SCALARS:
        try:
            return _kept(_values, VALUES, (kind, entries), value)
        except TypeError:  # an unhashable value: moto will reject it, nothing to share
            return value
    if kind == "M" and type(entries) is dict:
        if new:
            value.value = {
                _kept(_names, NAMES, name, name): _shared(entry) for name, entry in entries.items()
            }
        else:
            for name, entry in entries.items():
                shared = _shared(entry, new=False)
                if shared is not entry:
                    entries[name] = shared
    elif kind == "L" and type(entries) is list:
        for index, entry in enumerate(entries):
            entries[index] = _shared(entry, new)
    return value


def _kept(table: dict[Any, Any], bound: int, key: Any, value: Any) -> Any:
    """What `table` keeps for `key`, or `value`, kept from now on (the oldest go past `bound`)."""
    kept = table.get(key)
    if kept is not None:
        return kept
    table[key] = value
    while len(table) > bound:
        del table[next(iter(table))]
    return value


def _same(one: Any, other: Any) -> bool:
    """The same type and representation (DynamoType's == compares numbers by value: 5 == 5.0)."""
    return one.type == other.type and type(one.value) is type(other.value) and one.value == other.value


def _share_item_values() -> None:
    from moto.dynamodb.models import dynamo_type

    item_type, dynamo = dynamo_type.Item, dynamo_type.DynamoType
    init = item_type.__init__
    if (
        init.__code__.co_varnames[:4] != ("self", "hash_key", "range_key", "attrs")
        or vars(dynamo({"S": "x"})) != {"type": "S", "value": "x"}
        or type(dynamo({"M": {}}).value) is not dict
        or type(dynamo({"L": []}).value) is not list
    ):
        raise RuntimeError("moto's Item or DynamoType changed: revisit devstack.item_memory")

    def item_init_sharing_values(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        init(self, hash_key, range_key, attrs)
        share(self)

    item_type.__init__ = item_init_sharing_values  # type: ignore[method-assign]


def share(item: Any) -> None:
    """Share the values of a moto Item (its key attributes are its keys, its scalars shared)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    attrs = item.attrs
    range_key = item.range_key
    with _lock:
        hash_key = item.hash_key
        if type(hash_key) is DynamoType:
            hash_key = item.hash_key = _shared(hash_key)
        for name, value in attrs.items():
            if type(value) is not DynamoType:
                continue
            if range_key is not None and value is not range_key and _same(value, range_key):
                shared = range_key  # the object moto's table keys the item by
            elif hash_key is not None and value is not hash_key and _same(value, hash_key):
                shared = hash_key
            else:
                shared = _shared(value)
            if shared is not value:
                dict.__setitem__(attrs, name, shared)  # same name, same value: no size change


def _share_updated_values() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor

    execute = UpdateExpressionExecutor.execute
    if execute.__code__.co_varnames[:2] != (
        "self",
        "node",
    ) or UpdateExpressionExecutor.__init__.__code__.co_varnames[:3] != ("self", "update_ast", "item"):
        raise RuntimeError("moto's UpdateExpressionExecutor changed: revisit devstack.item_memory")

    def execute_sharing_values(self: Any, node: Any = None) -> None:
        execute(self, node)
        attrs = getattr(self.item, "attrs", None)
        if node is None and isinstance(attrs, dict):  # the whole expression has run on the item
            with _lock:
                for name, value in attrs.items():
                    if type(value) is DynamoType:
                        shared = _shared(value, new=False)
                        if shared is not value:
                            dict.__setitem__(attrs, name, shared)

    UpdateExpressionExecutor.execute = execute_sharing_values  # type: ignore[method-assign]
