"""The one Logger, Tracer and Metrics of the service (Powertools). Correlation id = API request id.

Logging: every function's handler is wrapped by `observed(...)`, which sets the invocation's keys
(Lambda context, `request_id`/`correlation_id`, `run_id`, ...) with Powertools' *thread-safe* keys (a
contextvar): the local stack runs several invocations of one Logger concurrently in one process, and
plain `append_keys` would bleed one invocation's org/run into another's lines. Keys are cleared at the
start and end of each invocation. The event is never logged (it carries API keys, Authorization headers,
task tokens); add keys with `bind(...)`, never whole events or headers.

Tracing and metrics are made on first use: Tracer imports the X-Ray SDK (~100+ ms of import), which the
authorizer, for one, never needs. `lambda_handler` creates the Tracer at the start of the first traced
invocation, before the handler makes any AWS client (the SDK patches botocore's client class, so every
client is traced). `traced` marks a logic function for a subsegment only once a Tracer exists.

Metrics are EMF records in namespace POWERTOOLS_METRICS_NAMESPACE (RunsApi): `put_metrics` writes one
record per call (flushed at once, so concurrent invocations never share a metric set, and each record
may carry its own low-cardinality dimension such as Provider or ErrorCode).
"""

import functools
import logging
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

SERVICE = "runs-api"
NAMESPACE = "RunsApi"
logger = Logger(service=SERVICE)
_tracer: Any = None  # see _make_tracer
_cold_start = True

Event = dict[str, Any]
KeysOf = Callable[[Event], dict[str, Any]]


def _make_tracer() -> Any:
    """The process's Tracer, made by the first traced invocation (importing it patches botocore and costs
    cold start; functions and tests that trace nothing never pay it)."""
    global _tracer
    if _tracer is None:
        from aws_lambda_powertools import Tracer

        _tracer = Tracer(service=SERVICE)
        logging.getLogger("aws_lambda_powertools.tracing.tracer").addFilter(_answers_are_not_errors)
    return _tracer


def _answers_are_not_errors(record: logging.LogRecord) -> bool:
    """Powertools' tracer logs every exception a traced method raises at ERROR, with its traceback. A
    refused request (ApiError: 404, 402, 409…), a lost race that is retried (StaleRun) and a model call
    stopped by a cancel (ModelCancelled) are answers, not failures: they stay on the X-Ray subsegment
    but out of the error log. Anything else is still logged."""
    from runs_core.changes import StaleRun
    from runs_core.errors import ApiError
    from runs_core.providers.base import ModelCancelled

    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, ApiError | StaleRun | ModelCancelled)


def _namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or NAMESPACE


# ------------------------------------------------------------------------------------ logging


def bind(**keys: Any) -> None:
    """Add keys to every later log line of this invocation (None values are left out)."""
    logger.thread_safe_append_keys(**{key: value for key, value in keys.items() if value is not None})


def observed[F: Callable[..., Any]](keys: KeysOf | None = None, *, traced: bool = True) -> Callable[[F], F]:
    """Wrap a Lambda handler: per-invocation log keys (cleared before and after), the X-Ray handler
    subsegment (response never captured: it may hold API keys or secrets) unless `traced=False`."""

    def decorate(handler: F) -> F:
        wrapped: list[Callable[..., Any]] = []

        @functools.wraps(handler)
        def invoke(event: Event, context: Any) -> Any:
            global _cold_start
            cold_start, _cold_start = _cold_start, False
            logger.thread_safe_clear_keys()
            bind(
                cold_start=cold_start,
                function_name=getattr(context, "function_name", None),
                function_request_id=getattr(context, "aws_request_id", None),
            )
            try:
                bind(**(keys(event) if keys is not None and isinstance(event, dict) else {}))
            except Exception:  # a log key must never fail the invocation
                logger.exception("could not read log keys from the event")
            try:
                if not traced:
                    return handler(event, context)
                if not wrapped:  # the first traced invocation makes the Tracer (patches botocore)
                    wrapped.append(_make_tracer().capture_lambda_handler(handler, capture_response=False))
                return wrapped[0](event, context)
            finally:
                logger.thread_safe_clear_keys()

        return invoke  # type: ignore[return-value]

    return decorate


def api_keys(event: Event) -> dict[str, Any]:
    """API Gateway (REST) request: the request id is the correlation id; the run a route concerns."""
    context = event.get("requestContext") or {}
    request_id = context.get("requestId")
    authorizer = context.get("authorizer") or {}
    path = event.get("pathParameters") or {}
    return {
        "request_id": request_id,
        "correlation_id": request_id,
        "org_id": authorizer.get("org_id"),
        "run_id": path.get("run_id"),
        "thread_id": path.get("thread_id"),
    }


def task_keys(event: Event) -> dict[str, Any]:
    """A Step Functions task: the run and the task's action (never the task token)."""
    return {"run_id": event.get("run_id"), "task": event.get("action")}


def request_keys(event: Event) -> dict[str, Any]:
    """Authorizer / WebSocket events: their API Gateway request id."""
    request_id = (event.get("requestContext") or {}).get("requestId")
    return {"request_id": request_id, "correlation_id": request_id}


# ------------------------------------------------------------------------------------ tracing


def traced[T: Callable[..., Any]](function: T) -> T:
    """A subsegment for `function` when the invocation is traced (a Tracer exists); else a plain call.
    Responses are not captured (run records, action results and model output stay out of X-Ray)."""
    captured: list[Callable[..., Any]] = []

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        if _tracer is None:
            return function(*args, **kwargs)
        if not captured:
            captured.append(_tracer.capture_method(function, capture_response=False))
        return captured[0](*args, **kwargs)

    return call  # type: ignore[return-value]


# ------------------------------------------------------------------------------------ metrics

COUNT = "Count"
MILLISECONDS = "Milliseconds"
NO_UNIT = "None"


def put_metrics(values: dict[str, tuple[float, str]], **dimensions: str | None) -> None:
    """Write one EMF record now: {name: (value, unit)} with the service dimension and `dimensions`
    (None values left out). Keep dimensions low-cardinality (ErrorCode, Provider): never ids."""
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if not values or is_metrics_disabled():
        return
    from aws_lambda_powertools.metrics import EphemeralMetrics

    record = EphemeralMetrics(namespace=_namespace(), service=SERVICE)
    for dimension, label in dimensions.items():
        if label is not None:
            record.add_dimension(name=dimension, value=str(label))
    for name, (value, unit) in values.items():
        record.add_metric(name=name, unit=unit, value=value)
    try:
        record.flush_metrics()
    except Exception:  # metrics are best effort: never fail a run because of one
        logger.exception("could not write metrics", extra={"metrics": sorted(values)})
