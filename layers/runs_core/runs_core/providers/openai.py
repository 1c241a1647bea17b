"""The `openai` provider (docs/api.md §3): any OpenAI-compatible Chat Completions endpoint, standard
library only.

Token usage is normalised to the Bedrock meaning: `input_tokens` excludes the cached prompt tokens,
which are counted in `cache_read_tokens` (OpenAI's `prompt_tokens` includes them).

Over 300 lines because it is one wire format both ways: the request (messages, tools, attachments),
the streamed and the whole response, and their errors; split, each half would only make sense beside
the other.
"""

import base64
import http.client
import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from runs_core import outbound
from runs_core.observability import logger
from runs_core.providers.base import (
    Attachment,
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

TIMEOUT_SECONDS = 60  # per request (connect, and each read of a streamed answer)
RETRIES = 3  # 429, 5xx and refused/reset connections, after the first attempt
BACKOFF_SECONDS = 0.5  # doubles per retry unless the server sends Retry-After
MAX_TOTAL_SLEEP_SECONDS = 10.0
SECRET_MAX_AGE_SECONDS = 300
EXCERPT_CHARS = 200
STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "content_filtered",
}

SecretLookup = Callable[[str], str]
Sleep = Callable[[float], None]


def lookup_secret(name: str) -> str:
    """The API key named by `api_key_secret`: an SSM parameter (`/path`, `ssm:name`, an SSM ARN) or else a
    Secrets Manager secret (name or ARN). Cached per process for five minutes."""
    from aws_lambda_powertools.utilities import parameters  # lazy: only runs that use a key pay for it

    value: Any
    if name.startswith(("/", "ssm:")) or (name.startswith("arn:") and ":ssm:" in name):
        name = name.removeprefix("ssm:")
        value = parameters.get_parameter(name, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
    else:
        value = parameters.get_secret(name, max_age=SECRET_MAX_AGE_SECONDS)
    if isinstance(value, bytes):
        value = value.decode()
    return str(value).strip()


class OpenAIProvider:
    def __init__(self, secret_lookup: SecretLookup | None = None, sleep: Sleep = time.sleep) -> None:
        self._secret_lookup = secret_lookup or lookup_secret
        self._sleep = sleep

    def complete(self, request: ModelRequest, on_delta: OnDelta | StreamSink | None = None) -> ModelResponse:
        sink = as_sink(on_delta)
        model = request.model
        base_url = str(model.get("base_url") or "")
        if not base_url.startswith(("http://", "https://")):
            raise ModelError("openai: base_url must be an http(s) URL")
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if sink else "application/json",
            "User-Agent": "runs-api",
        }
        key = self._api_key(model.get("api_key_secret"))
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = json.dumps(chat_body(request, stream=sink is not None)).encode()
        response = self._post(base_url.rstrip("/") + "/chat/completions", body, headers, key, sink)
        try:
            with response:
                if sink is None:
                    return parse_completion(_json(response.read()))
                sink.on_abort(lambda: outbound.abort(response))  # a cancel closes the connection
                return assemble_stream(sse_data(response), sink)
        except (OSError, ValueError, http.client.HTTPException) as error:  # stopped arriving (timeout, reset)
            if sink is not None and sink.aborted:
                raise sink.cancelled() from None
            raise ModelError(f"openai: reading the answer failed: {error}") from None

    def _api_key(self, secret: str | None) -> str | None:
        if not secret:
            return None  # local servers need no key
        try:
            return self._secret_lookup(secret)
        except Exception as error:
            reason = _excerpt(str(error).encode(), None)
            raise ModelError(f"openai: cannot read api_key_secret {secret!r}: {reason}") from None

    def _post(
        self, url: str, body: bytes, headers: dict[str, str], key: str | None, sink: StreamSink | None = None
    ) -> Any:
        """The 2xx response (unread), retrying 429, 5xx and refused connections with backoff.

        Through runs_core.outbound: base_url is the tenant's, so non-public addresses are refused unless
        allow-listed, redirects are not followed and no proxy is used. Error messages (which reach the
        tenant in run.error) carry the status code only: a body could be an internal endpoint's reply.
        """
        slept = 0.0
        for attempt in range(RETRIES + 1):
            if sink is not None and sink.aborted:
                raise sink.cancelled()  # ended while waiting to retry: no new request
            wanted = BACKOFF_SECONDS * 2**attempt
            try:
                response = outbound.open_response(
                    "POST", url, headers=headers, body=body, timeout=TIMEOUT_SECONDS
                )
            except (outbound.OutboundRefused, outbound.OutboundTimeout) as error:
                # Refused by the guard, or a minute without an answer: retrying would only add minutes.
                raise ModelError(f"openai: {error}") from None
            except outbound.OutboundError as error:  # refused or reset connection: worth a retry
                failure = ModelError(f"openai: {error}")
            else:
                if 200 <= response.status < 300:
                    return response
                with response:
                    _log_failure(response, key)
                failure = ModelError(f"openai HTTP {response.status}")
                if response.status != 429 and response.status < 500:
                    raise failure from None
                wanted = _retry_after(response.headers.get("Retry-After"), default=wanted)
            delay = min(wanted, MAX_TOTAL_SLEEP_SECONDS - slept)
            if attempt == RETRIES or (wanted > 0 and delay <= 0):
                raise failure from None
            self._sleep(delay)
            slept += delay
        raise AssertionError("unreachable")


def _log_failure(response: Any, key: str | None) -> None:
    try:
        body = response.read(64 * 1024)
    except (OSError, http.client.HTTPException):
        body = b""
    _log_excerpt(f"HTTP {response.status}", body, key)


def _log_excerpt(problem: str, raw: bytes, key: str | None = None) -> None:
    """The operator's log gets an excerpt of a bad answer (the key redacted); the tenant's run.error does
    not: the answer may come from an allow-listed internal endpoint."""
    logger.warning("openai provider: " + problem, extra={"excerpt": _excerpt(raw, key)})


def chat_body(request: ModelRequest, stream: bool) -> dict[str, Any]:
    """The Chat Completions request for one decision."""
    body: dict[str, Any] = {
        "model": request.model["id"],
        "messages": chat_messages(request),
        "max_tokens": int(request.model.get("max_output_tokens") or 2048),
    }
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _tool(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def chat_messages(request: ModelRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    for message in request.messages:
        if message.role == "tool":
            content = f"Error: {message.content}" if message.is_error else message.content
            messages.append({"role": "tool", "tool_call_id": message.tool_call_id or "", "content": content})
        elif message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": message.content or None}
            if message.tool_calls:
                entry["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                    }
                    for call in message.tool_calls
                ]
            elif entry["content"] is None:
                entry["content"] = ""
            messages.append(entry)
        elif message.attachments:
            parts = [part for part in map(attachment_part, message.attachments) if part is not None]
            parts.append({"type": "text", "text": message.content})
            messages.append({"role": "user", "content": parts})
        else:
            messages.append({"role": "user", "content": message.content})
    return messages


IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
TEXT_TYPES = frozenset({"application/json", "application/xml", "application/x-yaml", "application/yaml"})


def attachment_part(attachment: Attachment) -> dict[str, Any] | None:
    """A Chat Completions content part: images as data URLs, text files inline; others are skipped."""
    media_type = attachment.content_type.split(";")[0].strip().lower()
    if media_type in IMAGE_TYPES:
        data_url = f"data:{media_type};base64,{base64.b64encode(attachment.data).decode('ascii')}"
        return {"type": "image_url", "image_url": {"url": data_url}}
    if media_type.startswith("text/") or media_type in TEXT_TYPES:
        try:
            text = attachment.data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            return {"type": "text", "text": f"File {attachment.name} ({media_type}):\n{text}"}
    logger.warning("openai provider: file type not sent to the model", extra={"content_type": media_type})
    return None


def parse_completion(body: Any) -> ModelResponse:
    """A (non-streamed) chat.completion → one decision."""
    if not isinstance(body, dict) or not body.get("choices"):
        _log_excerpt("unexpected answer", json.dumps(body).encode())
        raise ModelError("openai: unexpected answer (no choices)")
    choice = body["choices"][0]
    message = choice.get("message") or {}
    calls = tuple(
        _tool_call(
            call.get("id"),
            (call.get("function") or {}).get("name"),
            (call.get("function") or {}).get("arguments"),
            index,
        )
        for index, call in enumerate(message.get("tool_calls") or [])
    )
    return ModelResponse(
        text=message.get("content") or "",
        tool_calls=calls,
        usage=_usage(body.get("usage")),
        stop_reason=_stop_reason(choice.get("finish_reason"), calls),
    )


def sse_data(lines: Iterable[bytes]) -> Iterator[Any]:
    """Server-sent events → the JSON of each event's `data`, until `[DONE]`."""
    data: list[str] = []
    for raw in itertools.chain(lines, [b""]):  # a final blank line dispatches an unterminated last event
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:  # a blank line ends an event; comments and other fields are skipped
            payload, data = "\n".join(data), []
            if payload.strip() == "[DONE]":
                return
            yield _json(payload.encode())


def assemble_stream(chunks: Iterable[Any], on_delta: OnDelta | StreamSink) -> ModelResponse:
    """chat.completion.chunk objects → one decision. As they arrive, text deltas go to the sink, each tool
    call once its arguments are complete (the next call starts, or the choice finishes), and the usage
    when the server reports it (`stream_options.include_usage`: the last chunk)."""
    sink = as_sink(on_delta)
    assert sink is not None
    texts: list[str] = []
    calls: dict[int, dict[str, Any]] = {}  # tool_calls[].index → {id, name, argument fragments}
    reported: set[int] = set()
    finish_reason = None
    usage = None

    def report_calls(before: int | None) -> None:
        for index in sorted(calls):
            if index not in reported and (before is None or index < before):
                reported.add(index)
                call = calls[index]
                sink.tool_call(_tool_call(call["id"], call["name"], "".join(call["arguments"]), index))

    for chunk in chunks:
        if sink.aborted:  # ended by the caller: read no further, even if bytes are still buffered
            raise sink.cancelled()
        if not isinstance(chunk, dict):
            continue
        if chunk.get("error"):
            _log_excerpt("stream error", json.dumps(chunk["error"]).encode())
            raise ModelError("openai: the stream reported an error")
        if chunk.get("usage"):
            usage = chunk["usage"]
            sink.usage(_usage(usage))
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                texts.append(delta["content"])
                sink.text(delta["content"])
            for part in delta.get("tool_calls") or []:
                index = part.get("index", len(calls))
                report_calls(before=index)  # calls stream one after another: earlier ones are complete
                call = calls.setdefault(index, {"id": None, "name": None, "arguments": []})
                function = part.get("function") or {}
                call["id"] = call["id"] or part.get("id")
                call["name"] = call["name"] or function.get("name")
                call["arguments"].append(function.get("arguments") or "")
            if choice.get("finish_reason"):
                finish_reason = choice["finish_reason"]
                report_calls(before=None)
    if sink.aborted:  # the closed connection ended the stream early: that is no answer
        raise sink.cancelled()
    report_calls(before=None)
    tool_calls = tuple(
        _tool_call(call["id"], call["name"], "".join(call["arguments"]), index)
        for index, call in sorted(calls.items())
    )
    return ModelResponse(
        text="".join(texts),
        tool_calls=tool_calls,
        usage=_usage(usage),
        stop_reason=_stop_reason(finish_reason, tool_calls),
    )


def _tool_call(call_id: Any, name: Any, arguments: Any, index: int) -> ToolCall:
    if not name:
        raise ModelError("openai: a tool call without a function name")
    if isinstance(arguments, dict):  # some servers send the object itself
        parsed: Any = arguments
    else:
        try:
            parsed = json.loads(arguments) if arguments and str(arguments).strip() else {}
        except ValueError:
            raise ModelError(f"openai: malformed JSON arguments for tool {name!r}") from None
    if not isinstance(parsed, dict):
        raise ModelError(f"openai: non-object arguments for tool {name!r}")
    return ToolCall(id=call_id or f"call_{index}", name=name, arguments=parsed)


def _usage(usage: Any) -> TokenUsage:
    if not isinstance(usage, dict):
        return TokenUsage()
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return TokenUsage(
        input_tokens=max(int(usage.get("prompt_tokens") or 0) - cached, 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cache_read_tokens=cached,
    )


def _stop_reason(finish_reason: Any, calls: tuple[ToolCall, ...]) -> str:
    if finish_reason is None:
        return "tool_use" if calls else "end_turn"
    return STOP_REASONS.get(finish_reason, str(finish_reason))


def _retry_after(value: str | None, default: float) -> float:
    """Retry-After in seconds; an HTTP date or garbage falls back to our own backoff."""
    try:
        return max(float(value), 0.0) if value is not None else default
    except ValueError:
        return default


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        _log_excerpt("answer is not JSON", raw)
        raise ModelError("openai: answer is not JSON") from None


def _excerpt(raw: bytes, key: str | None) -> str:
    text = " ".join(raw.decode("utf-8", "replace").split())
    if key:
        text = text.replace(key, "***")
    return text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")
