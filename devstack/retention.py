"""What the local stack keeps: moto patched so that a finished run leaves its DynamoDB items behind and
nothing else (no table copies, no stream records already delivered, no unbounded execution histories).

Unpatched, moto 5.2.5 grows by tens of MB per run and slows down as it grows (measured with 40
three-decision runs, 4 client threads: RSS 246 MB → 2,600 MB, 46 → 15 runs/min; after 12 runs there
were 430 Table objects and 34,632 stream records for 264 real ones). The causes, and what install()
does about each:

1. `DynamoDBBackend.transact_write_items` deep-copies every table a transaction touches, before it
   starts, so that a cancelled transaction can put the copies back. That costs time proportional to
   the table on every TransactWriteItems (under the local stack's one moto lock: devstack.aws), and a
   rollback replaces the Table object (and its stream shard) that others hold. Patched: the copy of a
   Table is the table itself (moto's own rollback becomes a no-op), and the transaction is rolled back
   here instead: the items it touches are copied before it runs (a few items, not the table) and put
   back, and the stream records it added are dropped, when it fails. Unlike moto's, the rollback also
   covers the errors moto raises without rolling back (e.g. a second operation on one item).
2. `BaseModel.__new__` appends every instance of every moto model to its class's `instances_tracked`
   (for moto server's dashboard, and S3's reset), so nothing moto ever creates is freed: every table
   copy, stream record, item version, shard iterator and execution. Patched: nothing is recorded
   (S3 keys still close their buffers, in FakeKey.__del__).
3. DynamoDB Streams: moto keeps every stream record forever, and every shard iterator it hands out
   (each read makes a new one). `trim_stream` drops the records every local event source mapping has
   read (devstack.streams calls it after each read); AWS keeps them 24 hours, but nothing here reads a
   record twice. Shard iterators are kept for the last SHARD_ITERATORS handed out (AWS: 15 minutes);
   devstack.streams reads the shard without any (read_stream).
4. Step Functions: moto keeps every execution of a state machine (and its whole event history and
   interpreter state) forever. Kept: every running execution and the last FINISHED_EXECUTIONS finished
   ones per state machine (AWS: 90 days); older ones are dropped when an execution starts.

What is left per finished run is its items (~50: the run, its steps, events and delivery markers);
devstack.item_memory makes them share the values they repeat instead of each keeping its own copy.

Each patch checks what it relies on and fails loudly at start if a moto upgrade changed it;
tests/emulator/test_retention.py fails if the behaviour is gone.
"""

import copy as _copy
from collections import OrderedDict
from typing import Any

from devstack.once import installs_once

SHARD_ITERATORS = 10_000  # the newest shard iterators moto keeps (each ~1 KB)
FINISHED_EXECUTIONS = 100  # finished executions kept per state machine (~35 KB each: histories, clones)


@installs_once
def install() -> None:
    """Apply every patch (idempotent). Before moto starts: backends created afterwards are bounded."""
    _stop_tracking_instances()
    _roll_back_items_not_tables()
    _bound_shard_iterators()
    _bound_finished_executions()


# ---------------------------------------------------------------------- 2. instance registry


def _stop_tracking_instances() -> None:
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import model_data

    def untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    BaseModel.__new__ = staticmethod(untracked_new)  # type: ignore[assignment]
    for models in model_data.values():  # what was recorded before this (moto's own import-time models)
        for model in models.values():
            model.instances_tracked = []  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- 1. transactions


class _CopyKeepingTables:
    """Stands in for the `copy` module inside moto.dynamodb.models: deepcopy(Table) is the table."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return _copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(_copy, name)


def _roll_back_items_not_tables() -> None:
    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if (
        dynamodb_models.copy is not _copy
        or "copy" not in DynamoDBBackend.transact_write_items.__code__.co_names
    ):
        raise RuntimeError(
            "moto's transact_write_items no longer copies tables with copy.deepcopy: "
            "revisit devstack.retention"
        )
    dynamodb_models.copy = _CopyKeepingTables(Table)  # type: ignore[assignment]
    transact_write_items = DynamoDBBackend.transact_write_items

    def transact_write_items_rolling_back_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshot = _Snapshot(self, transact_items)
        try:
            transact_write_items(self, transact_items)
        except BaseException:
            snapshot.restore()
            raise

    DynamoDBBackend.transact_write_items = transact_write_items_rolling_back_items  # type: ignore[method-assign]


class _Snapshot:
    """The items a TransactWriteItems touches and each table's stream length, from before it runs."""

    def __init__(self, backend: Any, transact_items: list[dict[str, Any]]) -> None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        self.items: dict[tuple[int, Any, Any], tuple[Any, Any, Any, Any]] = {}
        self.streams: dict[int, tuple[Any, int]] = {}
        for transact_item in transact_items if isinstance(transact_items, list) else []:
            try:
                _, operation = next(iter(transact_item.items()))
                table = backend.tables.get(operation.get("TableName"))
                if table is None:
                    continue
                attributes = operation["Item"] if "Item" in operation else operation.get("Key") or {}
                hash_key = DynamoType(attributes[table.hash_key_attr])
                range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
            except (KeyError, TypeError, AttributeError, StopIteration):
                continue  # moto rejects it before it changes anything
            identity = (id(table), hash_key, range_key)
            if identity not in self.items:
                current = table.get_item(hash_key, range_key)
                self.items[identity] = (table, hash_key, range_key, _copy.deepcopy(current))
            shard = table.stream_shard
            if shard is not None and id(table) not in self.streams:
                self.streams[id(table)] = (shard, len(shard.items))

    def restore(self) -> None:
        from devstack import query_index

        for table, hash_key, range_key, item in self.items.values():
            if range_key is None:
                if item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
            elif item is None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item
            query_index.reindex(table, hash_key, range_key)
        for shard, length in self.streams.values():
            del shard.items[length:]


# ---------------------------------------------------------------------- 3. streams


class _RecentIterators(OrderedDict[str, Any]):
    """moto's shard iterators by ARN: only the newest SHARD_ITERATORS."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        while len(self) > SHARD_ITERATORS:
            self.popitem(last=False)


def _bound_shard_iterators() -> None:
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    init = DynamoDBStreamsBackend.__init__

    def init_with_bounded_iterators(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if not isinstance(getattr(self, "shard_iterators", None), dict):
            raise RuntimeError(
                "moto's DynamoDBStreamsBackend has no shard_iterators dict: revisit devstack.retention"
            )
        self.shard_iterators = _RecentIterators(self.shard_iterators)

    DynamoDBStreamsBackend.__init__ = init_with_bounded_iterators  # type: ignore[method-assign]


def _streams_backend(stream_arn: str) -> Any:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    _, _, _, region, account, _ = stream_arn.split(":", 5)
    return dynamodbstreams_backends[account][region]


def read_stream(
    stream_arn: str, after_sequence_number: str | None, limit: int | None
) -> list[dict[str, Any]]:
    """Up to `limit` records of the stream after `after_sequence_number` (None: from the oldest kept),
    as GetRecords returns them (copies), without a request: moto's response serializer is slow, and
    each GetRecords leaves a shard iterator behind. Call it under moto's lock (devstack.aws.moto_lock)."""
    shard = _streams_backend(stream_arn)._get_table_from_arn(stream_arn).stream_shard
    if shard is None:
        return []
    start = (
        0
        if after_sequence_number is None
        else int(after_sequence_number) + 1 - shard.starting_sequence_number
    )
    chosen = (
        shard.items[max(start, 0) :] if limit is None else shard.items[max(start, 0) : max(start, 0) + limit]
    )
    return [_copied(record.to_json(), {}) for record in chosen]


_IMMUTABLE = frozenset({str, int, float, bool, bytes, type(None)})


def _copied(value: Any, memo: dict[int, Any]) -> Any:
    """copy.deepcopy of a stream record (dicts, lists and immutable scalars; anything else is left to
    deepcopy): half of deepcopy's CPU (which dispatches per value and keeps every value in its memo),
    ~1% of a soak run's CPU. Containers met twice are copied once, as deepcopy does."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    copied = memo.get(id(value))
    if copied is not None:
        return copied
    if kind is dict:
        copied = memo[id(value)] = {}
        for key, entry in value.items():
            copied[key] = _copied(entry, memo)
        return copied
    if kind is list:
        copied = memo[id(value)] = []
        copied.extend([_copied(entry, memo) for entry in value])
        return copied
    return _copy.deepcopy(value, memo)


def trim_stream(stream_arn: str, through_sequence_number: str) -> int:
    """Drop the stream's records up to and including `through_sequence_number`; returns how many.

    Sequence numbers stay what they were: the shard's StartingSequenceNumber moves past the dropped
    records (moto numbers a record by its position after that start). Call it under moto's lock
    (devstack.aws.moto_lock), like any moto request.
    """
    backend = _streams_backend(stream_arn)
    shard = backend._get_table_from_arn(stream_arn).stream_shard
    if shard is None:
        return 0
    count = min(int(through_sequence_number) - shard.starting_sequence_number + 1, len(shard.items))
    if count <= 0:
        return 0
    del shard.items[:count]
    shard.starting_sequence_number += count
    return count


# ---------------------------------------------------------------------- 4. Step Functions


def _bound_finished_executions() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    start_execution = StepFunctionsParserBackend.start_execution

    def start_execution_dropping_old(self: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
        state_machine = self.describe_state_machine(state_machine_arn)
        executions = getattr(state_machine, "executions", None)
        if not isinstance(executions, list):
            raise RuntimeError("moto's state machine has no executions list: revisit devstack.retention")
        finished = [execution for execution in executions if _finished(execution)]
        if len(finished) >= FINISHED_EXECUTIONS:
            dropped = {id(execution) for execution in finished[: len(finished) - FINISHED_EXECUTIONS + 1]}
            executions[:] = [execution for execution in executions if id(execution) not in dropped]
        return start_execution(self, state_machine_arn, *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution_dropping_old  # type: ignore[method-assign]


def _finished(execution: Any) -> bool:
    status = getattr(execution, "exec_status", None)  # None until its worker starts
    return status is not None and getattr(status, "value", status) != "RUNNING"
