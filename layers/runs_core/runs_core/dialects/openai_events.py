"""A run's event log as OpenAI Responses output items and stream events (docs/api.md §8, OpenAI Responses).

Pure: `Translator` reads the log's envelopes (`{seq, type, data, …}`) in order and says what the Responses
API would have streamed for them, each stream event numbered by `sequence_number` (0, 1, 2, …). The same
log always gives the same events with the same numbers, so a stream resumes (`starting_after=N`) by
translating the log again from its start and skipping what the client has. The translator also keeps the
response's `output` items, which is how `GET /responses/{id}` builds them.

Mapping: `run.created` → `response.created`, `run.queued` → `response.queued`, `run.started` (and a
resumption after an answer) → `response.in_progress`; a step's `message.delta`/`message.completed` → a
`message` item (`output_item.added`, `content_part.added`, `output_text.delta`…, `output_text.done`,
`content_part.done`, `output_item.done`); `tool.call` → a `function_call` item (already executed by the
agent: `function_call_arguments.delta`/`.done`); `run.waiting_approval` → an `mcp_approval_request` item
then `response.incomplete`; `run.waiting_for_input` → a `message` item with the prompt then
`response.incomplete`; `run.completed`/`run.failed`/`run.cancelled` → `response.completed`/`.failed`/
`.cancelled` (the name of OpenAI's webhook event: the stream API defines none for a cancel).
"""

import json
from collections.abc import Callable
from typing import Any

# The run's Response object as it stands, given its status and output items (the route builds it).
Snapshot = Callable[[str, list[dict[str, Any]], dict[str, Any] | None], dict[str, Any]]

SERVER_LABEL = "runs-api"  # mcp_approval_request.server_label: the agent's actions are runs-api's tools
INCOMPLETE_REASONS = {"approval": "approval_required", "input": "input_required"}
ENDINGS = {
    "run.completed": ("completed", "response.completed"),
    "run.failed": ("failed", "response.failed"),
    "run.cancelled": ("cancelled", "response.cancelled"),
}


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    """`item` as it is now (the translator goes on changing its own)."""
    return json.loads(json.dumps(item))


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


class Translator:
    """Log envelopes in, Responses stream events out (see the module doc)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.output: list[dict[str, Any]] = []
        self.status = "queued"
        self.incomplete: dict[str, Any] | None = None
        self.sequence = -1
        self._messages: dict[str, int] = {}  # step id → output index of its open message item
        self._calls: dict[str, int] = {}  # step id → its function calls so far

    def _event(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.sequence += 1
        return {"type": type_, "sequence_number": self.sequence, **fields}

    def _response_event(self, type_: str) -> dict[str, Any]:
        output = [_copy(item) for item in self.output]
        return self._event(type_, response=self.snapshot(self.status, output, self.incomplete))

    def _add(self, item: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.output.append(item)
        index = len(self.output) - 1
        return index, self._event("response.output_item.added", output_index=index, item=_copy(item))

    def translate(self, envelope: dict[str, Any]) -> list[dict[str, Any]]:
        kind, data = envelope["type"], envelope.get("data") or {}
        if kind == "run.created":
            return [self._response_event("response.created")]
        if kind == "run.queued":
            return [self._response_event("response.queued")]
        if kind in ("run.started", "run.input_received", "run.approval_decided"):
            self.status, self.incomplete = "in_progress", None
            return [self._response_event("response.in_progress")]
        if kind == "message.delta":
            return self._delta(data["step_id"], data.get("delta") or "")
        if kind == "message.completed":
            return self._message_done(data["step_id"], data.get("content") or "")
        if kind == "tool.call":
            return self._function_call(data)
        if kind in ("run.waiting_approval", "run.waiting_for_input"):
            return self._waiting(data.get("pending") or {})
        if kind in ENDINGS:
            self.status, type_ = ENDINGS[kind]
            return [self._response_event(type_)]
        return []  # steps, tool results: not part of a Response

    def _delta(self, step_id: str, delta: str) -> list[dict[str, Any]]:
        events = [] if step_id in self._messages else self._open_message(step_id)
        index = self._messages[step_id]
        item = self.output[index]
        item["content"][0]["text"] += delta
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                delta=delta,
                logprobs=[],
            )
        )
        return events

    def _open_message(self, step_id: str, item_id: str | None = None) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = []
        item = {
            "id": item_id or f"msg_{step_id}",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": content,
        }
        index, added = self._add(item)
        self._messages[step_id] = index
        content.append(_text_part(""))
        part = self._event(
            "response.content_part.added",
            item_id=item["id"],
            output_index=index,
            content_index=0,
            part=_text_part(""),
        )
        return [added, part]

    def _message_done(self, step_id: str, text: str) -> list[dict[str, Any]]:
        if step_id not in self._messages and not text:
            return []  # a decision that only called tools: no message
        events = [] if step_id in self._messages else self._open_message(step_id)
        return events + self._close_message(step_id, text)

    def _close_message(self, step_id: str, text: str) -> list[dict[str, Any]]:
        index = self._messages.pop(step_id)
        item = self.output[index]
        item["content"][0]["text"] = text
        item["status"] = "completed"
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        return [
            self._event("response.output_text.done", **where, text=text, logprobs=[]),
            self._event("response.content_part.done", **where, part=_text_part(text)),
            self._event("response.output_item.done", output_index=index, item=_copy(item)),
        ]

    def _function_call(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        step_id = data["step_id"]
        number = self._calls[step_id] = self._calls.get(step_id, 0) + 1
        item_id = f"fc_{step_id}_{number}"
        arguments = json.dumps(data.get("arguments") or {}, separators=(",", ":"), ensure_ascii=False)
        item = {
            "id": item_id,
            "type": "function_call",
            "call_id": item_id,
            "name": data.get("action") or "",
            "arguments": "",
            "status": "in_progress",
        }
        index, added = self._add(item)
        item.update(arguments=arguments, status="completed")
        where = {"item_id": item_id, "output_index": index}
        return [
            added,
            self._event("response.function_call_arguments.delta", **where, delta=arguments),
            self._event(
                "response.function_call_arguments.done", **where, arguments=arguments, name=item["name"]
            ),
            self._event("response.output_item.done", output_index=index, item=dict(item)),
        ]

    def _waiting(self, pending: dict[str, Any]) -> list[dict[str, Any]]:
        kind = pending.get("type", "input")
        step_id = pending.get("step_id", "")
        if kind == "approval":
            item = {
                "id": approval_request_id(step_id),
                "type": "mcp_approval_request",
                "name": pending.get("action") or "",
                "arguments": json.dumps(pending.get("arguments") or {}, separators=(",", ":")),
                "server_label": SERVER_LABEL,
            }
            index, added = self._add(item)
            events = [added, self._event("response.output_item.done", output_index=index, item=dict(item))]
        else:
            key = f"prompt_{step_id}"
            events = [
                *self._open_message(key, f"msg_{step_id}"),
                *self._close_message(key, pending.get("prompt") or ""),
            ]
        self.status = "incomplete"
        self.incomplete = {"reason": INCOMPLETE_REASONS.get(kind, "input_required")}
        return [*events, self._response_event("response.incomplete")]


def approval_request_id(step_id: str) -> str:
    """The id of the mcp_approval_request item a run waiting on step `step_id` shows."""
    return f"mcpr_{step_id}"
