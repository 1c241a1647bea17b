"""The WebSocket claim logic (runs_core.stream.websocket): the backlog sender and the stream router race
for the same subscription, and each event still reaches it once, in order. Fake store, log and poster."""

import json
import random
import threading
import time
from typing import Any

from runs_core.storage.connections import Subscriber
from runs_core.stream import websocket


class FakeStore:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subs: dict[tuple[str, str], int] = {}
        self.keys: dict[str, tuple[str, float]] = {}  # connection → (key hash, checked at); default: fresh
        self.checked: list[tuple[str, int, str | None]] = []
        self.sending: dict[tuple[str, str], int] = {}
        self.deleted: list[str] = []
        self.claims = 0

    def last_sent(self, run_id: str, connection_id: str) -> int | None:
        with self.lock:
            return self.subs.get((run_id, connection_id))

    def claim(self, run_id: str, connection_id: str, first: int, last: int) -> bool:
        time.sleep(random.random() / 5000)  # widen the race window
        with self.lock:
            key = (run_id, connection_id)
            if self.subs.get(key) != first - 1 or key in self.sending:
                return False
            self.subs[key] = last
            self.sending[key] = last
            self.claims += 1
            return True

    def release(self, run_id: str, connection_id: str, last: int, sent_through: int) -> None:
        time.sleep(random.random() / 5000)  # a slow post: another sender must not overtake it
        with self.lock:
            key = (run_id, connection_id)
            if self.sending.get(key) == last:
                del self.sending[key]
                if key in self.subs and sent_through < last:
                    self.subs[key] = sent_through

    def subscribers(self, run_id: str) -> dict[str, Subscriber]:
        with self.lock:
            return {
                cid: Subscriber(last, *self.keys.get(cid, ("key_hash_1", time.time())))
                for (rid, cid), last in self.subs.items()
                if rid == run_id
            }

    def key_checked(self, connection_id: str, now_epoch: int, run_id: str | None = None) -> None:
        with self.lock:
            self.checked.append((connection_id, now_epoch, run_id))

    def delete_connection(self, connection_id: str) -> None:
        with self.lock:
            self.deleted.append(connection_id)
            self.subs = {key: last for key, last in self.subs.items() if key[1] != connection_id}


class FakeLog:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[dict[str, Any]] = []

    def append(self, run_id: str) -> dict[str, Any]:
        with self.lock:
            item = {
                "seq": len(self.items) + 1,
                "type": "message.delta",
                "run_id": run_id,
                "data": {"step_id": "s", "delta": "x"},
                "created_at": "2026-01-01T00:00:00Z",
            }
            self.items.append(item)
            return item

    def after(self, run_id: str, after_seq: int, limit: int) -> list[dict[str, Any]]:
        with self.lock:
            return [item for item in self.items if item["seq"] > after_seq][:limit]


class FakePoster:
    def __init__(self, gone: set[str] | None = None) -> None:
        self.lock = threading.Lock()
        self.sent: dict[str, list[int]] = {}
        self.gone = gone or set()
        self.closed: list[str] = []

    def close(self, connection_id: str) -> None:
        self.closed.append(connection_id)

    def post(self, connection_id: str, data: bytes) -> None:
        if connection_id in self.gone:
            raise websocket.Gone(connection_id)
        time.sleep(random.random() / 5000)  # a post takes time: a later seq must not overtake it
        with self.lock:
            self.sent.setdefault(connection_id, []).append(json.loads(data)["seq"])


def test_backlog_and_router_racing_send_each_event_once_in_order():
    for round_ in range(20):
        store, log, poster = FakeStore(), FakeLog(), FakePoster()
        run_id = f"run_{round_}"
        for _ in range(30):  # written before the subscription: backlog
            log.append(run_id)
        store.subs[(run_id, "c1")] = 5  # subscribed with after_seq=5
        routed: list[dict[str, Any]] = []

        def writer_and_router() -> None:
            for _ in range(60):  # written while the backlog is being sent: the router pushes each
                item = log.append(run_id)  # noqa: B023
                routed.append(item)  # noqa: B023
                websocket.push(store, poster, [item])  # noqa: B023

        router = threading.Thread(target=writer_and_router)
        router.start()
        websocket.send_backlog(store, log, poster, "c1", run_id)
        router.join()
        websocket.push(store, poster, routed)  # a redelivered stream batch sends nothing again
        assert poster.sent["c1"] == list(range(6, 91)), round_


def test_router_redelivery_and_unordered_batches_do_not_duplicate():
    store, log, poster = FakeStore(), FakeLog(), FakePoster()
    items = [log.append("run_a") for _ in range(5)]
    store.subs[("run_a", "c1")] = 0
    store.subs[("run_a", "c2")] = 3
    websocket.push(store, poster, list(reversed(items)) + items)
    websocket.push(store, poster, items)
    assert poster.sent == {"c1": [1, 2, 3, 4, 5], "c2": [4, 5]}


def test_a_gone_connection_is_deleted_and_others_still_get_the_events():
    store, log, poster = FakeStore(), FakeLog(), FakePoster(gone={"dead"})
    items = [log.append("run_a") for _ in range(3)]
    store.subs[("run_a", "dead")] = 0
    store.subs[("run_a", "live")] = 0
    websocket.push(store, poster, items)
    assert store.deleted == ["dead"]
    assert poster.sent == {"live": [1, 2, 3]}


def test_backlog_stops_when_unsubscribed():
    store, log, poster = FakeStore(), FakeLog(), FakePoster()
    log.append("run_a")
    assert websocket.send_backlog(store, log, poster, "c1", "run_a") == 0
    assert poster.sent == {}


def test_router_sends_a_batch_under_one_claim():
    store, log, poster = FakeStore(), FakeLog(), FakePoster()
    items = [log.append("run_a") for _ in range(250)]
    store.subs[("run_a", "c1")] = 0
    websocket.push(store, poster, items)
    assert poster.sent == {"c1": list(range(1, 251))}
    assert store.claims == 3  # batches of at most MAX_BATCH (100) consecutive seqs
    assert store.subs[("run_a", "c1")] == 250 and not store.sending


def test_a_gap_in_the_batch_stops_at_the_gap():
    store, log, poster = FakeStore(), FakeLog(), FakePoster()
    items = [log.append("run_a") for _ in range(6)]
    store.subs[("run_a", "c1")] = 0
    websocket.push(store, poster, items[:3] + items[4:])  # seq 4 not in this stream batch
    assert poster.sent == {"c1": [1, 2, 3]}
    websocket.send_backlog(store, log, poster, "c1", "run_a")
    assert poster.sent == {"c1": [1, 2, 3, 4, 5, 6]}


def test_a_failed_post_hands_the_unsent_rest_back():
    class Flaky(FakePoster):
        def post(self, connection_id: str, data: bytes) -> None:
            if json.loads(data)["seq"] == 3 and not getattr(self, "failed", False):
                self.failed = True
                raise RuntimeError("throttled")
            super().post(connection_id, data)

    store, log, poster = FakeStore(), FakeLog(), Flaky()
    items = [log.append("run_a") for _ in range(5)]
    store.subs[("run_a", "c1")] = 0
    websocket.push(store, poster, items)  # logged, not raised
    assert poster.sent == {"c1": [1, 2]} and store.subs[("run_a", "c1")] == 2 and not store.sending
    websocket.push(store, poster, items)  # the redelivered stream batch sends the rest, once
    assert poster.sent == {"c1": [1, 2, 3, 4, 5]}


# ---------------------------------------------------------------- revoked keys


def no_key_read(key_hash: str) -> bool:
    raise AssertionError("a key checked moments ago was read again")


def test_a_recently_checked_key_is_not_read_again():
    store, log, poster = FakeStore(), FakeLog(), FakePoster()
    store.subs[("run_a", "c1")] = 0
    websocket.push(store, poster, [log.append("run_a")], is_active=no_key_read)
    assert poster.sent == {"c1": [1]} and store.checked == []


def test_the_router_drops_a_subscriber_whose_key_was_revoked():
    store, log, poster = FakeStore(), FakeLog(), FakePoster()
    now = 1_000_000.0
    due = now - websocket.KEY_RECHECK_SECONDS
    store.subs[("run_a", "revoked")] = 0
    store.subs[("run_a", "active")] = 0
    store.keys = {"revoked": ("hash_revoked", due), "active": ("hash_active", due)}

    websocket.push(
        store, poster, [log.append("run_a")], is_active=lambda h: h == "hash_active", clock=lambda: now
    )

    assert poster.sent == {"active": [1]}
    assert store.deleted == ["revoked"] and poster.closed == ["revoked"]
    assert store.checked == [("active", int(now), "run_a")]  # the next check is KEY_RECHECK_SECONDS away


def test_a_subscription_without_a_recorded_key_is_dropped():
    store, log, poster = FakeStore(), FakeLog(), FakePoster()
    store.subs[("run_a", "old")] = 0
    store.keys = {"old": (None, time.time())}  # type: ignore[dict-item]
    websocket.push(store, poster, [log.append("run_a")], is_active=no_key_read)
    assert poster.sent == {} and store.deleted == ["old"] and poster.closed == ["old"]
