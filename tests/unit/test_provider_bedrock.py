"""The bedrock provider against a real bedrock-runtime client (docs/api.md §3 `model.provider`).

Converse answers come from botocore's Stubber (which also validates our request against the service model).
Retries and ConverseStream need the real HTTP path, so those tests answer at `before-send` with wire bytes:
botocore's own retry handler, parser and event-stream decoder run as they do in Lambda.
"""

import binascii
import json
import struct
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from runs_core.providers.base import (
    Message,
    ModelCancelled,
    ModelError,
    ModelRequest,
    StreamSink,
    TokenUsage,
    ToolCall,
    ToolSpec,
)
from runs_core.providers.bedrock import BedrockProvider, assemble_stream, default_client

MODEL_ID = "anthropic.claude-3-5-haiku-20241022-v1:0"
LOOKUP = ToolSpec(
    name="lookup_invoice",
    description="Fetch an invoice from the ERP.",
    parameters={
        "type": "object",
        "required": ["invoice_id"],
        "properties": {"invoice_id": {"type": "string"}},
    },
)


def make_request(*messages: Message, tools: tuple[ToolSpec, ...] = (LOOKUP,)) -> ModelRequest:
    return ModelRequest(
        model={"provider": "bedrock", "id": MODEL_ID, "max_output_tokens": 512},
        instructions="You triage invoices.",
        messages=messages or (Message("user", "Triage INV-1"),),
        tools=tools,
        turn=0,
    )


def converse_answer(*content: dict[str, Any], stop_reason: str = "end_turn", **usage: int) -> dict[str, Any]:
    """A Converse response as the service returns it."""
    tokens = {"inputTokens": 0, "outputTokens": 0, **usage}
    tokens["totalTokens"] = sum(tokens.values())
    return {
        "output": {"message": {"role": "assistant", "content": list(content)}},
        "stopReason": stop_reason,
        "usage": tokens,
        "metrics": {"latencyMs": 412},
    }


@pytest.fixture
def stubbed():
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield BedrockProvider(client=client), stubber
        stubber.assert_no_pending_responses()


def test_final_answer_with_cache_usage(stubbed):
    provider, stubber = stubbed
    stubber.add_response(
        "converse",
        converse_answer(
            {"text": "Approve: "},
            {"text": "the amount matches the PO."},
            inputTokens=120,
            outputTokens=9,
            cacheReadInputTokens=1000,
            cacheWriteInputTokens=24,
        ),
        expected_params={
            "modelId": MODEL_ID,
            "messages": [{"role": "user", "content": [{"text": "Triage INV-1"}]}],
            "system": [{"text": "You triage invoices."}],
            "inferenceConfig": {"maxTokens": 512},
        },
    )

    response = provider.complete(make_request(tools=()))

    assert response.text == "Approve: the amount matches the PO."
    assert response.tool_calls == ()
    assert response.stop_reason == "end_turn"
    assert response.usage == TokenUsage(
        input_tokens=120, output_tokens=9, cache_read_tokens=1000, cache_write_tokens=24
    )


def test_tool_use_answer_becomes_tool_calls(stubbed):
    provider, stubber = stubbed
    stubber.add_response(
        "converse",
        converse_answer(
            {"text": "Let me look that up."},
            {
                "toolUse": {
                    "toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                    "name": "lookup_invoice",
                    "input": {"invoice_id": "INV-1"},
                }
            },
            {
                "toolUse": {
                    "toolUseId": "tooluse_2",
                    "name": "lookup_invoice",
                    "input": {"invoice_id": "INV-2"},
                }
            },
            stop_reason="tool_use",
            inputTokens=300,
            outputTokens=60,
        ),
    )

    response = provider.complete(make_request())

    assert response.stop_reason == "tool_use"
    assert response.text == "Let me look that up."
    assert response.tool_calls == (
        ToolCall(
            id="tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", name="lookup_invoice", arguments={"invoice_id": "INV-1"}
        ),
        ToolCall(id="tooluse_2", name="lookup_invoice", arguments={"invoice_id": "INV-2"}),
    )
    assert response.usage == TokenUsage(input_tokens=300, output_tokens=60)


def test_transcript_maps_to_alternating_converse_messages(stubbed):
    provider, stubber = stubbed
    transcript = (
        Message("user", "Triage INV-1 and INV-2"),
        Message(
            "assistant",
            "",  # tool calls only: no empty text block
            tool_calls=(
                ToolCall("tooluse_a", "lookup_invoice", {"invoice_id": "INV-1"}),
                ToolCall("tooluse_b", "lookup_invoice", {"invoice_id": "INV-2"}),
            ),
        ),
        Message(
            "tool", '{"amount": 120, "currency": "EUR"}', tool_call_id="tooluse_a", name="lookup_invoice"
        ),
        Message("tool", "ERP unreachable", tool_call_id="tooluse_b", name="lookup_invoice", is_error=True),
        Message("user", "Also check the due date."),  # e.g. an ask_user answer right after the results
    )
    stubber.add_response(
        "converse",
        converse_answer({"text": "Approve INV-1; retry INV-2 later."}, inputTokens=500, outputTokens=12),
        expected_params={
            "modelId": MODEL_ID,
            "system": [{"text": "You triage invoices."}],
            "inferenceConfig": {"maxTokens": 512},
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": "lookup_invoice",
                            "description": "Fetch an invoice from the ERP.",
                            "inputSchema": {"json": LOOKUP.parameters},
                        }
                    }
                ]
            },
            "messages": [
                {"role": "user", "content": [{"text": "Triage INV-1 and INV-2"}]},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "toolUse": {
                                "toolUseId": "tooluse_a",
                                "name": "lookup_invoice",
                                "input": {"invoice_id": "INV-1"},
                            }
                        },
                        {
                            "toolUse": {
                                "toolUseId": "tooluse_b",
                                "name": "lookup_invoice",
                                "input": {"invoice_id": "INV-2"},
                            }
                        },
                    ],
                },
                {
                    "role": "user",  # both results and the follow-up in ONE user message
                    "content": [
                        {
                            "toolResult": {
                                "toolUseId": "tooluse_a",
                                "content": [{"json": {"amount": 120, "currency": "EUR"}}],
                            }
                        },
                        {
                            "toolResult": {
                                "toolUseId": "tooluse_b",
                                "content": [{"text": "ERP unreachable"}],
                                "status": "error",
                            }
                        },
                        {"text": "Also check the due date."},
                    ],
                },
            ],
        },
    )

    assert provider.complete(make_request(*transcript)).text == "Approve INV-1; retry INV-2 later."


def test_client_error_is_a_model_error(stubbed):
    provider, stubber = stubbed
    stubber.add_client_error(
        "converse",
        service_error_code="AccessDeniedException",
        service_message="You don't have access to the model with the specified model ID.",
        http_status_code=403,
    )

    with pytest.raises(ModelError) as failure:
        provider.complete(make_request())

    assert str(failure.value) == (
        "bedrock AccessDeniedException: You don't have access to the model with the specified model ID."
    )
    assert failure.value.__cause__ is None and failure.value.__suppress_context__


# --- the real HTTP path: botocore's retries and the ConverseStream event-stream decoder ---


class Body:
    """What botocore reads an HTTP body from."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.closed = False

    def stream(self, **_: Any):
        yield self.data

    def close(self) -> None:
        self.closed = True


class Wire:
    """Answers bedrock-runtime requests from a queue, recording what was sent."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, dict[str, str], Any]] = []  # a body's bytes, or a Body
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.bodies: list[Body] = []

    def send(self, request: Any, **_: Any) -> AWSResponse:
        self.sent.append((request.url, json.loads(request.body)))
        status, headers, data = self.replies.pop(0)
        self.bodies.append(data if isinstance(data, Body) else Body(data))
        return AWSResponse(request.url, status, headers, self.bodies[-1])

    def reply_json(self, body: dict[str, Any]) -> None:
        self.replies.append((200, {"Content-Type": "application/json"}, json.dumps(body).encode()))

    def reply_error(self, status: int, code: str, message: str) -> None:
        headers = {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/",
        }
        self.replies.append((status, headers, json.dumps({"message": message}).encode()))

    def reply_stream(self, *messages: bytes) -> None:
        self.replies.append((200, {"Content-Type": "application/vnd.amazon.eventstream"}, b"".join(messages)))


def event_message(headers: dict[str, str], payload: dict[str, Any]) -> bytes:
    """One message in the AWS event-stream binary framing (prelude, string headers, payload, CRCs)."""
    encoded = b"".join(
        bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
        for name, value in headers.items()
    )
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(encoded) + len(body) + 4, len(encoded))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + encoded + body
    return message + struct.pack(">I", binascii.crc32(message))


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return event_message(
        {":message-type": "event", ":event-type": kind, ":content-type": "application/json"}, payload
    )


def exception(kind: str, message: str) -> bytes:
    headers = {":message-type": "exception", ":exception-type": kind, ":content-type": "application/json"}
    return event_message(headers, {"message": message})


@pytest.fixture
def wire(monkeypatch):
    """The provider's own lazily made client (its retry config included), with HTTP answered by a Wire."""
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    default_client.cache_clear()
    fake = Wire()
    default_client().meta.events.register("before-send.bedrock-runtime", fake.send)
    yield fake
    default_client.cache_clear()


def test_throttling_is_retried_by_the_default_client(wire):
    wire.reply_error(429, "ThrottlingException", "Too many requests, please wait before trying again.")
    wire.reply_json(converse_answer({"text": "Approve."}, inputTokens=10, outputTokens=2))

    response = BedrockProvider().complete(make_request())

    assert response.text == "Approve."
    assert len(wire.sent) == 2
    assert wire.sent[0] == wire.sent[1]  # the same request, sent again
    assert (
        wire.sent[0][0]
        == f"https://bedrock-runtime.us-east-1.amazonaws.com/model/{quote(MODEL_ID, safe='')}/converse"
    )
    assert default_client() is default_client()  # one client per process
    assert default_client().meta.config.retries == {"mode": "standard", "total_max_attempts": 5}


def test_errors_that_are_not_transient_are_not_retried(wire):
    wire.reply_error(400, "ValidationException", "The model returned the following errors: bad tool schema")

    with pytest.raises(ModelError, match=r"^bedrock ValidationException: The model returned"):
        BedrockProvider().complete(make_request())

    assert len(wire.sent) == 1


def test_converse_stream_delivers_deltas_and_assembles_the_decision(wire):
    wire.reply_stream(
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Checking "}}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "the ERP."}}),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event(
            "contentBlockStart",
            {
                "contentBlockIndex": 1,
                "start": {"toolUse": {"toolUseId": "tooluse_s1", "name": "lookup_invoice"}},
            },
        ),
        event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"invoice_'}}}),
        event(
            "contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": 'id": "INV-1"}'}}}
        ),
        event("contentBlockStop", {"contentBlockIndex": 1}),
        event("messageStop", {"stopReason": "tool_use"}),
        event(
            "metadata",
            {
                "usage": {
                    "inputTokens": 40,
                    "outputTokens": 25,
                    "totalTokens": 865,
                    "cacheReadInputTokens": 800,
                },
                "metrics": {"latencyMs": 950},
            },
        ),
    )
    deltas: list[str] = []

    response = BedrockProvider().complete(make_request(), on_delta=deltas.append)

    assert deltas == ["Checking ", "the ERP."]
    assert response.text == "Checking the ERP."
    assert response.tool_calls == (ToolCall("tooluse_s1", "lookup_invoice", {"invoice_id": "INV-1"}),)
    assert response.stop_reason == "tool_use"
    assert response.usage == TokenUsage(input_tokens=40, output_tokens=25, cache_read_tokens=800)
    url, body = wire.sent[0]
    assert url.endswith(f"/model/{quote(MODEL_ID, safe='')}/converse-stream")
    assert body["toolConfig"]["tools"][0]["toolSpec"]["name"] == "lookup_invoice"
    assert wire.bodies[0].closed


def test_an_error_event_mid_stream_is_a_model_error(wire):
    wire.reply_stream(
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Partial"}}),
        exception("modelStreamErrorException", "The model stopped unexpectedly."),
    )
    deltas: list[str] = []

    with pytest.raises(ModelError, match="The model stopped unexpectedly"):
        BedrockProvider().complete(make_request(), on_delta=deltas.append)

    assert deltas == ["Partial"]
    assert wire.bodies[0].closed


# --- stream assembly on its own: the event dicts botocore yields ---


def test_assemble_stream_interleaves_text_and_several_tool_uses():
    events = [
        {"messageStart": {"role": "assistant"}},
        {
            "contentBlockStart": {
                "contentBlockIndex": 0,
                "start": {"toolUse": {"toolUseId": "t0", "name": "a"}},
            }
        },
        {
            "contentBlockStart": {
                "contentBlockIndex": 1,
                "start": {"toolUse": {"toolUseId": "t1", "name": "b"}},
            }
        },
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"x": '}}}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": ""}}}},
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "[1, 2]}"}}}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"contentBlockStop": {"contentBlockIndex": 1}},
        {"messageStop": {"stopReason": "tool_use"}},
        {"metadata": {"usage": {"inputTokens": 5, "outputTokens": 7, "cacheWriteInputTokens": 2048}}},
    ]
    deltas: list[str] = []

    response = assemble_stream(events, deltas.append)

    assert deltas == []
    assert response.text == ""
    assert response.tool_calls == (ToolCall("t0", "a", {}), ToolCall("t1", "b", {"x": [1, 2]}))
    assert response.usage == TokenUsage(input_tokens=5, output_tokens=7, cache_write_tokens=2048)


def test_assemble_stream_rejects_malformed_tool_input():
    events = [
        {
            "contentBlockStart": {
                "contentBlockIndex": 0,
                "start": {"toolUse": {"toolUseId": "t0", "name": "a"}},
            }
        },
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"x": '}}}},
        {"messageStop": {"stopReason": "max_tokens"}},
    ]

    with pytest.raises(ModelError, match="malformed JSON input for tool 'a'"):
        assemble_stream(events, lambda _: None)


class PacedBody(Body):
    """Hands botocore one event-stream message at a time, counting how many it has read so far."""

    def __init__(self, messages: list[bytes]) -> None:
        super().__init__(b"".join(messages))
        self.messages = messages
        self.read = 0

    def stream(self, **_: Any):
        for message in self.messages:
            if self.closed:
                return
            self.read += 1
            yield message


class Recorder(StreamSink):
    def __init__(self, body: PacedBody, abort_after_text: bool = False) -> None:
        super().__init__()
        self.body = body
        self.abort_after_text = abort_after_text
        self.seen: list[tuple[str, Any, int]] = []  # (what, value, messages read by then)

    def text(self, delta: str) -> None:
        self.seen.append(("text", delta, self.body.read))
        if self.abort_after_text:
            self.abort()

    def tool_call(self, call: ToolCall) -> None:
        self.seen.append(("tool_call", call.name, self.body.read))

    def usage(self, usage: TokenUsage) -> None:
        self.seen.append(("usage", usage.output_tokens, self.body.read))


STREAM = [
    event("messageStart", {"role": "assistant"}),
    event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Checking "}}),
    event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "the ERP."}}),
    event("contentBlockStop", {"contentBlockIndex": 0}),
    event(
        "contentBlockStart",
        {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_s1", "name": "lookup_invoice"}}},
    ),
    event(
        "contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"invoice_id": 1}'}}}
    ),
    event("contentBlockStop", {"contentBlockIndex": 1}),
    event("messageStop", {"stopReason": "tool_use"}),
    event("metadata", {"usage": {"inputTokens": 40, "outputTokens": 25, "totalTokens": 65}}),
]


def test_converse_stream_reports_each_part_as_its_event_is_read(wire):
    body = PacedBody(STREAM)
    wire.replies.append((200, {"Content-Type": "application/vnd.amazon.eventstream"}, body))
    sink = Recorder(body)

    BedrockProvider().complete(make_request(), on_delta=sink)

    # Each part is reported when its own message has been read, before the later ones arrive: the text
    # while the rest streams, the tool call at its contentBlockStop (7th), the usage with the metadata.
    assert sink.seen == [
        ("text", "Checking ", 2),
        ("text", "the ERP.", 3),
        ("tool_call", "lookup_invoice", 7),
        ("usage", 25, 9),
    ]


def test_an_aborted_converse_stream_stops_reading_and_is_cancelled(wire):
    body = PacedBody(STREAM)
    wire.replies.append((200, {"Content-Type": "application/vnd.amazon.eventstream"}, body))
    sink = Recorder(body, abort_after_text=True)

    with pytest.raises(ModelCancelled):
        BedrockProvider().complete(make_request(), on_delta=sink)

    assert [what for what, _, _ in sink.seen] == ["text"]
    assert body.closed and body.read < len(STREAM)
