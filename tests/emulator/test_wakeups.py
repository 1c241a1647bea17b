"""devstack.wakeups: a write to a table with a stream wakes the stack's readers (stream pollers, SSE) at
once. The wrap of moto's StreamShard.add is what makes it work: a moto that renames it fails here."""

import threading

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


def test_a_mark_taken_before_a_write_is_never_missed(stack):
    since = wakeups.mark()
    wakeups.written()  # between the reader's read and its wait
    assert wakeups.wait(since, timeout=0) is True


def test_sse_readers_of_the_local_stack_wait_for_writes_not_a_timer(stack):
    assert isinstance(events._new_events, wakeups.StreamWakeups)
