"""Count the AWS calls one thread makes, and the DynamoDB items they read.

A botocore hook on every client: BaseClient._make_api_call is wrapped while counting (clients are
made by runs_core, Powertools and the local stack at different times, so one wrapper catches them
all). Only calls made on the counting thread count: the local stack's own background threads (stream
pollers, Step Functions executions) run concurrently and are not part of the request.
"""

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient

_state = threading.local()
_original = BaseClient._make_api_call


def _label(client: BaseClient, operation: str, params: dict[str, Any]) -> str:
    service = client.meta.service_model.service_name
    table = params.get("TableName")
    if service == "dynamodb":
        return f"{operation}({_short(str(table))})" if table else operation
    return f"{service}.{operation}"


def _short(table: str) -> str:
    return table.rsplit("-", 1)[-1] if "-" in table else table


def _items_read(operation: str, response: dict[str, Any]) -> int:
    if operation == "GetItem":
        return 1 if response.get("Item") else 0
    if operation in ("Query", "Scan"):
        return int(response.get("ScannedCount", response.get("Count", 0)))
    if operation == "BatchGetItem":
        return sum(len(items) for items in (response.get("Responses") or {}).values())
    if operation == "TransactGetItems":
        return len(response.get("Responses") or [])
    return 0


def _counted(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
    counter: Counts | None = getattr(_state, "counter", None)
    if counter is None:
        return _original(self, operation_name, api_params)
    # Counted before it is made: a call AWS answers with an error (a failed condition, say) is billed too.
    counter.calls[_label(self, operation_name, api_params)] += 1
    response = _original(self, operation_name, api_params)
    if self.meta.service_model.service_name == "dynamodb":
        counter.items_read += _items_read(operation_name, response)
    return response


class Counts:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.items_read = 0

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def dynamodb(self) -> int:
        return sum(n for label, n in self.calls.items() if "." not in label)

    def by_api(self) -> str:
        return ", ".join(f"{label} {n}" if n > 1 else label for label, n in sorted(self.calls.items()))


def install() -> None:
    """Wrap every client's calls (before the local stack starts: its IAM check then wraps this). It stays
    installed: outside `counting()` it only passes calls through, and putting the original back would
    also drop any wrapper installed after it."""
    BaseClient._make_api_call = _counted  # type: ignore[method-assign]


@contextmanager
def counting() -> Iterator[Counts]:
    """Counts of the AWS calls made on this thread inside the block (install() first)."""
    counts = Counts()
    _state.counter = counts
    try:
        yield counts
    finally:
        _state.counter = None
