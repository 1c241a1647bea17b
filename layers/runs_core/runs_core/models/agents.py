"""Agents, their immutable versions, and the agent definition (docs/api.md §3)."""

from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from runs_core.models.common import AGENT_NAME_PATTERN, NonNegativeInt, RequestModel, ResponseModel

SEMVER_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
# A dist-tag starts with a letter so it can never be mistaken for a version or a range.
TAG_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
BUILTIN_ACTIONS = ("ask_user", "memory_get", "memory_set", "set_output", "echo", "http_request")
ACTION_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"


class Price(RequestModel):
    input_per_mtok: float = Field(0.0, ge=0)
    output_per_mtok: float = Field(0.0, ge=0)
    cache_read_per_mtok: float | None = Field(None, ge=0)
    cache_write_per_mtok: float | None = Field(None, ge=0)


class ToolCall(RequestModel):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class TurnUsage(RequestModel):
    input_tokens: NonNegativeInt = 0
    output_tokens: NonNegativeInt = 0
    cache_read_tokens: NonNegativeInt = 0
    cache_write_tokens: NonNegativeInt = 0


class StreamPace(RequestModel):
    """How a scripted turn streams its text, like a model would: `chunk_chars` every `interval_ms`."""

    chunk_chars: int = Field(16, ge=1, le=10_000)
    interval_ms: int = Field(0, ge=0, le=10_000)


class ScriptTurn(RequestModel):
    """One decision of the `scripted` provider: a final answer, or tool calls."""

    text: str | None = None
    outputs: dict[str, Any] | None = None
    tool_calls: list[ToolCall] | None = None
    usage: TurnUsage | None = None
    stream: StreamPace | None = Field(None, description="Stream the text in paced chunks (offline demos).")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if self.tool_calls is None and self.text is None and self.outputs is None:
            raise ValueError("a turn needs text, outputs or tool_calls")
        return self


class ModelConfig(RequestModel):
    provider: Literal["bedrock", "openai", "scripted"]
    id: str | None = Field(None, max_length=256, description="Model id (bedrock, openai).")
    max_output_tokens: int = Field(2048, ge=1, le=200_000)
    price: Price = Field(default_factory=Price)
    base_url: str | None = Field(None, max_length=2048, description="openai: Chat Completions base URL.")
    api_key_secret: str | None = Field(
        None, max_length=2048, description="openai: Secrets Manager secret or SSM parameter holding the key."
    )
    script: list[ScriptTurn] | None = Field(None, max_length=1000, description="scripted: the turns.")

    @model_validator(mode="after")
    def _provider_fields(self) -> Self:
        if self.provider == "scripted" and not self.script:
            raise ValueError("a scripted model needs a non-empty script")
        if self.provider in ("bedrock", "openai") and not self.id:
            raise ValueError(f"a {self.provider} model needs an id")
        if self.provider == "openai" and not self.base_url:
            raise ValueError("an openai model needs a base_url")
        return self


class OutputSpec(RequestModel):
    key: str = Field(pattern=r"^[a-zA-Z0-9_.-]{1,64}$")
    description: str | None = Field(None, max_length=1024)
    data_type: str = Field("text/plain", max_length=128)


class ActionSpec(RequestModel):
    name: str = Field(pattern=ACTION_NAME_PATTERN)
    description: str | None = Field(None, max_length=4096)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    kind: Literal["builtin", "python", "http", "lambda"]
    builtin: Literal[BUILTIN_ACTIONS] | None = None  # type: ignore[valid-type]
    handler: str | None = Field(None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    url: str | None = Field(None, pattern=r"^https?://", max_length=2048)
    function: str | None = Field(None, max_length=256)
    requires_approval: bool = False

    @model_validator(mode="after")
    def _kind_fields(self) -> Self:
        if self.kind == "builtin" and (self.builtin or self.name) not in BUILTIN_ACTIONS:
            raise ValueError(f"builtin action must be one of {', '.join(BUILTIN_ACTIONS)}")
        required = {"python": "handler", "http": "url", "lambda": "function"}.get(self.kind)
        if required and not getattr(self, required):
            raise ValueError(f"a {self.kind} action needs `{required}`")
        return self


class Persona(RequestModel):
    version: str = Field("1", max_length=32)
    instructions: str = Field(max_length=100_000)


class Limits(RequestModel):
    max_steps: int = Field(25, ge=1, le=1000)
    max_tokens: int = Field(200_000, ge=1, le=100_000_000)
    max_duration_seconds: int = Field(3600, ge=1, le=31_536_000)
    approval_timeout_seconds: int = Field(86_400, ge=1, le=31_536_000)
    input_timeout_seconds: int = Field(86_400, ge=1, le=31_536_000)


class Definition(RequestModel):
    instructions: str = Field("", max_length=100_000)
    model: ModelConfig
    input_schema: dict[str, Any] | None = Field(None, description="JSON Schema (2020-12) for run input.")
    outputs: list[OutputSpec] = Field(default_factory=list, max_length=100)
    actions: list[ActionSpec] = Field(default_factory=list, max_length=128)
    personas: dict[str, Persona] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [action.name for action in self.actions]
        if len(names) != len(set(names)):
            raise ValueError("action names must be unique")
        keys = [output.key for output in self.outputs]
        if len(keys) != len(set(keys)):
            raise ValueError("output keys must be unique")
        if self.input_schema is not None:
            # lazy, for cold start: only agent writes need it
            from jsonschema import Draft202012Validator, SchemaError

            try:
                Draft202012Validator.check_schema(self.input_schema)
            except SchemaError as error:
                raise ValueError(f"input_schema is not a valid JSON Schema: {error.message}") from None
        return self


class CreateAgent(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "invoice-triage",
                    "description": "Approves or rejects invoices.",
                    "version": "1.0.0",
                    "definition": {
                        "instructions": "You triage invoices. Approve those under 1000 EUR.",
                        "model": {
                            "provider": "scripted",
                            "script": [{"text": "approve", "outputs": {"decision": "approve"}}],
                        },
                        "input_schema": {
                            "type": "object",
                            "required": ["invoice_id"],
                            "properties": {"invoice_id": {"type": "string"}},
                        },
                        "outputs": [{"key": "decision", "description": "approve or reject"}],
                        "actions": [{"name": "ask_user", "kind": "builtin"}],
                        "limits": {"max_steps": 10},
                    },
                    "tags": ["latest"],
                }
            ]
        }
    )

    name: str = Field(
        pattern=AGENT_NAME_PATTERN,
        max_length=64,
        description="Unique per org; usable in paths instead of the id. May carry a scope: `@scope/name`.",
    )
    description: str | None = Field(None, max_length=4096)
    version: str = Field("0.1.0", pattern=SEMVER_PATTERN, max_length=128)
    definition: Definition
    tags: list[str] = Field(default_factory=lambda: ["latest"], max_length=16)

    @model_validator(mode="after")
    def _tags(self) -> Self:
        _check_tags(self.tags)
        return self


class PublishVersion(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": "1.1.0-beta.1",
                    "definition": {
                        "instructions": "You triage invoices.",
                        "model": {
                            "provider": "bedrock",
                            "id": "anthropic.claude-3-5-sonnet-20240620-v1:0",
                            "max_output_tokens": 2048,
                            "price": {"input_per_mtok": 3.0, "output_per_mtok": 15.0},
                        },
                    },
                    "tags": ["beta"],
                }
            ]
        }
    )

    version: str = Field(pattern=SEMVER_PATTERN, max_length=128)
    definition: Definition
    tags: list[str] | None = Field(
        None,
        max_length=16,
        description="Dist-tags to point at this version. Default: `latest`, except for pre-releases (none).",
    )

    @model_validator(mode="after")
    def _tags(self) -> Self:
        _check_tags(self.tags or [])
        return self


class MoveTag(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"version": "1.0.0"}]})

    version: str = Field(pattern=SEMVER_PATTERN, max_length=128)


def _check_tags(tags: list[str]) -> None:
    import re

    for tag in tags:
        if not re.match(TAG_PATTERN, tag):
            raise ValueError(f"tag {tag!r} must match {TAG_PATTERN}")


class AgentVersion(ResponseModel):
    object: Literal["agent_version"] = "agent_version"
    agent_id: str
    version: str
    definition: Definition
    tags: list[str] = Field(default_factory=list, description="Dist-tags pointing at this version now.")
    created_at: str


class Agent(ResponseModel):
    id: str
    object: Literal["agent"] = "agent"
    name: str
    description: str | None = None
    dist_tags: dict[str, str]
    latest: AgentVersion | None = Field(None, description="The version the `latest` tag points at.")
    created_at: str
    updated_at: str
