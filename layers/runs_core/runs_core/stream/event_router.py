"""The event log's stream router: every new event of the log goes on the stack's EventBridge bus.

One Lambda on the event table's stream (INSERT records, NEW_IMAGE). Per batch:
1. each INSERT record becomes one bus entry: source "runs-api", detail-type = the event type, detail =
   the event envelope {seq, type, run_id, data, created_at} + org_id, agent_id and event_id
   ("<run_id>:<seq>", stable, for consumers that dedupe);
2. events that already have a delivery marker (an earlier delivery of the same record) are skipped, and
   a record delivered twice in one batch is put once: idempotent on (run_id, seq);
3. the rest is put in PutEvents calls of at most 10 entries; entries that fail are retried once inline;
4. (before the bus) the events are pushed to the run's WebSocket subscribers (stream.websocket.push);
   a push failure is logged and never fails the EventBridge half;
5. each event's follow-up (logic.follow_up: start a queued run's execution if its request did not, hand a
   thread on after its run ends); a failure there fails the record, so it is retried (both idempotent);
6. markers are written for the accepted entries, and the records whose entries still failed are reported
   as batch item failures (Powertools BatchProcessor + process_partial_response), so Lambda retries
   from the first of them (bounded retries, bisect on error, then the on-failure queue).
"""

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from runs_core.bus import MAX_ENTRIES_PER_CALL, BusEntry, EventBridgeBus, EventBus
from runs_core.observability import bind, logger
from runs_core.settings import get_settings
from runs_core.storage import dynamo

SOURCE = "runs-api"
INLINE_RETRIES = 1


class Markers(Protocol):
    def delivered(self, event_ids: Iterable[str]) -> set[str]: ...

    def mark(self, event_ids: Iterable[str], now_epoch: int) -> None: ...


class DeliveryFailed(Exception):
    """The record's event was not accepted by EventBridge (after the inline retry)."""


@dataclass(frozen=True)
class RoutedEvent:
    event_id: str
    entry: BusEntry


def _routed(item: dict[str, Any]) -> RoutedEvent:
    run_id, seq, event_type = str(item["run_id"]), int(item["seq"]), str(item["type"])
    event_id = f"{run_id}:{seq}"
    detail = {
        "seq": seq,
        "type": event_type,
        "run_id": run_id,
        "data": item.get("data") or {},
        "created_at": item.get("created_at"),
        "org_id": item.get("org_id"),
        "agent_id": item.get("agent_id"),
        "event_id": event_id,
    }
    return RoutedEvent(event_id, BusEntry(SOURCE, event_type, json.dumps(detail, separators=(",", ":"))))


@dataclass(frozen=True)
class ParsedRecord:
    """A well-formed INSERT record of the batch, read once for the bus, the push and the follow-up."""

    sequence_number: str
    item: dict[str, Any]
    routed: RoutedEvent


def parse_records(records: Sequence[dict[str, Any]]) -> list[ParsedRecord]:
    """The batch's INSERT records whose NewImage is an event, in order (the others are left out: the
    record handler fails a malformed one)."""
    parsed = []
    for record in records:
        if not _is_insert(record):
            continue
        try:
            item = dynamo.deserialize(record["dynamodb"]["NewImage"])
            parsed.append(ParsedRecord(str(record["dynamodb"]["SequenceNumber"]), item, _routed(item)))
        except (KeyError, TypeError, ValueError):
            continue
    return parsed


def _is_insert(record: dict[str, Any]) -> bool:
    return record.get("eventName") == DynamoDBRecordEventName.INSERT.name


class EventRouter:
    def __init__(
        self,
        bus: EventBus,
        markers: Markers | None = None,
        clock: Callable[[], float] = time.time,
        pusher: Callable[[list[dict[str, Any]]], None] | None = None,
        follow_up: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.bus = bus
        self.markers = markers
        self.clock = clock
        self.pusher = pusher
        self.follow_up = follow_up

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda response: {"batchItemFailures": [{"itemIdentifier": <sequence number>}, ...]}."""
        parsed = parse_records(event.get("Records") or [])
        failed = self.deliver(parsed)
        items = {record.sequence_number: record.item for record in parsed}

        def record_handler(record: DynamoDBRecord) -> None:
            if not _is_insert(record.raw_event):
                return  # MODIFY (TTL bookkeeping) / REMOVE (expiry): not events
            sequence_number = str(record.raw_event["dynamodb"].get("SequenceNumber"))
            item = items.get(sequence_number)
            if item is None:  # malformed: fails here
                item = dynamo.deserialize(record.raw_event["dynamodb"]["NewImage"])
                _routed(item)
            if sequence_number in failed:
                raise DeliveryFailed(f"sequence number {sequence_number}")
            if self.follow_up is not None:
                self.follow_up(item)

        processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        return dict(response)

    def deliver(self, records: Sequence[ParsedRecord]) -> set[str]:
        """Push the records' events, then put them on the bus; returns the sequence numbers of records
        that failed."""
        by_id: dict[str, RoutedEvent] = {}
        sequence_numbers: dict[str, list[str]] = {}
        for record in records:
            by_id.setdefault(record.routed.event_id, record.routed)
            sequence_numbers.setdefault(record.routed.event_id, []).append(record.sequence_number)
        if not by_id:
            return set()
        self._push([record.item for record in records])
        already = self.markers.delivered(by_id) if self.markers is not None else set()
        pending = [routed for event_id, routed in by_id.items() if event_id not in already]
        if already:
            logger.info("skipping events already on the bus", extra={"count": len(already)})
        for _ in range(1 + INLINE_RETRIES):
            if not pending:
                break
            pending = self._put(pending)
        failed_ids = {routed.event_id for routed in pending}
        accepted = [event_id for event_id in by_id if event_id not in already and event_id not in failed_ids]
        if accepted and self.markers is not None:
            try:
                self.markers.mark(accepted, int(self.clock()))
            except Exception:  # delivered all the same; a redelivery may then put these again
                logger.exception("could not write delivery markers", extra={"count": len(accepted)})
        if failed_ids:
            logger.warning("events not accepted by EventBridge", extra={"event_ids": sorted(failed_ids)})
        return {number for event_id in failed_ids for number in sequence_numbers[event_id]}

    def _push(self, items: list[dict[str, Any]]) -> None:
        if self.pusher is None:
            return
        try:
            self.pusher(items)
        except Exception:  # WebSocket push is best effort: the bus half must not fail because of it
            logger.exception("WebSocket push failed")

    def _put(self, routed: list[RoutedEvent]) -> list[RoutedEvent]:
        """PutEvents in chunks of 10; returns the events whose entries failed."""
        failed: list[RoutedEvent] = []
        for start in range(0, len(routed), MAX_ENTRIES_PER_CALL):
            chunk = routed[start : start + MAX_ENTRIES_PER_CALL]
            codes = self.bus.put_events([item.entry for item in chunk])
            failed.extend(item for item, code in zip(chunk, codes, strict=True) if code)
        return failed


@cache
def default_router() -> EventRouter:
    from runs_core.storage.deliveries import DeliveryMarkers

    settings = get_settings()
    if not settings.event_bus_name:
        raise RuntimeError("EVENT_BUS_NAME is not set")
    markers = DeliveryMarkers(settings.event_deliveries_table) if settings.event_deliveries_table else None
    pusher = None
    if settings.connections_table and settings.websocket_endpoint:
        from runs_core.stream import websocket

        def pusher(items: list[dict[str, Any]]) -> None:
            websocket.push(websocket.connections(), websocket.default_poster(), items)

    from runs_core.logic.follow_up import follow_up

    return EventRouter(EventBridgeBus(settings.event_bus_name), markers, pusher=pusher, follow_up=follow_up)


MAX_LOGGED_RUN_IDS = 20


def batch_run_ids(records: Sequence[dict[str, Any]]) -> list[str]:
    """The runs a stream batch concerns (for the log lines of its invocation), at most 20."""
    run_ids: set[str] = set()
    for record in records:
        image = (record.get("dynamodb") or {}).get("NewImage") or (record.get("dynamodb") or {}).get("Keys")
        value = ((image or {}).get("run_id") or {}).get("S")
        if isinstance(value, str):
            run_ids.add(value)
    return sorted(run_ids)[:MAX_LOGGED_RUN_IDS]


def handle_stream_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    records = event.get("Records") or []
    bind(run_ids=batch_run_ids(records), records=len(records))
    return default_router().handle(event, context)
