"""The provider interface: one call = one model decision (a final answer and/or tool calls)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class ToolCall:
    id: str  # the provider's call id (or a generated one); tool results refer to it
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Attachment:
    """A file given to the model with a user message (API.md §7: runs' file_ids)."""

    name: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Message:
    """One transcript entry, provider-neutral.

    user:      content, and the run's files as attachments (first message only)
    assistant: content (may be "") and/or tool_calls
    tool:      content (the JSON result or error text) for tool_call_id / name
    """

    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments


@dataclass(frozen=True)
class ModelRequest:
    model: dict[str, Any]  # the definition's `model` block (provider, id, max_output_tokens, base_url, …)
    instructions: str  # system prompt (agent instructions + persona)
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...]
    turn: int  # how many decisions this run has made before this one (the scripted provider's cursor)


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one model call. `input_tokens` excludes cache reads and writes (as Bedrock counts them)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class ModelResponse:
    text: str  # the assistant's text ("" when it only calls tools)
    tool_calls: tuple[ToolCall, ...] = ()
    usage: TokenUsage = field(default_factory=TokenUsage)
    outputs: dict[str, Any] | None = None  # scripted turns may set declared outputs directly
    stop_reason: str = "end_turn"


class ModelError(Exception):
    """The model call failed for good (after the provider's own retries): the run fails with model_error."""


OnDelta = Callable[[str], None]


class ModelProvider(Protocol):
    def complete(self, request: ModelRequest, on_delta: OnDelta | None = None) -> ModelResponse:
        """One decision. Streaming providers call `on_delta` with text chunks as they arrive."""
        ...
