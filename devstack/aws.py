"""AWS for the local stack: moto in this process, with fake credentials and atomic requests.

moto's backends hold no locks, so two threads can both pass the same ConditionExpression (measured:
150 "successful" conditional UpdateItems out of 100 two-thread races, and the same for
TransactWriteItems). DynamoDB makes each request atomic, and the run state machine relies on that
(conditional writes on status + version). So every moto request is processed under one lock: handlers
still run concurrently, only each AWS call is atomic, as it is in AWS. The lock is taken per request
(at botocore's `before-send`, or around moto's answer in devstack.moto_direct for the data-plane calls
it answers at `before-call`), so nothing holds it while a handler runs: Lambda Invokes of local
functions are answered at `before-call` too, outside the lock (devstack.executions).

Step Functions executes state machines (moto's ASL interpreter, in its own daemon threads): MOTO_CONFIG.
"""

import functools
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.handlers import BUILTIN_HANDLERS

from devstack import (
    client_memo,
    dynamodb_responses,
    item_memory,
    moto_direct,
    overhead,
    query_index,
    retention,
)
from devstack.template import REGION
from devstack.wakeups import LiveFirstLock

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
# Settings that would send boto3 somewhere other than moto (a real profile, a custom endpoint).
_REAL_AWS_ENV_PREFIXES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE")

# moto's documented switch for running executions instead of returning static data.
MOTO_CONFIG: "DefaultConfig" = {"stepfunctions": {"execute_state_machine": True}}

# Re-entrant: a moto backend that itself calls boto3 on the same thread must not deadlock. Live readers
# (stream pollers, SSE) get it first (devstack.wakeups).
_MOTO_LOCK = LiveFirstLock()
_patched = False
_REGISTRY_LOCK = threading.Lock()


def start_moto() -> Any:
    """Point boto3 at fake credentials, make moto requests atomic, start moto; returns the mock to stop()."""
    from moto import mock_aws

    for name in list(os.environ):
        if name.startswith(_REAL_AWS_ENV_PREFIXES):
            del os.environ[name]
    os.environ.update(FAKE_AWS_ENV)
    _make_moto_requests_atomic()
    retention.install()  # what moto keeps per run: items, not copies (devstack.retention)
    query_index.install()  # a Query reads its page, not the whole table (devstack.query_index)
    dynamodb_responses.install()  # DynamoDB responses without moto's per-value picker
    overhead.install()  # what moto redoes per request and need not (devstack.overhead)
    client_memo.install()  # what botocore's clients redo per call and need not (devstack.client_memo)
    item_memory.install()  # items share the values they repeat (devstack.item_memory)
    moto_direct.install()  # DynamoDB data plane, PutEvents, SFN executions: no HTTP round trip
    mock = mock_aws(config=MOTO_CONFIG)
    mock.start()
    return mock


def _make_moto_requests_atomic() -> None:
    global _patched
    with _MOTO_LOCK:
        if _patched:
            return
        from moto.core.botocore_stubber import BotocoreStubber

        process_request = BotocoreStubber.process_request

        @functools.wraps(process_request)
        def atomic_process_request(self: BotocoreStubber, request: Any) -> Any:
            with _MOTO_LOCK:
                return process_request(self, request)

        BotocoreStubber.process_request = atomic_process_request  # type: ignore[method-assign]
        _patched = True


def moto_lock() -> LiveFirstLock:
    """The lock every moto request is processed under; hold it to change moto's state directly."""
    return _MOTO_LOCK


def register_before_call(event_name: str, handler: Callable[..., Any]) -> None:
    """Add a botocore `before-call.<service>.<Operation>` handler to every botocore session created
    from now on (botocore.handlers.BUILTIN_HANDLERS) and to boto3's default session if one exists
    already (it copied BUILTIN_HANDLERS when it was made). Idempotent per (event_name, handler).

    A `before-call` handler that returns (http response, parsed response) answers the call itself: it
    never reaches moto (devstack.executions, devstack.websocket).
    """
    with _REGISTRY_LOCK:
        if (event_name, handler) in BUILTIN_HANDLERS:
            return
        BUILTIN_HANDLERS.append((event_name, handler))
        if boto3.DEFAULT_SESSION is not None:
            boto3.DEFAULT_SESSION.events.register(event_name, handler)


def short_circuit_response(params: dict[str, Any], status: int, headers: dict[str, str]) -> AWSResponse:
    """The HTTP half of a botocore `before-call` answer (the call never leaves the process)."""
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    return AWSResponse(str(params.get("url", "")), status, http_headers, None)


def response_metadata(request_id: str, status: int, headers: dict[str, str]) -> dict[str, Any]:
    return {"RequestId": request_id, "HTTPStatusCode": status, "HTTPHeaders": headers, "RetryAttempts": 0}
