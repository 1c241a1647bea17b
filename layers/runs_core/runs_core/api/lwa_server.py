"""The web server a streaming function runs behind the AWS Lambda Web Adapter (LWA).

Python's managed Lambda runtime sends a response only when the handler returns, so it cannot stream.
A function that must stream (EventsFunction: GET /v1/runs/{run_id}/events as Server-Sent Events) is
started by LWA instead, AWS's Lambda extension shipped as a layer: `AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap`
makes the runtime run the function's `run.sh`, which starts this server on 127.0.0.1. LWA takes each
invocation from the Lambda Runtime API, sends it here as an HTTP request, and with
`AWS_LWA_INVOKE_MODE=response_stream` streams what this server writes back to API Gateway
(InvokeWithResponseStream; the route's integration is in STREAM transfer mode) as it is written.

LWA sends the request as the client sent it (method, path without the stage, query string, headers,
body) plus two headers of its own: `x-amzn-request-context`, API Gateway's requestContext as JSON —
with `authorizer`, the context our Lambda authorizer returned (org, key, role, rate limits) — and
`x-amzn-lambda-context`, the invocation's Lambda context. This server turns them back into the same
REST (v1) proxy event API Gateway sent, and calls the function's `stream_handler`
(runs_core.api.sse): authentication, tenancy (another org's run is 404), validation, problem+json
errors, rate limits and headers are those of every other route, by the same code. A streamed body (an
SSE frames iterator) is written chunk by chunk, each flushed as it is produced; any other body in one
piece.

The request-context header is trusted: only LWA can reach this server (it listens on 127.0.0.1
inside the function's sandbox), and LWA replaces any `x-amzn-request-context` a client sent with the
real one. A request without it carries no authorizer context, so every org route answers 403.

Why the standard library's http.server, not an ASGI/WSGI server: LWA needs any HTTP/1.1 server; a Lambda
execution environment serves one invocation at a time; the frames come from a synchronous generator
(the same `sse_frames` the local server writes); and it adds no dependency to the layer and almost no
import time to the cold start. ThreadingHTTPServer, because LWA keeps its connection to the app open
between invocations and checks readiness on another one.

Over 300 lines, a third of it this docstring: the request-to-event translation and the streaming writer
are one small protocol with LWA, read together.
"""

import base64
import importlib
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

REQUEST_CONTEXT_HEADER = "x-amzn-request-context"
LAMBDA_CONTEXT_HEADER = "x-amzn-lambda-context"
DEFAULT_PORT = 8080  # LWA's default AWS_LWA_PORT
DEFAULT_READINESS_PATH = "/"  # LWA's default AWS_LWA_READINESS_CHECK_PATH
MAX_INVOCATION_MS = 900_000  # Lambda's longest timeout: the deadline when LWA sends none
# Headers this server sets itself (a proxy response's own values would contradict the body it writes).
_OWN_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class InvocationContext:
    """The Lambda context object, from LWA's `x-amzn-lambda-context` header (and the environment)."""

    aws_request_id: str
    deadline_ms: int
    invoked_function_arn: str
    function_name: str
    memory_limit_in_mb: int
    function_version: str
    log_group_name: str
    log_stream_name: str
    xray_trace_id: str | None = None
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))

    @classmethod
    def from_header(cls, raw: str | None) -> "InvocationContext":
        sent = _json_object(raw)
        env_config = sent.get("env_config")
        config: dict[str, Any] = env_config if isinstance(env_config, dict) else {}
        env = os.environ
        deadline = sent.get("deadline")
        return cls(
            aws_request_id=str(sent.get("request_id") or uuid.uuid4()),
            deadline_ms=(
                int(deadline) if isinstance(deadline, int) else int(time.time() * 1000) + MAX_INVOCATION_MS
            ),
            invoked_function_arn=str(sent.get("invoked_function_arn") or ""),
            function_name=str(config.get("function_name") or env.get("AWS_LAMBDA_FUNCTION_NAME", "")),
            memory_limit_in_mb=int(config.get("memory") or env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or 0),
            function_version=str(config.get("version") or env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")),
            log_group_name=str(config.get("log_group") or env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")),
            log_stream_name=str(config.get("log_stream") or env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")),
            xray_trace_id=str(sent["xray_trace_id"]) if sent.get("xray_trace_id") else None,
        )


def _json_object(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _utf8(header_value: str) -> str:
    """http.server decodes header bytes as Latin-1; LWA's JSON headers are UTF-8."""
    try:
        return header_value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return header_value


def proxy_event(method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes) -> dict[str, Any]:
    """The API Gateway REST (v1) Lambda proxy event of a request LWA forwarded."""
    url = urlsplit(target)
    path = unquote(url.path) or "/"
    multi_headers: dict[str, list[str]] = {}
    request_context: dict[str, Any] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered == REQUEST_CONTEXT_HEADER:
            request_context = _json_object(_utf8(value))
        elif lowered != LAMBDA_CONTEXT_HEADER:
            multi_headers.setdefault(name, []).append(value)
    request_context.setdefault("requestId", str(uuid.uuid4()))
    request_context.setdefault("httpMethod", method)
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    resource = str(request_context.get("resourcePath") or path)
    event: dict[str, Any] = {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": _path_parameters(resource, path),
        "stageVariables": None,
        "requestContext": request_context,
        "body": None,
        "isBase64Encoded": False,
    }
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    return event


def _path_parameters(resource: str, path: str) -> dict[str, str] | None:
    """`/v1/runs/{run_id}/events` + `/v1/runs/run_1/events` → {"run_id": "run_1"}."""
    names = [part for part in resource.strip("/").split("/") if part]
    values = [part for part in path.strip("/").split("/") if part]
    parameters: dict[str, str] = {}
    for index, name in enumerate(names):
        if not (name.startswith("{") and name.endswith("}")) or index >= len(values):
            continue
        if name.endswith("+}"):
            parameters[name[1:-2]] = "/".join(values[index:])
            break
        parameters[name[1:-1]] = values[index]
    return parameters or None


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked transfer for streamed bodies
    server: "StreamingServer"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if (
            self.command == "GET"
            and urlsplit(self.path).path == self.server.readiness_path
            and REQUEST_CONTEXT_HEADER not in self.headers
        ):
            self._send(200, {"Content-Type": "text/plain"}, b"ready")  # LWA's readiness check
            return
        event = proxy_event(self.command, self.path, self.headers.items(), body)
        context = InvocationContext.from_header(self.headers.get(LAMBDA_CONTEXT_HEADER))
        try:
            result = self.server.invoke(event, context)
        except Exception:
            self.server.log_exception("the handler raised")
            request_id = event["requestContext"].get("requestId")
            self._send(500, {"Content-Type": "application/problem+json"}, _internal_error(request_id))
            return
        self._respond(result)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def _respond(self, result: dict[str, Any]) -> None:
        headers = _response_headers(result)
        status = int(result.get("statusCode") or 200)
        body = result.get("body")
        if body is None or isinstance(body, str | bytes | bytearray):
            payload = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
            if result.get("isBase64Encoded"):
                payload = base64.b64decode(payload)
            self._send(status, headers, payload)
            return
        self._stream(status, headers, iter(body))

    def _send(self, status: int, headers: list[tuple[str, str]] | dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items() if isinstance(headers, dict) else headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.wfile.flush()

    def _stream(self, status: int, headers: list[tuple[str, str]], chunks: Iterator[str | bytes]) -> None:
        """Write each chunk as the producer yields it (HTTP/1.1 chunked), then close the producer."""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()  # the status and headers leave now: the client sees the stream open
        try:
            if self.command == "HEAD":
                return
            for chunk in chunks:
                data = chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
                if data:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client (LWA) went away: stop producing
        except Exception:
            # Mid-stream the status is already sent: end the connection without the last chunk, so the
            # client sees a broken stream and reconnects with Last-Event-ID.
            self.server.log_exception("the stream failed")
            self.close_connection = True
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()  # e.g. stop an SSE poll loop at once

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the handler logs one line per request itself (runs_core.api.app)


def _response_headers(result: dict[str, Any]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(value)) for value in values)
    multi = {name.lower() for name, _ in headers}
    for name, value in (result.get("headers") or {}).items():
        if value is not None and name.lower() not in multi:
            headers.append((name, str(value)))
    return [(name, value) for name, value in headers if name.lower() not in _OWN_HEADERS]


def _internal_error(request_id: Any) -> bytes:
    problem = {
        "type": "/problems/internal_error",
        "title": "Internal error",
        "status": 500,
        "detail": "Something went wrong on our side.",
        "code": "internal_error",
        "request_id": request_id,
    }
    return json.dumps(problem).encode("utf-8")


class StreamingServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: Handler, readiness_path: str) -> None:
        super().__init__(address, _RequestHandler)
        self.handler = handler
        self.readiness_path = readiness_path
        # Powertools' resolver keeps the request it resolves in class attributes: one handler call at a
        # time (Lambda sends an execution environment one invocation at a time anyway). Only the call is
        # serialized, not the writing of a streamed body.
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any], context: InvocationContext) -> dict[str, Any]:
        with self._lock:
            if context.xray_trace_id:
                os.environ["_X_AMZN_TRACE_ID"] = context.xray_trace_id  # what the runtime sets per invocation
            return self.handler(event, context)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def log_exception(self, message: str) -> None:
        from runs_core.observability import logger  # lazy: the server imports nothing of runs_core itself

        logger.exception(message)


def make_server(
    handler: Handler, port: int = 0, readiness_path: str = DEFAULT_READINESS_PATH
) -> StreamingServer:
    """A server on 127.0.0.1 (port 0: any free port) calling `handler`; run it with serve_forever()."""
    return StreamingServer(("127.0.0.1", port), handler, readiness_path)


def load_handler(target: str) -> Handler:
    """`app:stream_handler` → that module's attribute (imported now: the cold start happens at init)."""
    module_name, _, attribute = target.partition(":")
    handler = getattr(importlib.import_module(module_name), attribute or "stream_handler")
    if not callable(handler):
        raise TypeError(f"{target} is not callable")
    return handler  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> None:
    """`python -m runs_core.api.lwa_server app:stream_handler`, as run.sh starts it under LWA."""
    args = sys.argv[1:] if argv is None else argv
    handler = load_handler(args[0] if args else "app:stream_handler")  # before listening: ready = loaded
    port = int(os.environ.get("AWS_LWA_PORT") or os.environ.get("PORT") or DEFAULT_PORT)
    readiness_path = os.environ.get("AWS_LWA_READINESS_CHECK_PATH") or DEFAULT_READINESS_PATH
    make_server(handler, port, readiness_path).serve_forever()


if __name__ == "__main__":
    main()
