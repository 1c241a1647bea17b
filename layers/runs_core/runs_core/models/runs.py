"""Runs (docs/api.md §4): the create request and the run object."""

from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from runs_core.models.common import Metadata, PositiveInt, RequestModel, ResponseModel
from runs_core.run_status import RunStatus


class NamedInput(RequestModel):
    name: str = Field(min_length=1, max_length=256)
    value: Any = None


class RunOptions(RequestModel):
    """Everything a run can be created with, but the agent (which agent-scoped routes take from the path)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "greet Ada", "input": {"name": "Ada"}, "metadata": {"customer": "acme"}}]
        }
    )

    version: str | None = Field(
        None,
        max_length=128,
        description="Exact version, dist-tag or npm semver range. Default: `latest` tag.",
    )
    stage: Literal["draft", "published"] | None = Field(
        None, description="draft: highest version incl. pre-releases; published: the `latest` tag."
    )
    thread_id: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=256)
    input: dict[str, Any] | None = None
    inputs: list[NamedInput] | None = Field(
        None, max_length=256, description="Alternative spelling of `input`."
    )
    file_ids: list[str] = Field(default_factory=list, max_length=20)
    persona: str | None = Field(None, max_length=64)
    max_steps: PositiveInt | None = Field(None, description="May only lower the agent's limit.")
    max_tokens: PositiveInt | None = Field(None, description="May only lower the agent's limit.")
    metadata: Metadata = Field(default_factory=dict, max_length=50)
    external_ids: Metadata = Field(
        default_factory=dict,
        max_length=10,
        description="The caller's own ids for this run (e.g. a dialect's foreign agent id), kept and echoed.",
    )
    start: bool = Field(
        True, description="false: the run is `created` and waits for POST /v1/runs/{id}/invoke."
    )

    @model_validator(mode="after")
    def _one_input_spelling(self) -> Self:
        if self.input is not None and self.inputs is not None:
            raise ValueError("send either `input` or `inputs`, not both")
        if self.version is not None and self.stage is not None:
            raise ValueError("send either `version` or `stage`, not both")
        for key, value in self.metadata.items():
            if len(key) > 40 or len(value) > 500:
                raise ValueError("metadata keys are at most 40 characters, values at most 500")
        return self

    def resolved_input(self) -> dict[str, Any]:
        if self.inputs is not None:
            return {item.name: item.value for item in self.inputs}
        return self.input or {}


class CreateRun(RunOptions):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agent": "demo",
                    "version": "latest",
                    "input": {"name": "Ada"},
                    "metadata": {"customer": "acme"},
                },
                {"agent": "demo", "inputs": [{"name": "name", "value": "Ada"}], "start": False},
            ]
        }
    )

    agent: str = Field(min_length=1, max_length=64, description="Agent id or name.")


class CancelRun(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "No longer needed."}]})

    reason: str | None = Field(None, max_length=1024)


class Usage(ResponseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    credits_used: int = 0
    cache_hit_rate: float = 0.0
    estimated: bool = Field(
        False,
        description="True when some tokens were estimated from the streamed text: a call ended early "
        "(a cancel, a limit) before the provider reported its count.",
    )


class RunOutput(ResponseModel):
    key: str
    description: str | None = None
    data_type: str = "text/plain"
    value: Any = None


class SyncOutput(RunOutput):
    """One output of a synchronous run (POST /v1/agents/{agent}/run)."""

    cost: float = Field(description="The whole run's cost in USD (the same on every output).")


class Pending(ResponseModel):
    type: Literal["approval", "input"]
    step_id: str
    action: str | None = None
    arguments: dict[str, Any] | None = None
    prompt: str | None = None
    expires_at: str


class RunError(ResponseModel):
    code: str
    message: str


class CreatedBy(ResponseModel):
    api_key_id: str | None = None
    end_user_id: str | None = None


class Run(ResponseModel):
    id: str
    object: Literal["run"] = "run"
    agent_id: str
    agent_name: str
    agent_version: str
    thread_id: str | None = None
    name: str | None = None
    status: RunStatus
    input: dict[str, Any] = Field(default_factory=dict)
    file_ids: list[str] = Field(default_factory=list)
    persona: str | None = None
    output: dict[str, Any] | None = None
    outputs: list[RunOutput] = Field(default_factory=list)
    max_steps: int
    max_tokens: int
    step_count: int = 0
    usage: Usage = Field(default_factory=Usage)
    pending: Pending | None = None
    error: RunError | None = None
    metadata: Metadata = Field(default_factory=dict)
    external_ids: Metadata = Field(default_factory=dict)
    trace_id: str | None = None
    created_by: CreatedBy = Field(default_factory=CreatedBy)
    created_at: str
    started_at: str | None = None
    completed_at: str | None = None
    failed_at: str | None = None
    cancelled_at: str | None = None
    duration_ms: int | None = None
    last_event_seq: int = 0


class SubmitInput(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"content": "The invoice is from ACME."}, {"data": {"invoice_id": "INV-1"}}]
        }
    )

    content: str | None = Field(None, max_length=32 * 1024, description="Text for the agent (≤ 32 KiB).")
    data: dict[str, Any] | None = Field(None, description="Structured input instead of `content`.")

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.content is None) == (self.data is None):
            raise ValueError("send exactly one of `content` or `data`")
        return self


class SubmitApproval(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"decision": "approve", "comment": "Checked with finance."}, {"decision": "reject"}]
        }
    )

    decision: Literal["approve", "reject"]
    comment: str | None = Field(None, max_length=4096)


class Step(ResponseModel):
    id: str
    object: Literal["step"] = "step"
    index: int
    type: Literal["decision", "action", "approval", "input"]
    status: Literal["pending", "running", "completed", "failed", "cancelled"]
    action: str | None = None
    input: Any = None
    output: Any = None
    usage: dict[str, Any] | None = None
    error: RunError | None = None
    started_at: str
    completed_at: str | None = None


class MemoryItems(ResponseModel):
    items: dict[str, Any]


class MemoryValue(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"value": {"preferred_language": "en"}}]})

    value: Any = Field(description="Any JSON value (≤ 64 KiB serialised).")


class MemoryEntry(ResponseModel):
    key: str
    value: Any = None
