"""A thread's conversation as the agent loop sees it: the message records a run adds, the history a new
run is shown, and the memory scope a run shares with its thread. Apart from runs_core.logic.threads (the
threads API and hand-over, pydantic models) so RunStepFunction imports no pydantic (cold start)."""

from typing import Any

from runs_core import ids
from runs_core.stores import get_stores

HISTORY_MESSAGES = 50  # what a new run of a thread is shown of the conversation so far


def message_record(run: dict[str, Any], role: str, content: str) -> dict[str, Any]:
    message_id, created_at = ids.new_id_at("msg")
    return {
        "id": message_id,
        "thread_id": run["thread_id"],
        "org_id": run["org_id"],
        "run_id": run["id"],
        "role": role,
        "content": content,
        "created_at": created_at,
    }


def history(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The thread's conversation before this run (its last HISTORY_MESSAGES messages), oldest first."""
    if not run.get("thread_id"):
        return []
    recent = get_stores().threads.recent_messages(run["thread_id"], HISTORY_MESSAGES)
    return [message for message in recent if message["run_id"] != run["id"]]


def memory_scope(run: dict[str, Any]) -> str:
    """A run in a thread reads and writes the thread's memory; any other run has its own."""
    return f"thread#{run['thread_id']}" if run.get("thread_id") else f"run#{run['id']}"
