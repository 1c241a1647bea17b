"""The `bedrock` provider (docs/api.md §3): Amazon Bedrock Runtime Converse / ConverseStream, with tool
use.

Over 300 lines because it is one wire format both ways (the Converse request, its streamed and whole
responses, their errors), which only make sense side by side.
"""

import json
import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from runs_core.observability import logger
from runs_core.providers.base import (
    Attachment,
    Message,
    ModelError,
    ModelRequest,
    ModelResponse,
    OnDelta,
    StreamSink,
    TokenUsage,
    ToolCall,
    ToolSpec,
    as_sink,
)

# botocore standard mode retries throttling, 5xx and network errors with jittered backoff; `max_attempts`
# counts retries after the first call (5 calls in all).
MAX_ATTEMPTS = 4
READ_TIMEOUT_SECONDS = 300  # long answers take a while before the first byte (Converse is not streamed)


@cache
def default_client() -> Any:
    import boto3  # made once per process, on first use (cold start stays lean)
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=10,
        read_timeout=READ_TIMEOUT_SECONDS,
    )
    return boto3.client("bedrock-runtime", config=config)


class BedrockProvider:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    def complete(self, request: ModelRequest, on_delta: OnDelta | StreamSink | None = None) -> ModelResponse:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client or default_client()
        params = converse_params(request)
        sink = as_sink(on_delta)
        try:
            if sink is None:
                return parse_converse(client.converse(**params))
            if sink.aborted:
                raise sink.cancelled()
            stream = client.converse_stream(**params)["stream"]
            sink.on_abort(lambda: _shut_down(stream))  # a cancel closes the event stream's connection
            try:
                return assemble_stream(stream, sink)
            finally:
                stream.close()
        except ClientError as error:  # also EventStreamError: an error event in the middle of the stream
            if sink is not None and sink.aborted:
                raise sink.cancelled() from None
            details = error.response.get("Error", {})
            raise _failure(details.get("Code", "Error"), details.get("Message", "")) from None
        except (BotoCoreError, OSError, ValueError) as error:  # network, timeout, a connection we closed
            if sink is not None and sink.aborted:
                raise sink.cancelled() from None
            raise ModelError(f"bedrock: {error}") from None


def _shut_down(stream: Any) -> None:
    """Stop the event stream's reads from another thread. botocore's EventStream keeps the urllib3
    response as `_raw_stream` (no public accessor); urllib3's `shutdown()` wakes a blocked read."""
    raw = getattr(stream, "_raw_stream", None)
    try:
        raw.shutdown()  # type: ignore[union-attr]
    except Exception:  # released to the pool already, or not a urllib3 response: close is all we have
        stream.close()


def converse_params(request: ModelRequest) -> dict[str, Any]:
    """The Converse / ConverseStream request for one decision."""
    params: dict[str, Any] = {
        "modelId": request.model["id"],
        "messages": converse_messages(request.messages),
        "inferenceConfig": {"maxTokens": int(request.model.get("max_output_tokens") or 2048)},
    }
    if request.instructions:
        params["system"] = [{"text": request.instructions}]
    if request.tools:
        params["toolConfig"] = {"tools": [_tool_spec(tool) for tool in request.tools]}
    return params


def converse_messages(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Converse wants alternating user/assistant turns: tool results are user content, neighbours merge."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        role = "assistant" if message.role == "assistant" else "user"
        content = _content(message)
        if not content:
            continue  # Converse rejects empty text blocks and empty messages
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"].extend(content)
        else:
            merged.append({"role": role, "content": content})
    return merged


def _content(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        result: dict[str, Any] = {"toolUseId": message.tool_call_id or "", "content": [_result(message)]}
        if message.is_error:
            result["status"] = "error"
        return [{"toolResult": result}]
    blocks: list[dict[str, Any]] = attachment_blocks(message.attachments)
    if message.content or blocks:  # Converse wants a text block beside documents
        blocks.append({"text": message.content or "(see the attached files)"})
    blocks.extend(
        {"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}}
        for call in message.tool_calls
    )
    return blocks


# Converse's document and image formats, by media type (and by file extension when the type says little).
DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
}
IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
EXTENSION_FORMATS = {
    "pdf": "pdf", "csv": "csv", "doc": "doc", "docx": "docx", "xls": "xls", "xlsx": "xlsx", "html": "html",
    "htm": "html", "txt": "txt", "md": "md", "png": "png", "jpg": "jpeg", "jpeg": "jpeg", "gif": "gif",
    "webp": "webp",
}  # fmt: skip
IMAGE_KINDS = frozenset(IMAGE_FORMATS.values())
MAX_DOCUMENTS = 5  # per Converse request
MAX_IMAGES = 20


def attachment_format(attachment: Attachment) -> str | None:
    """The Converse format of a file (pdf, …, png, …), or None when Converse takes no such file."""
    media_type = attachment.content_type.split(";")[0].strip().lower()
    found = DOCUMENT_FORMATS.get(media_type) or IMAGE_FORMATS.get(media_type)
    if found is None and (media_type.startswith("text/") or media_type in ("application/octet-stream", "")):
        extension = attachment.name.rsplit(".", 1)[-1].lower() if "." in attachment.name else ""
        found = EXTENSION_FORMATS.get(extension) or ("txt" if media_type.startswith("text/") else None)
    return found


def document_name(filename: str, taken: set[str]) -> str:
    """A Converse document name: letters, digits, single spaces, hyphens, parentheses and square
    brackets only; unique within the request."""
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    name = re.sub(r"\s+", " ", re.sub(r"[^A-Za-z0-9\s\-()\[\]]", " ", stem)).strip()[:200] or "document"
    unique, counter = name, 2
    while unique in taken:
        unique, counter = f"{name} ({counter})", counter + 1
    taken.add(unique)
    return unique


def attachment_blocks(attachments: Iterable[Attachment]) -> list[dict[str, Any]]:
    """Converse `document` and `image` blocks; unsupported files, and files past Converse's per-request
    counts, are skipped with a warning."""
    blocks: list[dict[str, Any]] = []
    taken: set[str] = set()
    documents = images = 0
    for attachment in attachments:
        kind = attachment_format(attachment)
        if kind is None:
            logger.warning(
                "bedrock takes no file of this type; skipped", extra={"content_type": attachment.content_type}
            )
        elif kind in IMAGE_KINDS:
            if images >= MAX_IMAGES:
                logger.warning(
                    "too many images for one bedrock request; skipped", extra={"file": attachment.name}
                )
                continue
            images += 1
            blocks.append({"image": {"format": kind, "source": {"bytes": attachment.data}}})
        else:
            if documents >= MAX_DOCUMENTS:
                logger.warning(
                    "too many documents for one bedrock request; skipped", extra={"file": attachment.name}
                )
                continue
            documents += 1
            name = document_name(attachment.name, taken)
            blocks.append({"document": {"format": kind, "name": name, "source": {"bytes": attachment.data}}})
    return blocks


def _result(message: Message) -> dict[str, Any]:
    """A JSON object result goes as `json` (models read it structured); anything else as text."""
    try:
        value = json.loads(message.content)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return {"json": value}
    return {"text": message.content or "(empty)"}


def _tool_spec(tool: ToolSpec) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": tool.name, "inputSchema": {"json": tool.parameters}}
    if tool.description:
        spec["description"] = tool.description
    return {"toolSpec": spec}


def parse_converse(response: dict[str, Any]) -> ModelResponse:
    """A Converse response → one decision."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in response.get("output", {}).get("message", {}).get("content", []):
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append(ToolCall(id=use["toolUseId"], name=use["name"], arguments=use.get("input") or {}))
    return ModelResponse(
        text="".join(texts),
        tool_calls=tuple(calls),
        usage=_usage(response.get("usage") or {}),
        stop_reason=response.get("stopReason", "end_turn"),
    )


def assemble_stream(events: Iterable[dict[str, Any]], on_delta: OnDelta | StreamSink) -> ModelResponse:
    """ConverseStream events → one decision. As they arrive, text deltas go to the sink, each tool call
    at its contentBlockStop (its input is complete), and the usage with the metadata event."""
    sink = as_sink(on_delta)
    assert sink is not None
    texts: list[str] = []
    tool_uses: dict[int, dict[str, Any]] = {}  # contentBlockIndex → {id, name, input fragments}
    stop_reason = "end_turn"
    usage: dict[str, Any] = {}
    for event in events:
        if sink.aborted:  # ended by the caller: read no further, even if bytes are still buffered
            raise sink.cancelled()
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            index, use = start["contentBlockIndex"], start.get("start", {}).get("toolUse")
            if use:
                tool_uses[index] = {"id": use["toolUseId"], "name": use["name"], "input": []}
        elif "contentBlockDelta" in event:
            block = event["contentBlockDelta"]
            delta = block.get("delta", {})
            if "text" in delta:
                texts.append(delta["text"])
                if delta["text"]:
                    sink.text(delta["text"])
            elif "toolUse" in delta and block["contentBlockIndex"] in tool_uses:
                tool_uses[block["contentBlockIndex"]]["input"].append(delta["toolUse"].get("input", ""))
        elif "contentBlockStop" in event:
            use = tool_uses.get(event["contentBlockStop"].get("contentBlockIndex"))
            if use is not None:
                sink.tool_call(_tool_call(use))
        elif "messageStop" in event:
            stop_reason = event["messageStop"].get("stopReason", stop_reason)
        elif "metadata" in event:
            usage = event["metadata"].get("usage") or {}
            sink.usage(_usage(usage))
        else:
            error = next((key for key in event if key.endswith("Exception")), None)
            if error:
                raise _failure(error, event[error].get("message", ""))
    if sink.aborted:  # the closed connection ended the stream early: that is no answer
        raise sink.cancelled()
    calls = tuple(_tool_call(use) for _, use in sorted(tool_uses.items()))
    return ModelResponse(text="".join(texts), tool_calls=calls, usage=_usage(usage), stop_reason=stop_reason)


def _tool_call(use: dict[str, Any]) -> ToolCall:
    return ToolCall(id=use["id"], name=use["name"], arguments=_arguments("".join(use["input"]), use["name"]))


def _failure(code: str, message: str) -> ModelError:
    return ModelError(f"bedrock {code}: {message}" if message else f"bedrock {code}")


def _arguments(raw: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ModelError(f"bedrock returned malformed JSON input for tool {name!r}") from None
    if not isinstance(value, dict):
        raise ModelError(f"bedrock returned non-object input for tool {name!r}")
    return value


def _usage(usage: dict[str, Any]) -> TokenUsage:
    return TokenUsage(
        input_tokens=int(usage.get("inputTokens") or 0),
        output_tokens=int(usage.get("outputTokens") or 0),
        cache_read_tokens=int(usage.get("cacheReadInputTokens") or 0),
        cache_write_tokens=int(usage.get("cacheWriteInputTokens") or 0),
    )
