"""The provider interface: one call = one model decision (a final answer and/or tool calls)."""

import threading
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
    """A file given to the model with a user message (docs/api.md §7: runs' file_ids)."""

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


class ModelCancelled(ModelError):
    """The caller ended the call early through its StreamSink (the run was cancelled, or reached a limit
    while the model was still answering)."""


OnDelta = Callable[[str], None]
CHARS_PER_TOKEN = 4  # a rough English average: estimates where no provider counted


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def prompt_text(request: "ModelRequest") -> str:
    """What a request sends the model as text (instructions and messages): the base of input estimates."""
    return request.instructions + "".join(message.content for message in request.messages)


class StreamSink:
    """Where a streamed call reports what happens as it happens, and how its caller can end it early.

    A provider calls `text` for each chunk of the answer, `tool_call` once a call's arguments are complete,
    `usage` when it reports its token count, and `on_abort` with a function that ends the call (closes the
    connection, so a read blocked in another thread returns at once). `abort` (from any thread) runs that
    function; the provider then raises ModelCancelled. This base class only forwards text to `on_text`.
    """

    def __init__(self, on_text: OnDelta | None = None) -> None:
        self._on_text = on_text
        self._lock = threading.Lock()
        self._close: Callable[[], None] | None = None
        self.aborted = False

    def text(self, delta: str) -> None:
        if self._on_text is not None:
            self._on_text(delta)

    def tool_call(self, call: ToolCall) -> None:
        pass

    def usage(self, usage: TokenUsage) -> None:
        pass

    def on_abort(self, close: Callable[[], None]) -> None:
        with self._lock:
            self._close, aborted = close, self.aborted
        if aborted:
            close()

    def abort(self) -> None:
        with self._lock:
            self.aborted, close = True, self._close
        if close is not None:
            close()

    def cancelled(self) -> ModelCancelled:
        return ModelCancelled("the model call was ended early")


def as_sink(on_delta: "OnDelta | StreamSink | None") -> StreamSink | None:
    """A plain text callback becomes a StreamSink; None stays None (no streaming)."""
    if on_delta is None or isinstance(on_delta, StreamSink):
        return on_delta
    return StreamSink(on_delta)


class ModelProvider(Protocol):
    def complete(self, request: ModelRequest, on_delta: OnDelta | StreamSink | None = None) -> ModelResponse:
        """One decision. With `on_delta` the call streams: text chunks (and, with a StreamSink, complete
        tool calls and the provider's usage) are reported as they arrive, and the sink can end it early."""
        ...
