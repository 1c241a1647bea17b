"""Threads (docs/api.md §5): a conversation that runs take turns in, with its messages and memory."""

from typing import Literal

from pydantic import ConfigDict, Field

from runs_core.models.common import Metadata, RequestModel, ResponseModel
from runs_core.models.runs import CreateRun, Run

MAX_MESSAGE_CHARS = 32 * 1024


class CreateThread(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"metadata": {"user": "u_123"}}]})

    metadata: Metadata = Field(default_factory=dict, max_length=50)
    agent: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Agent id or name: the thread's agent, for runs created in it without one (the "
        "threads/runs dialect's runs name no agent).",
    )


class Thread(ResponseModel):
    id: str
    object: Literal["thread"] = "thread"
    status: Literal["idle", "busy"] = Field(description="busy while one of its runs is active.")
    active_run_id: str | None = Field(None, description="The run that has the thread now.")
    queued_run_ids: list[str] = Field(
        default_factory=list, description="Runs waiting for the thread, in the order they will start."
    )
    metadata: Metadata = Field(default_factory=dict)
    agent_id: str | None = Field(None, description="The thread's agent, if it was created with one.")
    created_at: str


class CreateThreadRun(CreateRun):
    """POST /v1/threads/{id}/runs: a run body plus the user's message and what to do if the thread is busy."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agent": "demo",
                    "message": "Hello, I am Ada.",
                    "input": {"name": "Ada"},
                    "multitask_strategy": "enqueue",
                }
            ]
        }
    )

    message: str | None = Field(
        None,
        max_length=MAX_MESSAGE_CHARS,
        description="The user's message: the run's first user turn, appended to the thread's messages.",
    )
    multitask_strategy: Literal["enqueue", "reject"] = Field(
        "enqueue",
        description="If the thread is busy: enqueue (start when the runs before it end) "
        "or reject (409 thread_busy).",
    )


class ThreadRun(Run):
    run_id: str = Field(description="The run's id (the same as `id`).")


class Message(ResponseModel):
    id: str
    object: Literal["message"] = "message"
    thread_id: str
    run_id: str
    role: Literal["user", "assistant"]
    content: str
    created_at: str
