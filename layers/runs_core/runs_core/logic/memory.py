"""Memory routes (docs/api.md §4, §5): a run's key-value memory (a thread's, for a run in a thread), or a
thread's, as clients read and write it; runs use it through the memory builtins."""

import json
from typing import Any, Literal

from runs_core import clock
from runs_core.context import Caller
from runs_core.errors import NotFound, ValidationFailed
from runs_core.logic import conversation, threads
from runs_core.logic.run_writes import load_run
from runs_core.models.runs import MemoryEntry, MemoryItems
from runs_core.stores import get_stores

MAX_MEMORY_VALUE_BYTES = 64 * 1024

MemoryOwner = Literal["run", "thread"]


def memory_scope(caller: Caller, owner: MemoryOwner, owner_id: str) -> str:
    """The memory a route addresses: a run's (a thread's, for a run in a thread) or a thread's."""
    if owner == "thread":
        return f"thread#{threads.load_thread(caller, owner_id)['id']}"
    return conversation.memory_scope(load_run(caller, owner_id))


def get_memory(caller: Caller, owner: MemoryOwner, owner_id: str) -> MemoryItems:
    return MemoryItems(items=get_stores().memory.items(memory_scope(caller, owner, owner_id)))


def put_memory(caller: Caller, owner: MemoryOwner, owner_id: str, key: str, value: Any) -> MemoryEntry:
    if len(json.dumps(value)) > MAX_MEMORY_VALUE_BYTES:
        message = f"must be at most {MAX_MEMORY_VALUE_BYTES} bytes as JSON"
        raise ValidationFailed(
            f"value {message}", [{"field": "value", "code": "max_length", "message": message}]
        )
    get_stores().memory.put(memory_scope(caller, owner, owner_id), key, value, clock.now_iso())
    return MemoryEntry(key=key, value=value)


def delete_memory(caller: Caller, owner: MemoryOwner, owner_id: str, key: str) -> None:
    if not get_stores().memory.delete(memory_scope(caller, owner, owner_id), key):
        raise NotFound(f"No memory entry {key!r}.")
