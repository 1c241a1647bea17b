"""Powertools' tracer logs what a traced method raises: answers (ApiError, lost races, cancelled model
calls) stay out of the error log, unexpected failures do not (runs_core.observability)."""

import logging

import pytest

from runs_core import observability
from runs_core.errors import NotFound


def test_a_traced_function_refusing_a_request_logs_no_error(caplog, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setattr(observability, "_tracer", None)
    observability._make_tracer()

    @observability.traced
    def refuse() -> None:
        raise NotFound("No run 'run_x'.")

    with caplog.at_level(logging.DEBUG), pytest.raises(NotFound):
        refuse()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_traced_function_failing_unexpectedly_is_still_logged(caplog, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setattr(observability, "_tracer", None)
    observability._make_tracer()

    @observability.traced
    def fail() -> None:
        raise RuntimeError("a bug")

    with caplog.at_level(logging.DEBUG), pytest.raises(RuntimeError):
        fail()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "fail" in errors[0], errors
