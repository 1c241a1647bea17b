"""Keyed Query for the local stack: moto patched so that a Query reads its partition's page, not the
whole table.

moto 5.2.5's `Table.query` starts from `Table.all_items()`: every item of the table, sorted, on every
Query (then it keeps the partition's items, sorts them again, and walks to the page). A Query's cost
grows with the table, not the page: the events log of every run ever made is sorted to read one run's
events, and listing 20 runs of an org sorts every run (measured: CPU per soak run rose 398 → 467 ms
over 1,000 runs; GET /v1/runs?limit=20 515 → 918 ms from 1k to 8k stored runs). DynamoDB reads the
items of one partition from the start key on, which is what this patch hands moto.

What install() does: `Table.query` works out the few items the Query can reach (its window) and runs
moto's own query over just those (a per-thread override of `all_items`), so every check, sort, limit,
LastEvaluatedKey, filter and projection is still moto's. The window is a contiguous slice of the
partition in moto's own sort order (moto's key function, `_generate_attr_to_sort_by`), starting at the
ExclusiveStartKey (bisect) and reaching the Limit-th item that meets the key condition plus one more,
so moto's walk over it stops where its walk over the whole table would have.

- A table's own key: the partition is `table.items[hash_key]` (moto's storage is already keyed).
- A secondary index: partitions (index hash key values → items) are built on the first Query of that
  index (one pass over the table) and kept up to date by every write path that changes an item:
  `Table.put_item` (PutItem, BatchWriteItem, transactions, PartiQL, UpdateItem of a new item),
  `Table.delete_item`, `DynamoDBBackend.update_item` (which changes an item in place) and
  devstack.retention's transaction rollback (`reindex`).
- Each partition's sorted order is cached until a write touches that partition, for the
  SORTED_PARTITIONS partitions per table read last (a run's events are a partition: an unbounded
  cache would keep a sorted copy of every run's log ever read).

A Query this does not handle exactly (no hash key, a legacy QueryFilter, several range key conditions,
a key condition on something other than the first sort attribute, a start key missing an attribute)
runs over the whole table, as unpatched moto does. Each patch checks what it relies on and fails at
start if a moto upgrade changed it; tests/emulator/test_query_index.py compares patched and
unpatched answers and fails if the patch stops being used.
"""

import bisect
import contextlib
import inspect
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from devstack.once import installs_once

SORTED_PARTITIONS = 512  # sorted partitions cached per table, the most recently read

_narrowed = threading.local()  # .table, .items: what all_items() returns inside a patched query
# Queries answered from a window / from the whole table, and the items their windows held.
stats = {"windowed": 0, "whole_table": 0, "window_items": 0}

_QUERY_PARAMETERS = [
    "self",
    "hash_key",
    "range_comparison",
    "range_objs",
    "limit",
    "exclusive_start_key",
    "scan_index_forward",
    "projection_expressions",
    "index_name",
    "consistent_read",
    "filter_expression",
    "hash_key_conditions",
    "range_key_conditions",
    "filter_kwargs",
]


@installs_once
def install() -> None:
    """Patch moto's Table.query and the write paths that keep the partitions current (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    _check_moto(Table, DynamoDBBackend)
    _patch_reads(Table)
    _patch_writes(Table, DynamoDBBackend)


def _check_moto(table_type: type, backend_type: type) -> None:
    parameters = list(inspect.signature(table_type.query).parameters)
    code = table_type.query.__code__
    backend_update = list(inspect.signature(backend_type.update_item).parameters)[:3]
    if (
        parameters != _QUERY_PARAMETERS
        or "all_items" not in code.co_names
        or "sorted_items" not in code.co_names
        or "_item_comes_before_dct" not in code.co_names
        or not hasattr(table_type, "_generate_attr_to_sort_by")
        or backend_update != ["self", "table_name", "key"]
    ):
        raise RuntimeError("moto's Table.query changed: revisit devstack.query_index")


# ---------------------------------------------------------------------- reads


def _patch_reads(table_type: type) -> None:
    query = table_type.query
    all_items = table_type.all_items

    def all_items_narrowed(self: Any) -> list[Any]:
        if getattr(_narrowed, "table", None) is self:
            return list(_narrowed.items)
        return all_items(self)  # type: ignore[no-any-return]

    def windowed_query(
        self: Any,
        hash_key: Any,
        range_comparison: str | None,
        range_objs: list[Any],
        limit: int,
        exclusive_start_key: dict[str, Any],
        scan_index_forward: bool,
        projection_expressions: Any,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: Any = None,
        range_key_conditions: Any = None,
        **filter_kwargs: Any,
    ) -> Any:
        args = (hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward)
        kwargs = {
            "projection_expressions": projection_expressions,
            "index_name": index_name,
            "consistent_read": consistent_read,
            "filter_expression": filter_expression,
            "hash_key_conditions": hash_key_conditions,
            "range_key_conditions": range_key_conditions,
            **filter_kwargs,
        }
        window = None
        nested = getattr(_narrowed, "table", None) is not None
        if not filter_kwargs and not getattr(_narrowed, "off", False) and not nested:
            try:
                window = _window(
                    self,
                    hash_key,
                    range_comparison,
                    range_objs,
                    limit,
                    exclusive_start_key,
                    scan_index_forward,
                    index_name,
                    hash_key_conditions,
                    range_key_conditions,
                )
            except _WholeTable:
                window = None
        if window is None:
            stats["whole_table"] += 1
            return query(self, *args, **kwargs)
        stats["windowed"] += 1
        stats["window_items"] += len(window)
        _narrowed.table, _narrowed.items = self, window
        try:
            return query(self, *args, **kwargs)
        finally:
            _narrowed.table = _narrowed.items = None

    table_type.all_items = all_items_narrowed
    table_type.query = windowed_query


@contextlib.contextmanager
def whole_table() -> Iterator[None]:
    """Queries on this thread walk the whole table, as unpatched moto does (tests compare the two)."""
    _narrowed.off = True
    try:
        yield
    finally:
        _narrowed.off = False


class _WholeTable(Exception):
    """This Query is left to moto's whole-table walk."""


def _window(
    table: Any,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: Any,
    exclusive_start_key: dict[str, Any] | None,
    forward: bool,
    index_name: str | None,
    hash_key_conditions: list[tuple[str, Any]] | None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None,
) -> list[Any] | None:
    """The slice of the Query's partition that moto's walk can reach, in moto's sort order."""
    if range_key_conditions and len(range_key_conditions) > 1:
        raise _WholeTable
    index = _index_for(table)
    if index_name:
        spec = index.spec(index_name)
        if spec is None:
            raise _WholeTable  # moto raises its own error for an unknown index
        conditions = dict(hash_key_conditions or [])
        if set(conditions) != set(spec.hash_attrs):
            raise _WholeTable
        partition = tuple(conditions[attr] for attr in spec.hash_attrs)
        sort_attrs, range_attr = spec.sort_attrs, spec.range_attr
    else:
        if hash_key is None:
            raise _WholeTable
        partition = hash_key
        sort_attrs = [attr for attr in (table.hash_key_attr, table.range_key_attr) if attr]
        range_attr = table.range_key_attr
    if range_comparison:
        compared = range_key_conditions[-1][0] if range_key_conditions else range_attr
        if compared is None or compared != range_attr:
            raise _WholeTable
    ordered, keys = index.sorted_partition(index_name, partition, sort_attrs)
    if not ordered:
        return []

    if exclusive_start_key:
        try:
            start_key = tuple(_dynamo_type(exclusive_start_key[attr]) for attr in sort_attrs)
        except (KeyError, TypeError):
            raise _WholeTable from None
        position = (
            # the first item strictly past the start key (moto skips the ones at or before it)
            bisect.bisect_right(keys, start_key) if forward else bisect.bisect_left(keys, start_key) - 1
        )
    else:
        position = 0 if forward else len(ordered) - 1
    step = 1 if forward else -1
    wanted = limit if isinstance(limit, int) and limit > 0 else None
    first = last = position
    matched = 0
    in_block = False
    while 0 <= last < len(ordered):
        if wanted is not None and matched >= wanted:
            break  # `last` is the one item past the page: moto stops there with a LastEvaluatedKey
        item = ordered[last]
        if range_comparison:
            value = item.attrs.get(range_attr)
            if value and value.compare(range_comparison, range_objs):
                matched += 1
                in_block = True
            elif in_block:
                break  # a key condition matches a contiguous run of the sort order: nothing after it
        else:
            matched += 1
        last += step
    low, high = (first, last + 1) if forward else (last, first + 1)
    return ordered[max(low, 0) : min(high, len(ordered))]


def _dynamo_type(value: Any) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return value if isinstance(value, DynamoType) else DynamoType(value)


class _IndexSpec:
    def __init__(self, table: Any, index: Any) -> None:
        self.hash_attrs = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
        self.range_attrs = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
        # moto's sort order for this index (Table.query's hash_attrs / range_attrs)
        if self.range_attrs:
            range_attrs = [*self.range_attrs, table.range_key_attr]
            self.range_attr: str | None = self.range_attrs[0]
        else:
            from moto.dynamodb.models.table import GlobalSecondaryIndex

            fallback = (
                table.range_key_attr
                if isinstance(index, GlobalSecondaryIndex) and table.range_key_attr
                else table.hash_key_attr
            )
            range_attrs = [fallback, table.range_key_attr]
            self.range_attr = None  # moto raises for a range condition on an index without a range key
        self.sort_attrs: list[str] = table._generate_attr_to_sort_by(
            [*self.hash_attrs, table.hash_key_attr], range_attrs
        )

    def partition_of(self, item: Any) -> tuple[Any, ...] | None:
        attrs = item.attrs
        values = tuple(attrs.get(attr) for attr in self.hash_attrs)
        missing = any(value is None for value in values)
        if missing or any(attrs.get(attr) is None for attr in self.range_attrs):
            return None
        return values


class _TableIndex:
    """One Table's partitions by secondary index, and each partition's sorted order."""

    def __init__(self, table: Any) -> None:
        self.owner = weakref.ref(table)
        self.specs: dict[str, _IndexSpec | None] = {}
        self.members: dict[str, dict[Any, dict[Any, Any]]] = {}  # index → partition → key → item
        self.where: dict[str, dict[Any, Any]] = {}  # index → item key → partition
        self.sorted: OrderedDict[tuple[str | None, Any], tuple[list[Any], list[Any]]] = OrderedDict()

    def spec(self, index_name: str) -> _IndexSpec | None:
        table = self.owner()
        if index_name not in self.specs:
            index = next((i for i in table.all_indexes() if i.name == index_name), None)
            self.specs[index_name] = _IndexSpec(table, index) if index is not None else None
        spec = self.specs[index_name]
        if spec is not None and index_name not in self.members:
            self._build(index_name, spec)
        return spec

    def _build(self, index_name: str, spec: _IndexSpec) -> None:
        members: dict[Any, dict[Any, Any]] = {}
        where: dict[Any, Any] = {}
        for item in _every_item(self.owner()):
            partition = spec.partition_of(item)
            if partition is not None:
                key = (item.hash_key, item.range_key)
                members.setdefault(partition, {})[key] = item
                where[key] = partition
        self.members[index_name], self.where[index_name] = members, where

    def sorted_partition(
        self, index_name: str | None, partition: Any, sort_attrs: list[str]
    ) -> tuple[list[Any], list[Any]]:
        cached = self.sorted.get((index_name, partition))
        if cached is not None:
            self.sorted.move_to_end((index_name, partition))
        else:
            if index_name:
                items = list(self.members[index_name].get(partition, {}).values())
            else:
                stored = self.owner().items.get(partition) if partition in self.owner().items else None
                items = (
                    [] if stored is None else list(stored.values()) if isinstance(stored, dict) else [stored]
                )
            keyed = sorted(
                ((tuple(item.attrs[attr] for attr in sort_attrs), item) for item in items),
                key=lambda pair: pair[0],
            )
            cached = ([item for _, item in keyed], [key for key, _ in keyed])
            self.sorted[(index_name, partition)] = cached
            while len(self.sorted) > SORTED_PARTITIONS:
                self.sorted.popitem(last=False)
        return cached

    def reindex(self, hash_key: Any, range_key: Any) -> None:
        table = self.owner()
        self.sorted.pop((None, hash_key), None)
        key = (hash_key, range_key)
        item = table.get_item(hash_key, range_key) if table is not None else None
        for index_name, members in self.members.items():
            spec = self.specs[index_name]
            where = self.where[index_name]
            old = where.pop(key, None)
            if old is not None:
                members.get(old, {}).pop(key, None)
                self.sorted.pop((index_name, old), None)
            new = spec.partition_of(item) if (item is not None and spec is not None) else None
            if new is not None:
                members.setdefault(new, {})[key] = item
                where[key] = new
                self.sorted.pop((index_name, new), None)


def _every_item(table: Any) -> list[Any]:
    items: list[Any] = []
    for stored in table.items.values():
        items.extend(stored.values() if isinstance(stored, dict) else [stored])
    return items


def _index_for(table: Any) -> _TableIndex:
    index = table.__dict__.get("_runs_api_query_index")
    if index is None or index.owner() is not table:  # a copy of a table does not share its index
        index = _TableIndex(table)
        table.__dict__["_runs_api_query_index"] = index
    return index  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- writes


def reindex(table: Any, hash_key: Any, range_key: Any) -> None:
    """The item at this key changed (written, updated in place, deleted or restored): move it."""
    index = table.__dict__.get("_runs_api_query_index")
    if index is not None and index.owner() is table:
        index.reindex(hash_key, range_key)


def _patch_writes(table_type: type, backend_type: type) -> None:
    put_item: Callable[..., Any] = table_type.put_item
    delete_item: Callable[..., Any] = table_type.delete_item
    update_item: Callable[..., Any] = backend_type.update_item

    def put_item_indexed(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = put_item(self, *args, **kwargs)
        reindex(self, item.hash_key, item.range_key)
        return item

    def delete_item_indexed(self: Any, hash_key: Any, range_key: Any) -> Any:
        try:
            return delete_item(self, hash_key, range_key)
        finally:
            reindex(self, hash_key, range_key)

    def update_item_indexed(
        self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        finally:
            _reindex_key(self, table_name, key)

    table_type.put_item = put_item_indexed
    table_type.delete_item = delete_item_indexed
    backend_type.update_item = update_item_indexed


def _reindex_key(backend: Any, table_name: str, key: dict[str, Any]) -> None:
    table = backend.tables.get(table_name)
    if table is None or "_runs_api_query_index" not in table.__dict__:
        return
    try:
        hash_key = _dynamo_type(key[table.hash_key_attr])
        range_key = _dynamo_type(key[table.range_key_attr]) if table.range_key_attr else None
    except (KeyError, TypeError, AttributeError):
        return  # moto rejected the request before it changed anything
    reindex(table, hash_key, range_key)
