"""devstack.wakeups: a write to a table with a stream wakes the stack's readers (stream pollers, SSE) at
once. The wrap of moto's StreamShard.add is what makes it work: a moto that renames it fails here."""

import threading
import time

import boto3

from devstack import wakeups
from devstack.template import REGION
from runs_core.logic import events


def test_a_stream_record_wakes_a_waiting_reader(stack):
    table = next(name for name in stack.tables if "Events" in name)
    since = wakeups.mark()
    woken: list[bool] = []
    reader = threading.Thread(target=lambda: woken.append(wakeups.wait(since, timeout=30)))
    reader.start()
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=table, Item={"run_id": {"S": "run_wakeup_probe"}, "seq": {"N": "1"}}
    )
    reader.join(30)
    assert woken == [True]
    assert wakeups.mark() != since


def _put_event(stack, run_id: str) -> None:
    table = next(name for name in stack.tables if "Events" in name)
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=table, Item={"run_id": {"S": run_id}, "seq": {"N": "1"}}
    )


def test_an_sse_reader_is_woken_by_its_runs_writes_not_by_other_runs(stack):
    mark = wakeups.mark_run("run_watched")  # what StreamWakeups.mark takes (without marking this thread live)
    _put_event(stack, "run_beside")
    assert mark.wait(0) is False  # another run's event: no read for nothing
    _put_event(stack, "run_watched")  # between the reader's read and its wait
    assert mark.wait(0) is True


def test_an_unknown_write_wakes_every_sse_reader(stack):
    marks = [wakeups.mark_run(run_id) for run_id in ("run_a", "run_b")]
    wakeups.written()  # what StreamMappings.stop does
    assert [mark.wait(0) for mark in marks] == [True, True]


def test_a_mark_taken_before_a_write_is_never_missed(stack):
    since = wakeups.mark()
    wakeups.written()  # between the reader's read and its wait
    assert wakeups.wait(since, timeout=0) is True


def test_sse_readers_of_the_local_stack_wait_for_writes_not_a_timer(stack):
    assert isinstance(events._new_events, wakeups.StreamWakeups)


def _waiting(lock: wakeups.LiveFirstLock, live: int, others: int) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (lock._live_waiting, lock._others_waiting) == (live, others):
            return True
        time.sleep(0.001)
    return False


def test_a_live_thread_gets_the_lock_before_others_that_waited_longer():
    lock = wakeups.LiveFirstLock()
    order: list[str] = []

    def take(name: str, live: bool) -> None:
        if live:
            wakeups.live_thread()
        with lock:
            order.append(name)

    lock.acquire()
    other = threading.Thread(target=take, args=("other", False))
    other.start()
    assert _waiting(lock, live=0, others=1)
    live = threading.Thread(target=take, args=("live", True))
    live.start()
    assert _waiting(lock, live=1, others=1)
    lock.release()
    for thread in (other, live):
        thread.join(30)
    assert order == ["live", "other"]


def test_the_lock_is_reentrant_and_only_its_holder_releases_it():
    lock = wakeups.LiveFirstLock()
    with lock, lock:  # a moto backend calling boto3 on the same thread
        failures: list[Exception] = []

        def release_elsewhere() -> None:
            try:
                lock.release()
            except RuntimeError as error:
                failures.append(error)

        thread = threading.Thread(target=release_elsewhere)
        thread.start()
        thread.join(30)
        assert len(failures) == 1
    taken: list[bool] = []
    thread = threading.Thread(target=lambda: taken.append(lock.acquire()))
    thread.start()
    thread.join(30)
    assert taken == [True]  # released by both exits


def test_an_sse_reader_is_live_once_it_takes_a_mark():
    seen: list[bool] = []
    other = threading.Thread(target=lambda: seen.append(wakeups.is_live()))
    reader = threading.Thread(
        target=lambda: (wakeups.StreamWakeups().mark("run_1"), seen.append(wakeups.is_live()))
    )
    for thread in (other, reader):
        thread.start()
        thread.join(30)
    assert seen == [False, True]


def test_a_server_thread_is_not_live_for_its_next_request():
    """A keep-alive connection's thread that served a stream serves its next request as any other."""
    seen: list[bool] = []

    def serve_a_stream_then_a_request() -> None:
        wakeups.StreamWakeups().mark("run_1")
        seen.append(wakeups.is_live())
        wakeups.live_thread(False)  # what devstack.server does before each request
        seen.append(wakeups.is_live())

    thread = threading.Thread(target=serve_a_stream_then_a_request)
    thread.start()
    thread.join(30)
    assert seen == [True, False]


def test_flushers_of_live_model_output_are_live():
    from runs_core.execution.live import LiveMessage

    message = LiveMessage(
        {}, "stp_1", commit=lambda run, new: run, load=lambda _: None, over_limit=lambda *_: None
    )
    seen: list[bool] = []
    flusher = threading.Thread(target=lambda: seen.append(wakeups.is_live()), name=message._thread.name)
    flusher.start()
    flusher.join(30)
    assert seen == [True]


def test_botocore_calls_of_the_local_stack_carry_a_local_invocation_id(stack):
    client = boto3.client("dynamodb", region_name=REGION)
    ids: list[str] = []
    client.meta.events.register(
        "before-send.dynamodb.ListTables",
        lambda request, **_: ids.append(str(request.headers["amz-sdk-invocation-id"])),
    )
    client.list_tables()
    assert ids and "local-" in ids[0]  # not a uuid4: os.urandom lets go of the GIL
