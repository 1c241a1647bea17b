"""The unit of work of a step: the run as read, everything one commit writes, what a step knows.

Every change is one conditional write on the run's `rev` with its events and what is written with it
(a runs_core.changes.Change, committed by logic.run_writes.commit): a writer that lost a race gets
StaleRun, re-reads and decides anew.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from runs_core import clock, ids
from runs_core.observability import bind
from runs_core.run_status import STEP_RESULTS
from runs_core.stores import get_stores

MAX_WRITE_ATTEMPTS = 5


@dataclass
class Progress:
    """What one invocation knows besides the run, read once: its steps so far and the org's credits."""

    steps: list[dict[str, Any]]
    credits: int


def done(run_id: str) -> dict[str, Any]:
    return {"next": "done", "run_id": run_id}


def load(run_id: str) -> dict[str, Any] | None:
    return get_stores().runs.get(run_id, consistent=True)


@lru_cache(maxsize=128)
def _definition(org_id: str, agent_id: str, version: str) -> dict[str, Any]:
    """Versions are immutable, so a warm function reads each one once."""
    record = get_stores().agents.get_version(org_id, agent_id, version)
    if record is None:
        raise LookupError(f"agent version {agent_id}@{version} is gone")
    return record["definition"]  # type: ignore[no-any-return]


def definition_of(run: dict[str, Any]) -> dict[str, Any]:
    return _definition(run["org_id"], run["agent_id"], run["agent_version"])


def new_step(run: dict[str, Any], type_: str, status: str, **fields: Any) -> dict[str, Any]:
    """The record of the run's next step (index `step_count`)."""
    now = clock.now_iso()
    bind(step_index=run.get("step_count", 0))
    return {
        "run_id": run["id"],
        "index": run.get("step_count", 0),
        "id": ids.new_id("stp"),
        "type": type_,
        "status": status,
        "started_at": now,
        "completed_at": now if status in STEP_RESULTS else None,
        **fields,
    }
