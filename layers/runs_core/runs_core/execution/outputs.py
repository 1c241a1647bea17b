"""A run's outputs when it completes (docs/api.md §3): the declared ones in order, then any others."""

from typing import Any

from runs_core import clock
from runs_core.changes import Change
from runs_core.execution.ending import duration_ms
from runs_core.execution.metering import run_finished
from runs_core.logic import conversation
from runs_core.logic.run_writes import commit
from runs_core.run_status import COMPLETED


def complete(
    run: dict[str, Any], definition: dict[str, Any], change: Change, text: str, outputs: dict[str, Any] | None
) -> dict[str, Any]:
    values = {**run.get("output_values", {}), **(outputs or {})}
    if outputs is None and not values:
        values["answer"] = text  # docs/api.md §3: without outputs the final text becomes output `answer`
    declared = {spec["key"]: spec for spec in definition.get("outputs", [])}
    listed = [
        {
            "key": key,
            "description": spec.get("description"),
            "data_type": spec.get("data_type", "text/plain"),
            "value": values.get(key),
        }
        for key, spec in declared.items()
    ] + [
        {
            "key": key,
            "description": None,
            "data_type": "text/plain" if isinstance(value, str) else "application/json",
            "value": value,
        }
        for key, value in values.items()
        if key not in declared
    ]
    now = clock.now_iso()
    change.changes.update(
        {
            "status": COMPLETED,
            "completed_at": now,
            "duration_ms": duration_ms(run, now),
            "output_values": values,
            "outputs": listed,
            "output": {item["key"]: item["value"] for item in listed},
        }
    )
    change.event("run.completed", status=COMPLETED, output=change.changes["output"])
    if run.get("thread_id"):  # the answer joins the thread's conversation
        change.messages.append(conversation.message_record(run, "assistant", text))
    written = commit(run, change)
    run_finished("RunsCompleted", {**run, **change.changes})
    return written
