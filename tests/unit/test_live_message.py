"""LiveMessage (runs_core.execution.live): what a step writes while the model streams, with a fake run store.

Real threads: the provider side calls text/tool_call from the test's thread, the flusher writes from its
own. Waits are bounded by deadlines; nothing asserts how long anything took.
"""

import threading
import time
from typing import Any

import pytest

from runs_core.changes import NewEvent, StaleRun
from runs_core.execution.live import LiveMessage, Stop
from runs_core.providers.base import ModelCancelled, TokenUsage, ToolCall

DEADLINE_S = 10.0


class FakeRuns:
    """A run and its log; commits are conditional on `rev`, like RunStore.commit."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.run: dict[str, Any] = {"id": "run_1", "rev": 1, "status": "running", "last_event_seq": 3}
        self.log: list[tuple[int, str, dict[str, Any]]] = []
        self.loads = 0

    def commit(self, run: dict[str, Any], events: list[NewEvent]) -> dict[str, Any]:
        with self.lock:
            if run["rev"] != self.run["rev"]:
                raise StaleRun
            seq = self.run["last_event_seq"]
            for event in events:
                seq += 1
                self.log.append((seq, event.type, event.data))
            self.run = {**self.run, "rev": self.run["rev"] + 1, "last_event_seq": seq}
            return dict(self.run)

    def load(self, run_id: str) -> dict[str, Any] | None:
        with self.lock:
            self.loads += 1
            return dict(self.run)

    def cancel(self) -> None:
        with self.lock:
            self.run = {**self.run, "rev": self.run["rev"] + 1, "status": "cancelled"}
            self.run["last_event_seq"] += 1
            self.log.append((self.run["last_event_seq"], "run.cancelled", {}))

    def types(self) -> list[str]:
        with self.lock:
            return [type_ for _, type_, _ in self.log]

    def deltas(self) -> list[str]:
        with self.lock:
            return [data["delta"] for _, type_, data in self.log if type_ == "message.delta"]


def live_message(runs: FakeRuns, over_limit: Any = None) -> LiveMessage:
    return LiveMessage(
        runs.load("run_1") or {},
        "stp_1",
        commit=runs.commit,
        load=runs.load,
        over_limit=over_limit or (lambda streamed, reported: None),
    )


def eventually(condition: Any) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_the_first_words_are_written_while_the_call_goes_on_and_the_deltas_add_up():
    runs = FakeRuns()
    with live_message(runs) as live:
        live.text("Hello")
        eventually(lambda: runs.deltas() == ["Hello"])  # at once: not after the call
        for word in (" there", ",", " friend"):
            live.text(word)
        eventually(lambda: "".join(runs.deltas()) == "Hello there, friend")
    assert live.written_text == "Hello there, friend"
    seqs = [seq for seq, _, _ in runs.log]
    assert seqs == list(range(4, 4 + len(seqs)))  # contiguous after the run's last seq


def test_a_tool_call_is_written_as_soon_as_its_arguments_are_complete():
    runs = FakeRuns()
    with live_message(runs) as live:
        live.tool_call(ToolCall("call_1", "lookup", {"id": 7}))
        eventually(lambda: "tool.call" in runs.types())
    [(_, _, data)] = [entry for entry in runs.log if entry[1] == "tool.call"]
    assert data == {"step_id": "stp_1", "action": "lookup", "arguments": {"id": 7}}
    assert live.written_calls == {"call_1"}


def test_close_leaves_the_unflushed_rest_to_the_caller():
    runs = FakeRuns()
    live = live_message(runs)
    live.text("written at once")
    live.text(" and the rest")
    with live:
        pass  # closed at once: maybe after the first flush, surely before a periodic one
    # What the log holds is exactly written_text, a prefix of the message; the caller writes the rest.
    assert "".join(runs.deltas()) == live.written_text
    assert live.text_so_far == "written at once and the rest"
    assert live.text_so_far.startswith(live.written_text)


def test_a_cancel_ends_the_call_and_nothing_is_written_after_it():
    runs = FakeRuns()
    closed = threading.Event()
    with live_message(runs) as live:
        live.on_abort(closed.set)  # what a provider hands over: close its connection
        live.text("Partial")
        eventually(lambda: runs.deltas() == ["Partial"])
        runs.cancel()
        live.text(" answer that must not be written")
        assert closed.wait(DEADLINE_S)
    assert live.stopped == Stop(None, "the run ended during the model call")
    assert runs.types()[-1] == "run.cancelled"
    assert isinstance(live.cancelled(), ModelCancelled)


def test_a_cancel_during_a_silent_model_is_noticed_by_reading_the_run():
    runs = FakeRuns()
    closed = threading.Event()
    with live_message(runs) as live:
        live.on_abort(closed.set)
        runs.cancel()  # no text arrives: no flush could fail
        assert closed.wait(DEADLINE_S)
    assert live.stopped is not None and runs.loads >= 2
    assert runs.types() == ["run.cancelled"]


def test_another_change_to_the_running_run_does_not_stop_the_message():
    runs = FakeRuns()
    with live_message(runs) as live:
        with runs.lock:  # e.g. an operator's metadata update: rev moves, status stays running
            runs.run = {**runs.run, "rev": runs.run["rev"] + 1}
        live.text("still streaming")
        eventually(lambda: runs.deltas() == ["still streaming"])
    assert live.stopped is None


def test_a_limit_passed_mid_stream_ends_the_call():
    runs = FakeRuns()
    seen: list[tuple[str, TokenUsage | None]] = []

    def over_limit(streamed: str, reported: TokenUsage | None) -> tuple[str, str] | None:
        seen.append((streamed, reported))
        return ("max_tokens_exceeded", "too many") if len(streamed) > 10 else None

    closed = threading.Event()
    with live_message(runs, over_limit) as live:
        live.on_abort(closed.set)
        live.text("short")
        eventually(lambda: runs.deltas() == ["short"])
        live.text(" and now far too long")
        assert closed.wait(DEADLINE_S)
    assert live.stopped == Stop("max_tokens_exceeded", "too many")
    assert "".join(runs.deltas()).startswith("short")


@pytest.mark.parametrize("reported", [None, TokenUsage(input_tokens=3, output_tokens=5)])
def test_the_limit_check_sees_the_providers_count_when_there_is_one(reported):
    runs = FakeRuns()
    seen: list[TokenUsage | None] = []
    with live_message(runs, lambda streamed, usage: seen.append(usage)) as live:
        if reported:
            live.usage(reported)
        live.text("x")
        eventually(lambda: bool(seen))
    assert seen[-1] == reported


def test_a_requested_cancel_stops_the_message_before_the_cancel_is_written():
    """A cancel that lost a race to the flushes marks the run; the flusher yields and ends the call."""
    runs = FakeRuns()
    closed = threading.Event()
    with live_message(runs) as live:
        live.on_abort(closed.set)
        with runs.lock:
            runs.run = {**runs.run, "cancel_requested_at": "2026-11-29T20:00:00Z"}
        assert closed.wait(DEADLINE_S)
    assert live.stopped is not None and live.stopped.code is None


def test_a_failed_write_is_retried_without_losing_or_repeating_text():
    runs = FakeRuns()
    failures = [RuntimeError("ProvisionedThroughputExceeded")]
    commit = runs.commit

    def flaky(run: dict[str, Any], events: list[NewEvent]) -> dict[str, Any]:
        if failures:
            raise failures.pop()
        return commit(run, events)

    live = LiveMessage(runs.run, "stp_1", commit=flaky, load=runs.load, over_limit=lambda s, u: None)
    with live:
        live.text("first words")
        live.text(", more")
        eventually(lambda: "".join(runs.deltas()) == "first words, more")
    assert "".join(runs.deltas()) == live.written_text == "first words, more"
