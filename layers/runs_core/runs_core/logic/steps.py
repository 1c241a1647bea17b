"""A run's steps (docs/api.md §4: GET /v1/runs/{id}/steps), in order."""

from runs_core.context import Caller
from runs_core.logic.run_writes import load_run
from runs_core.models.common import Page
from runs_core.models.runs import Step
from runs_core.pages import decode_cursor, encode_cursor
from runs_core.stores import get_stores


def list_steps(caller: Caller, run_id: str, limit: int, cursor: str | None) -> Page[Step]:
    load_run(caller, run_id)
    scope = f"steps:{run_id}"
    after = int(decode_cursor(cursor, caller.org_id, scope, {})) if cursor else -1
    items = get_stores().steps.page(run_id, after, limit + 1)
    page = items[:limit]
    next_cursor = (
        encode_cursor(caller.org_id, scope, {}, str(page[-1]["index"])) if len(items) > limit else None
    )
    return Page[Step](items=[Step.model_validate(item) for item in page], next_cursor=next_cursor)
