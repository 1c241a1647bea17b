"""runs_core.observability: per-invocation log keys that do not bleed between concurrent invocations."""

import io
import json
import logging
import threading
from types import SimpleNamespace
from typing import Any

from runs_core import observability
from runs_core.observability import bind, logger, observed


def _context(name: str) -> Any:
    return SimpleNamespace(function_name=name, aws_request_id=f"{name}-request")


def test_concurrent_invocations_keep_their_own_keys() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)
    both_bound = threading.Barrier(2)

    @observed(observability.task_keys, traced=False)
    def task(event: dict[str, Any], context: Any) -> None:
        bind(org_id=f"org_{event['run_id']}")
        both_bound.wait(timeout=5)  # each has bound its keys before either logs
        logger.info("task line")

    try:
        threads = [
            threading.Thread(target=task, args=({"run_id": run_id, "action": "step"}, _context(run_id)))
            for run_id in ("run_a", "run_b")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        logger.info("outside any invocation")
    finally:
        logging.getLogger(logger.name).removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_run = {line["run_id"]: line for line in lines if line["message"] == "task line"}
    assert by_run["run_a"]["org_id"] == "org_run_a" and by_run["run_b"]["org_id"] == "org_run_b"
    assert by_run["run_a"]["function_request_id"] == "run_a-request"
    outside = next(line for line in lines if line["message"] == "outside any invocation")
    assert "run_id" not in outside and "org_id" not in outside


def test_api_keys_never_include_headers() -> None:
    event = {
        "headers": {"Authorization": "Bearer sk_test_secret"},
        "requestContext": {"requestId": "req-1", "authorizer": {"org_id": "org_1", "api_key_id": "key_1"}},
        "pathParameters": {"run_id": "run_1"},
    }
    keys = observability.api_keys(event)
    assert keys["request_id"] == keys["correlation_id"] == "req-1"
    assert keys["org_id"] == "org_1" and keys["run_id"] == "run_1"
    assert "sk_test_secret" not in json.dumps(keys)


def test_traced_functions_run_plainly_without_a_tracer(monkeypatch) -> None:
    monkeypatch.setattr(observability, "_tracer", None)

    @observability.traced
    def add(a: int, b: int) -> int:
        return a + b

    assert add(1, 2) == 3
    assert observability._tracer is None


def test_metrics_are_not_printed_when_disabled(monkeypatch, capsys) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    observability.put_metrics({"RunsCreated": (1, observability.COUNT)})
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    observability.put_metrics({"RunsFailed": (1, observability.COUNT)}, ErrorCode="timeout")
    record = json.loads(capsys.readouterr().out)
    assert record["RunsFailed"] == [1.0] and record["ErrorCode"] == "timeout"
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "RunsApi"
