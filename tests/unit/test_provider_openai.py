"""The openai provider against a real Chat Completions server on 127.0.0.1 (docs/api.md §3
`model.provider`)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

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
from runs_core.providers.openai import OpenAIProvider, lookup_secret

# These tests talk to servers on 127.0.0.1; the outbound guard refuses it unless allow-listed.
pytestmark = pytest.mark.usefixtures("allow_loopback")

LOOKUP = ToolSpec(
    name="lookup_invoice",
    description="Fetch an invoice from the ERP.",
    parameters={
        "type": "object",
        "required": ["invoice_id"],
        "properties": {"invoice_id": {"type": "string"}},
    },
)


class ChatServer:
    """Replies queued per test; every request recorded as (path, headers, JSON body)."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, dict[str, str], Any]] = []
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.base_url = ""
        self.gates_opened: list[bool] = []

    def reply(self, body: Any, status: int = 200, **headers: str) -> None:
        self.replies.append((status, {"Content-Type": "application/json", **headers}, body))

    def reply_stream(self, *chunks: Any) -> None:
        """SSE: each chunk as one `data:` event (str chunks are sent as they are), then `[DONE]`."""
        self.replies.append((200, {"Content-Type": "text/event-stream"}, list(chunks)))

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                server.requests.append((self.path, dict(self.headers), json.loads(self.rfile.read(length))))
                status, headers, body = server.replies.pop(0)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if isinstance(body, list):  # streamed, event by event; HTTP/1.0: the close ends the body
                    for chunk in [*body, "data: [DONE]\n\n"]:
                        if isinstance(chunk, threading.Event):  # hold the rest until the client saw a delta
                            server.gates_opened.append(chunk.wait(timeout=5))
                            continue
                        text = chunk if isinstance(chunk, str) else f"data: {json.dumps(chunk)}\n\n"
                        self.wfile.write(text.encode())
                        self.wfile.flush()
                else:
                    self.wfile.write(body if isinstance(body, bytes) else json.dumps(body).encode())

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


@pytest.fixture
def server():
    chat = ChatServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), chat.handler())
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    chat.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1/"
    yield chat
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(sleeps):
    return OpenAIProvider(secret_lookup=lambda name: pytest.fail(f"looked up {name}"), sleep=sleeps.append)


def make_request(server: ChatServer, *messages: Message, secret: str | None = None) -> ModelRequest:
    model = {"provider": "openai", "id": "gpt-4o-mini", "max_output_tokens": 256, "base_url": server.base_url}
    if secret:
        model["api_key_secret"] = secret
    return ModelRequest(
        model=model,
        instructions="You triage invoices.",
        messages=messages or (Message("user", "Triage INV-1"),),
        tools=(LOOKUP,),
        turn=0,
    )


def completion(message: dict[str, Any], finish_reason: str, **usage: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}
        ],
        "usage": usage,
    }


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1694268190,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        "usage": None,
    }


def test_final_answer_with_cached_prompt_tokens(server, provider):
    server.reply(
        completion(
            {"content": "Approve: the amount matches the PO.", "refusal": None},
            "stop",
            prompt_tokens=1200,
            completion_tokens=9,
            total_tokens=1209,
            prompt_tokens_details={"cached_tokens": 1024},
        )
    )

    response = provider.complete(make_request(server))

    assert response.text == "Approve: the amount matches the PO."
    assert response.tool_calls == ()
    assert response.stop_reason == "end_turn"
    # input_tokens excludes the cached part, as Bedrock counts it (the engine prices them separately)
    assert response.usage == TokenUsage(input_tokens=176, output_tokens=9, cache_read_tokens=1024)
    path, headers, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert "Authorization" not in headers  # no api_key_secret: a local server
    assert body["model"] == "gpt-4o-mini"
    assert body["max_tokens"] == 256
    assert "stream" not in body


def test_tool_calls_answer(server, provider):
    server.reply(
        completion(
            {
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc",
                        "type": "function",
                        "function": {"name": "lookup_invoice", "arguments": '{"invoice_id": "INV-1"}'},
                    },
                    {
                        "id": "call_def",
                        "type": "function",
                        "function": {"name": "lookup_invoice", "arguments": "{}"},
                    },
                ],
            },
            "tool_calls",
            prompt_tokens=80,
            completion_tokens=30,
        )
    )

    response = provider.complete(make_request(server))

    assert response.text == ""
    assert response.stop_reason == "tool_use"
    assert response.tool_calls == (
        ToolCall("call_abc", "lookup_invoice", {"invoice_id": "INV-1"}),
        ToolCall("call_def", "lookup_invoice", {}),
    )
    assert response.usage == TokenUsage(input_tokens=80, output_tokens=30)


def test_request_maps_transcript_and_tools_and_sends_the_key(server, sleeps):
    looked_up: list[str] = []

    def lookup(name: str) -> str:
        looked_up.append(name)
        return "sk-test-123"

    server.reply(completion({"content": "Done."}, "stop", prompt_tokens=1, completion_tokens=1))
    transcript = (
        Message("user", "Triage INV-1 and INV-2"),
        Message(
            "assistant",
            "",
            tool_calls=(
                ToolCall("call_a", "lookup_invoice", {"invoice_id": "INV-1"}),
                ToolCall("call_b", "lookup_invoice", {"invoice_id": "INV-2"}),
            ),
        ),
        Message("tool", '{"amount": 120}', tool_call_id="call_a", name="lookup_invoice"),
        Message("tool", "ERP unreachable", tool_call_id="call_b", name="lookup_invoice", is_error=True),
        Message("assistant", "INV-2 failed; retrying later."),
        Message("user", "ok"),
    )

    OpenAIProvider(secret_lookup=lookup).complete(
        make_request(server, *transcript, secret="ssm:/runs-api/openai")
    )

    _, headers, body = server.requests[0]
    assert looked_up == ["ssm:/runs-api/openai"]
    assert headers["Authorization"] == "Bearer sk-test-123"
    assert body["messages"] == [
        {"role": "system", "content": "You triage invoices."},
        {"role": "user", "content": "Triage INV-1 and INV-2"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "lookup_invoice", "arguments": '{"invoice_id": "INV-1"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "lookup_invoice", "arguments": '{"invoice_id": "INV-2"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": '{"amount": 120}'},
        {"role": "tool", "tool_call_id": "call_b", "content": "Error: ERP unreachable"},
        {"role": "assistant", "content": "INV-2 failed; retrying later."},
        {"role": "user", "content": "ok"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup_invoice",
                "description": "Fetch an invoice from the ERP.",
                "parameters": LOOKUP.parameters,
            },
        }
    ]


def test_streaming_delivers_deltas_and_assembles_split_tool_calls(server, provider):
    server.reply_stream(
        chunk({"role": "assistant", "content": ""}),
        ": keep-alive\n\n",  # an SSE comment
        chunk({"content": "Checking "}),
        chunk({"content": "both."}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup_invoice", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"invoice'}}]}),
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "function": {"arguments": '_id": "INV-1"}'}},
                    {"index": 1, "id": "call_2", "type": "function", "function": {"name": "lookup_invoice"}},
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"invoice_id": "INV-2"}'}}]}),
        chunk({}, finish_reason="tool_calls"),
        {
            "id": "chatcmpl-123",
            "object": "chat.completion.chunk",
            "choices": [],
            "usage": {
                "prompt_tokens": 90,
                "completion_tokens": 40,
                "prompt_tokens_details": {"cached_tokens": 64},
            },
        },
    )
    deltas: list[str] = []

    response = provider.complete(make_request(server), on_delta=deltas.append)

    assert deltas == ["Checking ", "both."]
    assert "".join(deltas) == response.text
    assert response.tool_calls == (
        ToolCall("call_1", "lookup_invoice", {"invoice_id": "INV-1"}),
        ToolCall("call_2", "lookup_invoice", {"invoice_id": "INV-2"}),
    )
    assert response.stop_reason == "tool_use"
    assert response.usage == TokenUsage(input_tokens=26, output_tokens=40, cache_read_tokens=64)
    _, headers, body = server.requests[0]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert headers["Accept"] == "text/event-stream"


def test_deltas_arrive_while_the_answer_is_still_streaming(server, provider):
    first_delta = threading.Event()
    server.reply_stream(
        chunk({"content": "Hel"}), first_delta, chunk({"content": "lo"}, finish_reason="stop")
    )
    deltas: list[str] = []

    def on_delta(text: str) -> None:
        deltas.append(text)
        first_delta.set()

    assert provider.complete(make_request(server), on_delta=on_delta).text == "Hello"
    assert server.gates_opened == [True]  # the server held "lo" back until "Hel" had been delivered
    assert deltas == ["Hel", "lo"]


def test_an_error_event_in_the_stream_is_a_model_error(server, provider):
    server.reply_stream(
        chunk({"content": "Partial"}),
        {"error": {"message": "upstream overloaded", "type": "server_error"}},
    )
    deltas: list[str] = []

    with pytest.raises(ModelError, match="the stream reported an error") as failure:
        provider.complete(make_request(server), on_delta=deltas.append)

    assert deltas == ["Partial"]
    assert "upstream overloaded" not in str(failure.value)  # the body goes to the operator's log only


def test_429_is_retried_after_retry_after(server, provider, sleeps):
    server.reply(
        {"error": {"message": "Rate limit reached", "type": "requests"}}, status=429, **{"Retry-After": "0"}
    )
    server.reply(completion({"content": "Approve."}, "stop", prompt_tokens=10, completion_tokens=2))

    response = provider.complete(make_request(server))

    assert response.text == "Approve."
    assert len(server.requests) == 2
    assert server.requests[0][2] == server.requests[1][2]
    assert sleeps == [0.0]  # the server's Retry-After, not our backoff


def test_persistent_5xx_is_a_model_error_after_three_retries_with_backoff(server, provider, sleeps):
    for _ in range(4):
        server.reply(
            {"error": {"message": "The server had an error while processing your request."}}, status=500
        )

    with pytest.raises(ModelError) as failure:
        provider.complete(make_request(server))

    assert str(failure.value) == "openai HTTP 500"  # no body: it may be an internal endpoint's reply
    assert len(server.requests) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_retry_after_is_capped_by_the_sleep_budget(server, provider, sleeps):
    for _ in range(2):
        server.reply({"error": {"message": "slow down"}}, status=503, **{"Retry-After": "30"})

    with pytest.raises(ModelError, match="HTTP 503"):
        provider.complete(make_request(server))

    assert sleeps == [10.0]  # one capped wait, then the budget is spent: no more retries
    assert len(server.requests) == 2


def test_client_errors_are_not_retried_and_carry_only_the_status(server, sleeps):
    server.reply(
        {"error": {"message": "Incorrect API key provided: sk-test-123.", "code": "invalid_api_key"}}, 401
    )
    provider = OpenAIProvider(secret_lookup=lambda _: "sk-test-123", sleep=sleeps.append)

    with pytest.raises(ModelError) as failure:
        provider.complete(
            make_request(server, secret="arn:aws:secretsmanager:eu-west-1:123456789012:secret:k")
        )

    assert str(failure.value) == "openai HTTP 401"
    assert len(server.requests) == 1
    assert sleeps == []


def test_an_unreadable_secret_is_a_model_error_without_a_request(server):
    def lookup(name: str) -> str:
        raise RuntimeError("AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue")

    with pytest.raises(ModelError, match="cannot read api_key_secret 'openai-key': AccessDenied"):
        OpenAIProvider(secret_lookup=lookup).complete(make_request(server, secret="openai-key"))

    assert server.requests == []


def test_a_refused_connection_is_retried_then_a_model_error(sleeps):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]  # bound, then closed: nothing listens there
    request = ModelRequest(
        model={"provider": "openai", "id": "m", "base_url": f"http://127.0.0.1:{port}/v1"},
        instructions="",
        messages=(Message("user", "hi"),),
        tools=(),
        turn=0,
    )

    with pytest.raises(ModelError, match="request failed"):
        OpenAIProvider(sleep=sleeps.append).complete(request)

    assert sleeps == [0.5, 1.0, 2.0]


def test_only_http_base_urls_are_used(server, provider):
    request = make_request(server)
    request.model["base_url"] = "file:///etc"

    with pytest.raises(ModelError, match="base_url must be an http"):
        provider.complete(request)


@pytest.fixture
def aws(monkeypatch):
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    parameters.clear_caches()  # powertools keeps providers (and their clients) per process
    with mock_aws():
        yield boto3.session.Session(region_name="eu-west-1")
    parameters.clear_caches()


def test_lookup_secret_reads_ssm_parameters_and_secrets_manager(aws):
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/runs-api/openai-key", Value="sk-from-ssm", Type="SecureString")
    ssm.put_parameter(Name="plain-name", Value="sk-from-ssm-name", Type="SecureString")
    arn = aws.client("secretsmanager").create_secret(Name="runs-api/openai", SecretString="sk-from-sm\n")[
        "ARN"
    ]

    assert lookup_secret("/runs-api/openai-key") == "sk-from-ssm"
    assert lookup_secret("ssm:/runs-api/openai-key") == "sk-from-ssm"
    assert lookup_secret("ssm:plain-name") == "sk-from-ssm-name"
    assert lookup_secret("runs-api/openai") == "sk-from-sm"  # stripped
    assert lookup_secret(arn) == "sk-from-sm"
    assert lookup_secret("arn:aws:ssm:eu-west-1:123456789012:parameter/runs-api/openai-key") == "sk-from-ssm"


class Sink(StreamSink):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.texts: list[str] = []
        self.first_text = threading.Event()
        self.first_call = threading.Event()

    def text(self, delta: str) -> None:
        self.texts.append(delta)
        self.first_text.set()

    def tool_call(self, call: ToolCall) -> None:
        self.calls.append(call.id)
        self.first_call.set()


def tool_part(index: int, call_id: str | None, arguments: str, name: str | None = None) -> dict[str, Any]:
    function = {"arguments": arguments, **({"name": name} if name else {})}
    return {"index": index, **({"id": call_id} if call_id else {}), "type": "function", "function": function}


def test_a_tool_call_is_reported_once_the_next_one_starts(server, provider):
    sink = Sink()
    server.reply_stream(
        chunk({"tool_calls": [tool_part(0, "call_a", '{"invoice_id": ', "lookup_invoice")]}),
        chunk({"tool_calls": [tool_part(0, None, '"INV-1"}')]}),
        chunk({"tool_calls": [tool_part(1, "call_b", '{"invoice_id": "INV-2"}', "lookup_invoice")]}),
        sink.first_call,  # the server holds the rest until the first call has been reported
        chunk({}, finish_reason="tool_calls"),
    )

    response = provider.complete(make_request(server), on_delta=sink)

    assert server.gates_opened == [True]
    assert sink.calls == ["call_a", "call_b"]
    assert [call.id for call in response.tool_calls] == ["call_a", "call_b"]


def test_abort_closes_the_connection_while_the_server_still_holds_the_answer(server, provider):
    sink = Sink()
    never = threading.Event()  # the server would wait 5 s on it before sending the rest
    server.reply_stream(
        chunk({"content": "Partial"}), never, chunk({"content": " rest"}, finish_reason="stop")
    )

    def abort_after_first_text() -> None:
        assert sink.first_text.wait(timeout=5)
        sink.abort()

    aborter = threading.Thread(target=abort_after_first_text)
    aborter.start()
    with pytest.raises(ModelCancelled):
        provider.complete(make_request(server), on_delta=sink)
    aborter.join()

    assert server.gates_opened == []  # returned while the server was still holding the rest back
    assert sink.texts == ["Partial"]
    never.set()  # let the server's handler finish
