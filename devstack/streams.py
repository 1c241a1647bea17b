"""Stream event sources and their targets for the local stack: the template's EventBridge buses and SQS
queues in moto, and every function event of Type DynamoDB run as a poller thread that invokes the real
handler in-process.

A poller does what Lambda's event source mapping does, within limits:
* reads the table's stream from moto's shard (devstack.retention.read_stream: the records GetRecords would
  return, without the request) from StartingPosition, at most BatchSize records per invocation (no
  batching window: it sends at once);
* applies FilterCriteria patterns of the simple form {"eventName": ["INSERT", ...]} (top-level keys with
  lists of exact values); a pattern it does not understand lets every record through;
* invokes the handler with a real-shaped event (Records: eventID, eventName, eventSource, eventVersion,
  awsRegion, eventSourceARN, dynamodb {Keys, NewImage/OldImage, SequenceNumber, SizeBytes,
  StreamViewType, ApproximateCreationDateTime});
* with ReportBatchItemFailures, retries from the first failed record; an exception retries the whole
  batch; after MaximumRetryAttempts retries (capped at _MAX_LOCAL_RETRIES) it sends a description of the
  batch to the OnFailure destination queue (SQS) and moves on, as Lambda does. No bisecting, no record
  age limit, no parallelization factor; retries wait a short backoff, not Lambda's.

What the stream keeps (devstack.retention): once every poller of a stream has read a record, the record is
dropped from moto's shard (trim_stream), so the shard holds only records some mapping has yet to
read. (AWS keeps records 24 hours; nothing here reads one twice.)
"""

import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from devstack import wakeups
from devstack.aws import moto_lock
from devstack.lambdas import LocalFunction
from devstack.retention import read_stream, trim_stream
from devstack.template import (
    EVENT_BUS_TYPE,
    FUNCTION_TYPE,
    QUEUE_TYPE,
    REGION,
    Template,
    Unresolvable,
    logical_id_of,
)

log = logging.getLogger("devstack.streams")

_IDLE_POLL_S = 0.1  # after a failed read
_IDLE_WAIT_S = 1.0  # an idle poller reads again at least this often (a write wakes it at once)
_MAX_LOCAL_RETRIES = 10
_RETRY_BACKOFF_S = 0.05
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MessageRetentionPeriod",
    "VisibilityTimeout",
    "ReceiveMessageWaitTimeSeconds",
)


def create_buses_and_queues(template: Template, events: Any, sqs: Any) -> None:
    """Create the template's AWS::Events::EventBus and AWS::SQS::Queue resources."""
    for logical_id in template.resources_of(EVENT_BUS_TYPE):
        events.create_event_bus(Name=template.named(logical_id, "Name"))
    for logical_id, resource in template.resources_of(QUEUE_TYPE).items():
        name = template.named(logical_id, "QueueName")
        properties = template.resolve(resource.get("Properties") or {})
        attributes = {key: str(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties}
        if str(properties.get("FifoQueue", "")).lower() == "true":
            attributes["FifoQueue"] = "true"
        sqs.create_queue(QueueName=name, Attributes=attributes)


class StreamMappings:
    """Every DynamoDB event source of the template's functions, as daemon poller threads."""

    def __init__(
        self,
        template: Template,
        functions: Mapping[str, LocalFunction],
        *,
        dynamodb: Any,
        streams: Any,
        sqs: Any,
    ) -> None:
        self.template = template
        self.functions = dict(functions)
        self.dynamodb = dynamodb
        self.streams = streams
        self.sqs = sqs
        self._halt = threading.Event()
        self.pollers: list[StreamPoller] = []

    def start(self) -> "StreamMappings":
        for logical_id in self.template.resources_of(FUNCTION_TYPE):
            events = self.template.function_properties(logical_id).get("Events") or {}
            for event_name, event in events.items():
                if event.get("Type") != "DynamoDB":
                    continue
                properties = event.get("Properties") or {}
                table = logical_id_of(properties.get("Stream"))
                if table is None or table not in self.template.resources:
                    raise ValueError(
                        f"{logical_id}.{event_name}: Stream must reference a table of the template"
                    )
                description = self.dynamodb.describe_table(TableName=table)["Table"]
                stream_arn = description.get("LatestStreamArn")
                if not stream_arn:
                    raise ValueError(f"{logical_id}.{event_name}: table {table} has no stream")
                poller = StreamPoller(
                    name=f"{logical_id}.{event_name}",
                    function=self.functions[logical_id],
                    stream_arn=stream_arn,
                    properties=properties,
                    on_failure_queue_url=self._on_failure_queue(properties),
                    streams=self.streams,
                    sqs=self.sqs,
                    stop=self._halt,
                    on_read=self._trim,
                )
                poller.start()
                self.pollers.append(poller)
        return self

    def _trim(self, stream_arn: str) -> None:
        """Drop the records of `stream_arn` that every poller of it has read (devstack.retention)."""
        positions = [poller.last_seen for poller in self.pollers if poller.stream_arn == stream_arn]
        if not positions or any(position is None for position in positions):
            return
        with moto_lock():
            trim_stream(stream_arn, min(positions, key=int))  # type: ignore[arg-type]

    def stop(self, timeout_s: float = 5.0) -> None:
        self._halt.set()
        wakeups.written()  # idle pollers wait for a write: wake them to see the halt
        for poller in self.pollers:
            poller.join(timeout_s)
        self.pollers = []

    def _on_failure_queue(self, properties: dict[str, Any]) -> str | None:
        destination = ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if destination is None:
            return None
        try:
            arn = str(self.template.resolve(destination))
        except Unresolvable as reason:
            log.warning("on-failure destination not resolvable locally: %s", reason)
            return None
        if not arn.startswith("arn:aws:sqs:"):
            log.warning("on-failure destination %s is not an SQS queue; not emulated", arn)
            return None
        return str(self.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"])


class StreamPoller(threading.Thread):
    def __init__(
        self,
        *,
        name: str,
        function: LocalFunction,
        stream_arn: str,
        properties: dict[str, Any],
        on_failure_queue_url: str | None,
        streams: Any,
        sqs: Any,
        stop: threading.Event,
        on_read: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(name=f"stream-{name}", daemon=True)
        self.last_seen: str | None = None  # the sequence number of the last record read
        self._on_read = on_read
        self.function = function
        self.stream_arn = stream_arn
        self.batch_size = int(properties.get("BatchSize", 100))
        self.starting_position = str(properties.get("StartingPosition", "LATEST"))
        self.max_retries = min(
            int(properties.get("MaximumRetryAttempts", _MAX_LOCAL_RETRIES)), _MAX_LOCAL_RETRIES
        )
        if self.max_retries < 0:  # -1 means "until the record expires" in Lambda
            self.max_retries = _MAX_LOCAL_RETRIES
        self.partial = "ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or [])
        self.filters = [
            _parse_pattern(f.get("Pattern"))
            for f in ((properties.get("FilterCriteria") or {}).get("Filters") or [])
        ]
        self.on_failure_queue_url = on_failure_queue_url
        self.streams = streams
        self.sqs = sqs
        self._halt = stop

    def run(self) -> None:
        # Records are read from moto's shard directly (devstack.retention.read_stream), by sequence number,
        # not through GetShardIterator/GetRecords: moto's response serializer made those reads a tenth
        # of the local stack's CPU, and every read left an iterator behind.
        wakeups.live_thread()  # its handler's requests go first on the moto lock (devstack.wakeups)
        try:
            self.streams.describe_stream(StreamArn=self.stream_arn)  # the stream exists
            with moto_lock():
                latest = read_stream(self.stream_arn, None, None)
            last_seen = (
                str(latest[-1]["dynamodb"]["SequenceNumber"])
                if self.starting_position == "LATEST" and latest
                else None
            )
            self.last_seen = last_seen
        except Exception:
            if not self._halt.is_set():
                log.exception("%s: cannot read the stream", self.name)
            return
        while not self._halt.is_set():
            written_by_now = wakeups.mark()
            try:
                with moto_lock():
                    raw = read_stream(self.stream_arn, last_seen, self.batch_size)
            except Exception:
                if self._halt.is_set():
                    return
                log.exception("%s: reading the stream failed", self.name)
                self._halt.wait(_IDLE_POLL_S)
                continue
            if raw:
                last_seen = self.last_seen = str(raw[-1]["dynamodb"]["SequenceNumber"])
                if self._on_read is not None:
                    self._on_read(self.stream_arn)
            records = [record for record in map(self._lambda_record, raw) if self._matches(record)]
            if records:
                self._deliver(records)
            elif not raw:  # woken by the next write to any stream (devstack.wakeups), not by a timer
                wakeups.wait(written_by_now, _IDLE_WAIT_S)

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        dynamodb = dict(record.get("dynamodb") or {})
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
        return {
            "eventID": record.get("eventID"),
            "eventName": record.get("eventName"),
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": record.get("awsRegion", REGION),
            "dynamodb": dynamodb,
            "eventSourceARN": self.stream_arn,
        }

    def _matches(self, record: dict[str, Any]) -> bool:
        if not self.filters:
            return True
        return any(pattern is None or _match(pattern, record) for pattern in self.filters)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        batch = records
        retries = 0
        while batch and not self._halt.is_set():
            first_failed = self._invoke(batch)
            if first_failed is None:
                return
            batch = batch[first_failed:]
            retries += 1
            if retries > self.max_retries:
                self._dead_letter(batch)
                return
            self._halt.wait(_RETRY_BACKOFF_S * retries)

    def _invoke(self, batch: list[dict[str, Any]]) -> int | None:
        """Run the handler; None when the batch succeeded, else the index to retry from."""
        try:
            response = self.function.invoke({"Records": batch})
        except Exception:
            log.exception("%s: handler failed; the batch is retried", self.name)
            return 0
        if not self.partial or not isinstance(response, dict):
            return None
        failures = response.get("batchItemFailures") or []
        if not failures:
            return None
        numbers = [record["dynamodb"].get("SequenceNumber") for record in batch]
        indexes = []
        for failure in failures:
            identifier = (failure or {}).get("itemIdentifier")
            if identifier not in numbers:  # empty or unknown identifier: Lambda retries the whole batch
                return 0
            indexes.append(numbers.index(identifier))
        return min(indexes)

    def _dead_letter(self, batch: list[dict[str, Any]]) -> None:
        log.error("%s: %d record(s) sent to the on-failure destination", self.name, len(batch))
        if self.on_failure_queue_url is None:
            return
        message = {
            "requestContext": {
                "functionArn": self.function.arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.max_retries + 1,
            },
            "DDBStreamBatchInfo": {
                "shardId": "local",
                "startSequenceNumber": batch[0]["dynamodb"].get("SequenceNumber"),
                "endSequenceNumber": batch[-1]["dynamodb"].get("SequenceNumber"),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        try:
            self.sqs.send_message(QueueUrl=self.on_failure_queue_url, MessageBody=json.dumps(message))
        except Exception:
            log.exception("%s: could not send to the on-failure destination", self.name)


def _parse_pattern(pattern: Any) -> dict[str, Any] | None:
    try:
        parsed = json.loads(pattern) if isinstance(pattern, str) else pattern
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _match(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    for key, expected in pattern.items():
        value = record.get(key)
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not _match(expected, value):
                return False
        elif isinstance(expected, list):
            if any(isinstance(item, dict) for item in expected):
                continue  # content filters (prefix, numeric, ...) are not emulated: let it through
            if value not in expected:
                return False
    return True
