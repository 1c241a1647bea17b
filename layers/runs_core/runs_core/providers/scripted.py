"""The `scripted` provider (docs/api.md §3): replays the definition's script; for tests, demos, offline use.

A turn may pace its text like a model streaming it: `"stream": {"chunk_chars": 8, "interval_ms": 50}`
sends `chunk_chars` characters every `interval_ms` (the demo agent, the README tour and tests watch a
run's words arrive without a model server). Without it the text comes at once, in chunks of 16.
The caller can end a paced turn early (StreamSink.abort), as it would close a real model's connection.
"""

import threading

from runs_core.providers.base import (
    ModelRequest,
    ModelResponse,
    OnDelta,
    StreamSink,
    TokenUsage,
    ToolCall,
    as_sink,
    estimate_tokens,
    prompt_text,
)

DEFAULT_CHUNK_CHARS = 16
MAX_INTERVAL_MS = 10_000


class ScriptedProvider:
    def complete(self, request: ModelRequest, on_delta: OnDelta | StreamSink | None = None) -> ModelResponse:
        script = request.model.get("script") or []
        if request.turn >= len(script):
            # Script exhausted: the run completes with the last text.
            last_text = next((turn.get("text") for turn in reversed(script) if turn.get("text")), "")
            return ModelResponse(text=last_text or "")
        turn = script[request.turn]
        text = turn.get("text") or ""
        sink = as_sink(on_delta)
        calls = tuple(
            ToolCall(
                id=f"call_{request.turn}_{index}", name=call["name"], arguments=call.get("arguments") or {}
            )
            for index, call in enumerate(turn.get("tool_calls") or [])
        )
        if sink is not None:
            _stream(text, turn.get("stream") or {}, sink)
            for call in calls:
                sink.tool_call(call)
        usage = turn.get("usage")
        if usage:
            tokens = TokenUsage(**{key: int(value) for key, value in usage.items()})
        else:
            tokens = TokenUsage(
                input_tokens=estimate_tokens(prompt_text(request)), output_tokens=estimate_tokens(text)
            )
        return ModelResponse(
            text=text,
            tool_calls=calls,
            usage=tokens,
            outputs=turn.get("outputs"),
            stop_reason="tool_use" if calls else "end_turn",
        )


def _stream(text: str, pace: dict[str, int], sink: StreamSink) -> None:
    size = max(1, int(pace.get("chunk_chars") or DEFAULT_CHUNK_CHARS))
    interval = min(max(0, int(pace.get("interval_ms") or 0)), MAX_INTERVAL_MS) / 1000
    stopped = threading.Event()
    sink.on_abort(stopped.set)
    for start in range(0, len(text), size):
        if start and interval and stopped.wait(interval):
            raise sink.cancelled()
        if stopped.is_set():
            raise sink.cancelled()
        sink.text(text[start : start + size])
