"""The stream router (runs_core.stream.event_router) with a fake bus and fake delivery markers."""

import json
from collections.abc import Iterable, Sequence
from typing import Any

from runs_core.bus import BusEntry
from runs_core.storage.dynamo import serialize
from runs_core.stream.event_router import EventRouter

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/EventsTable/stream/2026-01-01T00:00:00.000"


def record(seq: int, run_id: str = "run_1", event_name: str = "INSERT", sequence_number: str | None = None):
    image = {
        "run_id": run_id,
        "seq": seq,
        "type": "step.started" if seq > 1 else "run.created",
        "data": {"n": seq, "ratio": 0.5},
        "created_at": "2026-11-23T12:00:00Z",
        "org_id": "org_1",
        "agent_id": "agt_1",
        "expires_at": 1_900_000_000,
    }
    dynamodb: dict[str, Any] = {
        "Keys": serialize({"run_id": run_id, "seq": seq}),
        "SequenceNumber": sequence_number or str(1000 + seq),
        "SizeBytes": 100,
        "StreamViewType": "NEW_IMAGE",
        "ApproximateCreationDateTime": 1_790_000_000,
    }
    if event_name != "REMOVE":
        dynamodb["NewImage"] = serialize(image)
    return {
        "eventID": f"ev{seq}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": STREAM_ARN,
    }


class FakeBus:
    """Records every PutEvents call; `fail` maps a seq to how many times its entry fails."""

    def __init__(self, fail: dict[int, int] | None = None) -> None:
        self.calls: list[list[BusEntry]] = []
        self.fail = dict(fail or {})

    def put_events(self, entries: Sequence[BusEntry]) -> list[str | None]:
        assert len(entries) <= 10
        self.calls.append(list(entries))
        codes: list[str | None] = []
        for entry in entries:
            seq = json.loads(entry.detail)["seq"]
            if self.fail.get(seq, 0) > 0:
                self.fail[seq] -= 1
                codes.append("ThrottlingException")
            else:
                codes.append(None)
        return codes


class FakeMarkers:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    def delivered(self, event_ids: Iterable[str]) -> set[str]:
        return self.ids & set(event_ids)

    def mark(self, event_ids: Iterable[str], now_epoch: int) -> None:
        self.ids.update(event_ids)


def seqs_put(bus: FakeBus) -> list[int]:
    return [json.loads(entry.detail)["seq"] for call in bus.calls for entry in call]


def test_entries_carry_the_envelope_org_and_agent():
    bus = FakeBus()
    response = EventRouter(bus).handle({"Records": [record(1)]})
    assert response == {"batchItemFailures": []}
    (entry,) = bus.calls[0]
    assert entry.source == "runs-api" and entry.detail_type == "run.created"
    assert json.loads(entry.detail) == {
        "seq": 1,
        "type": "run.created",
        "run_id": "run_1",
        "data": {"n": 1, "ratio": 0.5},
        "created_at": "2026-11-23T12:00:00Z",
        "org_id": "org_1",
        "agent_id": "agt_1",
        "event_id": "run_1:1",
    }


def test_25_records_are_put_in_3_calls_of_at_most_10():
    bus = FakeBus()
    response = EventRouter(bus).handle({"Records": [record(seq) for seq in range(1, 26)]})
    assert response == {"batchItemFailures": []}
    assert [len(call) for call in bus.calls] == [10, 10, 5]
    assert seqs_put(bus) == list(range(1, 26))


def test_a_failed_entry_is_retried_once_inline():
    bus = FakeBus(fail={7: 1})
    response = EventRouter(bus).handle({"Records": [record(seq) for seq in range(1, 13)]})
    assert response == {"batchItemFailures": []}
    assert [len(call) for call in bus.calls] == [10, 2, 1]
    assert sorted(seqs_put(bus)) == sorted([*range(1, 13), 7])


def test_an_entry_that_fails_twice_reports_only_its_record():
    bus = FakeBus(fail={3: 2})
    markers = FakeMarkers()
    response = EventRouter(bus, markers).handle({"Records": [record(seq) for seq in range(1, 6)]})
    assert response == {"batchItemFailures": [{"itemIdentifier": "1003"}]}
    assert markers.ids == {"run_1:1", "run_1:2", "run_1:4", "run_1:5"}


def test_redelivered_records_are_not_put_twice():
    bus = FakeBus(fail={3: 2})
    markers = FakeMarkers()
    router = EventRouter(bus, markers)
    records = [record(seq) for seq in range(1, 6)]
    assert router.handle({"Records": records})["batchItemFailures"] == [{"itemIdentifier": "1003"}]
    # Lambda retries from the first failed record: 3, 4, 5 come again; 4 and 5 are already on the bus.
    assert router.handle({"Records": records[2:]}) == {"batchItemFailures": []}
    assert sorted(seqs_put(bus)) == [1, 2, 3, 3, 3, 4, 5]  # 3: two failed tries, then accepted
    assert markers.ids == {f"run_1:{seq}" for seq in range(1, 6)}


def test_a_duplicate_within_one_batch_is_put_once():
    bus = FakeBus()
    batch = [record(1), record(2), record(2, sequence_number="2002")]
    assert EventRouter(bus, FakeMarkers()).handle({"Records": batch}) == {"batchItemFailures": []}
    assert seqs_put(bus) == [1, 2]


def test_non_insert_records_are_ignored_and_malformed_ones_fail():
    bus = FakeBus()
    broken = record(3)
    del broken["dynamodb"]["NewImage"]["type"]
    response = EventRouter(bus).handle({"Records": [record(1), record(2, event_name="REMOVE"), broken]})
    assert response == {"batchItemFailures": [{"itemIdentifier": "1003"}]}
    assert seqs_put(bus) == [1]


def test_a_whole_failed_call_fails_its_records():
    class DownBus(FakeBus):
        def put_events(self, entries: Sequence[BusEntry]) -> list[str | None]:
            self.calls.append(list(entries))
            return ["ServiceUnavailable"] * len(entries)

    bus = DownBus()
    response = EventRouter(bus).handle({"Records": [record(1), record(2)]})
    assert response == {"batchItemFailures": [{"itemIdentifier": "1001"}, {"itemIdentifier": "1002"}]}
    assert len(bus.calls) == 2  # the call and its one inline retry


def test_each_record_is_read_once_for_the_push_the_bus_and_the_follow_up(monkeypatch):
    from runs_core.stream import event_router

    reads: list[dict[str, Any]] = []
    deserialize = event_router.dynamo.deserialize

    def counted(image: dict[str, Any]) -> dict[str, Any]:
        reads.append(image)
        return deserialize(image)

    monkeypatch.setattr(event_router.dynamo, "deserialize", counted)
    pushed: list[dict[str, Any]] = []
    followed: list[dict[str, Any]] = []
    bus = FakeBus()
    router = EventRouter(bus, FakeMarkers(), pusher=pushed.extend, follow_up=followed.append)
    assert router.handle({"Records": [record(1), record(2)]}) == {"batchItemFailures": []}
    assert len(reads) == 2 and seqs_put(bus) == [1, 2]
    assert [item["seq"] for item in pushed] == [1, 2]
    assert [id(item) for item in followed] == [id(item) for item in pushed]
