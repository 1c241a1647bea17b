"""The run status rules (runs_core.run_status): the transition table, the terminal and waiting sets, the
limits; and that a write is checked against the table."""

import pytest

from runs_core import run_status
from runs_core.changes import Change
from runs_core.logic import run_writes
from runs_core.run_status import (
    CANCELLED,
    COMPLETED,
    CREATED,
    FAILED,
    QUEUED,
    RUN_STATUSES,
    RUNNING,
    TERMINAL_STATUSES,
    TRANSITIONS,
    WAITING_APPROVAL,
    WAITING_FOR_INPUT,
    WAITING_STATUSES,
    InvalidTransition,
)
from tests.fakes.stores import stores_in_memory


def test_the_table_covers_every_status_and_names_only_statuses():
    assert set(TRANSITIONS) == set(RUN_STATUSES)
    assert all(targets <= set(RUN_STATUSES) for targets in TRANSITIONS.values())
    assert all(current not in targets for current, targets in TRANSITIONS.items())  # no self-moves


def test_terminal_statuses_are_final_and_every_other_run_can_be_cancelled():
    for status in RUN_STATUSES:
        if status in TERMINAL_STATUSES:
            assert TRANSITIONS[status] == frozenset()
        else:
            assert run_status.can_move(status, CANCELLED) and run_status.may_cancel(status)


def test_the_moves_a_run_makes():
    assert TRANSITIONS[CREATED] == {QUEUED, FAILED, CANCELLED}
    assert TRANSITIONS[QUEUED] == {RUNNING, FAILED, CANCELLED}
    assert TRANSITIONS[RUNNING] == {WAITING_APPROVAL, WAITING_FOR_INPUT, COMPLETED, FAILED, CANCELLED}
    for waiting in WAITING_STATUSES:  # answered, timed out or cancelled; never completed while waiting
        assert TRANSITIONS[waiting] == {RUNNING, FAILED, CANCELLED}


def test_waiting_statuses_by_what_the_run_waits_for():
    assert run_status.WAITING_FOR == {"approval": WAITING_APPROVAL, "input": WAITING_FOR_INPUT}
    assert all(run_status.is_waiting(status) for status in WAITING_STATUSES)
    assert not run_status.is_waiting(RUNNING) and run_status.is_terminal(FAILED)
    assert run_status.initial_status(True) == QUEUED and run_status.initial_status(False) == CREATED


def test_check_move_refuses_what_the_table_does_not_allow():
    run_status.check_move(RUNNING, COMPLETED)
    with pytest.raises(InvalidTransition, match="completed to running"):
        run_status.check_move(COMPLETED, RUNNING)


LIMITS = {
    "step_count": 0,
    "max_steps": 10,
    "total_tokens": 0,
    "max_tokens": 1_000,
    "elapsed_seconds": 0.0,
    "max_duration_seconds": 60,
    "credits": 5,
}


@pytest.mark.parametrize(
    ("changed", "code"),
    [
        ({}, None),
        ({"step_count": 10}, "max_steps_exceeded"),
        ({"total_tokens": 1_000}, "max_tokens_exceeded"),
        ({"elapsed_seconds": 60.5}, "timeout"),
        ({"elapsed_seconds": None}, None),  # not started yet
        ({"credits": 0}, "budget_exceeded"),
        ({"step_count": 10, "credits": 0}, "max_steps_exceeded"),  # the first limit reached is reported
    ],
)
def test_limits_before_a_step(changed, code):
    passed = run_status.limit_passed(**{**LIMITS, **changed})
    assert (passed[0] if passed else None) == code


def test_limits_during_a_model_call():
    assert run_status.tokens_passed(1_000, 1_000) is None  # reaching the limit mid-call is allowed
    assert run_status.tokens_passed(1_001, 1_000) == (
        "max_tokens_exceeded",
        "The run used more than 1000 tokens.",
    )
    assert run_status.credits_passed(5, 5) is None
    assert run_status.credits_passed(5, 6)[0] == "budget_exceeded"


def test_a_write_that_breaks_the_rules_is_refused_before_it_is_made():
    with stores_in_memory() as stores:
        run = {"id": "run_1", "org_id": "org_test", "status": COMPLETED, "limits_max_duration_seconds": 1}
        stores.runs.create(run, Change(), "now", 0)
        with pytest.raises(InvalidTransition):
            run_writes.commit(stores.runs.get("run_1"), Change({"status": RUNNING}))
        assert stores.runs.get("run_1")["rev"] == 1
