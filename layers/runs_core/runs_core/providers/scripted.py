"""The `scripted` provider (API.md §3): replays the definition's script; for tests, demos, offline use."""

import math

from runs_core.providers.base import ModelRequest, ModelResponse, OnDelta, TokenUsage, ToolCall

CHARS_PER_TOKEN = 4


def _estimate(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


class ScriptedProvider:
    def complete(self, request: ModelRequest, on_delta: OnDelta | None = None) -> ModelResponse:
        script = request.model.get("script") or []
        if request.turn >= len(script):
            # Script exhausted: the run completes with the last text.
            last_text = next((turn.get("text") for turn in reversed(script) if turn.get("text")), "")
            return ModelResponse(text=last_text or "")
        turn = script[request.turn]
        text = turn.get("text") or ""
        if on_delta and text:
            for start in range(0, len(text), 16):
                on_delta(text[start : start + 16])
        calls = tuple(
            ToolCall(
                id=f"call_{request.turn}_{index}", name=call["name"], arguments=call.get("arguments") or {}
            )
            for index, call in enumerate(turn.get("tool_calls") or [])
        )
        usage = turn.get("usage")
        if usage:
            tokens = TokenUsage(**{key: int(value) for key, value in usage.items()})
        else:
            prompt = request.instructions + "".join(message.content for message in request.messages)
            tokens = TokenUsage(input_tokens=_estimate(prompt), output_tokens=_estimate(text))
        return ModelResponse(
            text=text,
            tool_calls=calls,
            usage=tokens,
            outputs=turn.get("outputs"),
            stop_reason="tool_use" if calls else "end_turn",
        )
