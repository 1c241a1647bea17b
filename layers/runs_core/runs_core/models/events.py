"""The event log as clients see it (docs/api.md §6)."""

from typing import Any, Literal

from pydantic import Field

from runs_core.models.common import ResponseModel


class Event(ResponseModel):
    seq: int = Field(description="1, 2, 3, … per run: no gaps, no duplicates.")
    type: str = Field(examples=["run.completed"])
    run_id: str
    data: dict[str, Any]
    created_at: str


class EventPage(ResponseModel):
    object: Literal["list"] = "list"
    items: list[Event]
    next_after_seq: int = Field(
        description="Pass as `after_seq` for the next page: the last seq returned, or `after_seq` if none."
    )
    run_status: str
