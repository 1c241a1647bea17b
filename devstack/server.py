"""HTTP front door of the local stack: a threading HTTP/1.1 server that hands each request to DevStack.

A streamed response (a function's `stream_handler` answered with an iterator body, e.g. Server-Sent
Events) is written with chunked transfer encoding, each chunk flushed as it is produced, so
`curl -N -H 'Accept: text/event-stream' .../v1/runs/<id>/events` shows a run unfold live.
`GET /ws` with `Upgrade: websocket` is the template's WebSocket API (devstack.websocket).
`/_s3/<bucket>/<key>?X-Amz-…` is where presigned file URLs point (devstack.s3).
"""

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from devstack.apigw import MAX_REQUEST_BYTES
from devstack.s3 import PATH_PREFIX as S3_PATH_PREFIX
from devstack.stack import DEFAULT_PORT, DevStack
from devstack.wakeups import live_thread
from devstack.websocket import serve as serve_websocket

DEFAULT_HOST = "127.0.0.1"


class BodyTooLarge(Exception):
    pass


class LocalApiServer(ThreadingHTTPServer):
    daemon_threads = True  # a hung handler must not keep the process alive at shutdown
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's 5 reset connections of 16 clients connecting at once

    def __init__(self, stack: DevStack, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        self.stack = stack
        super().__init__((host, port), _RequestHandler)
        stack.served_at(self.url)  # the port actually bound (port 0: a free one), for presigned URLs

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _RequestHandler(BaseHTTPRequestHandler):
    server: LocalApiServer
    protocol_version = "HTTP/1.1"  # keep-alive: Content-Length, or chunked for a stream
    server_version = "runs-api-local"
    sys_version = ""

    def _dispatch(self) -> None:
        started = time.monotonic()
        live_thread(False)  # a keep-alive connection's next request: live again only if it reads a stream
        url = urlsplit(self.path)
        websocket = self.server.stack.websocket
        if (
            self.command == "GET"
            and url.path.rstrip("/") == "/ws"
            and websocket is not None
            and "websocket" in self.headers.get("Upgrade", "").lower()
        ):
            # The WebSocket API (devstack.websocket): this thread serves the connection until it closes.
            serve_websocket(self, websocket, parse_qs(url.query, keep_blank_values=True))
            sys.stderr.write(f"WS {url.path} closed {(time.monotonic() - started) * 1000:.0f}ms\n")
            return
        try:
            body = self._read_body()
        except BodyTooLarge:
            # Like API Gateway: refuse without reading the body, then drop the connection.
            self.close_connection = True
            self._send(*self.server.stack.payload_too_large(), started)
            return
        except ValueError:
            self.send_error(400, explain="The body's Content-Length or chunked encoding is malformed.")
            return
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name, []).append(value)
        query = parse_qs(url.query, keep_blank_values=True)
        if url.path.startswith(S3_PATH_PREFIX):  # presigned file URLs (devstack.s3)
            plain = {name: values[-1] for name, values in headers.items()}
            self._send(*self.server.stack.s3_request(self.command, url.path, query, plain, body), started)
            return
        response = self.server.stack.stream(
            self.command, url.path or "/", headers, body, query, source_ip=self.client_address[0]
        )
        if response.chunks is not None:
            self._send_stream(response.status, response.headers, response.chunks, started)
        else:
            self._send(response.status, response.headers, response.body, started)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def __getattr__(self, name: str) -> Callable[[], None]:
        # Any other method (TRACE, QUERY, …) goes to the gateway too, which answers it as problem+json like
        # API Gateway does, instead of http.server's HTML 501.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_REQUEST_BYTES:
            raise BodyTooLarge
        return self.rfile.read(length) if length else None

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_REQUEST_BYTES:
                raise BodyTooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk

    def _send(self, status: int, headers: dict[str, str], body: bytes, started: float) -> None:
        self.send_response_only(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        # Access log: method, path (no query string: it may carry cursors), status, time. No bodies, no keys.
        elapsed_ms = (time.monotonic() - started) * 1000
        sys.stderr.write(f"{self.command} {urlsplit(self.path).path} {status} {elapsed_ms:.0f}ms\n")

    def _send_stream(
        self, status: int, headers: dict[str, str], chunks: Iterator[bytes], started: float
    ) -> None:
        """Write the body as it is produced: chunked on HTTP/1.1, else until the connection closes."""
        chunked = self.request_version == "HTTP/1.1"
        self.send_response_only(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Date", self.date_time_string())
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        try:
            if self.command != "HEAD":
                for chunk in chunks:
                    if not chunk:
                        continue
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                    self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left; closing `chunks` stops its producer
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()
        elapsed_ms = (time.monotonic() - started) * 1000
        sys.stderr.write(f"{self.command} {urlsplit(self.path).path} {status} {elapsed_ms:.0f}ms (stream)\n")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (414 URI too long, 431, a malformed request line, bad body framing) as
        problem+json like every other error of the API, not its HTML page. The connection is closed."""
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:  # not a standard status
            phrase = "Error"
        slug = "_".join(phrase.lower().replace("-", " ").split())
        request_id = str(uuid.uuid4())
        body = json.dumps(
            {
                "type": f"/problems/{slug}",
                "title": phrase,
                "status": code,
                "detail": explain or message or phrase,
                "code": slug,
                "request_id": request_id,
            }
        ).encode()
        self.log_error("code %d, message %s", code, message or phrase)
        # A request line it could not parse leaves http.server at HTTP/0.9, which has no status line.
        self.request_version = "HTTP/1.0" if self.request_version == "HTTP/0.9" else self.request_version
        self.send_response_only(code)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Request-Id", request_id)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silence http.server's default per-request log (we write our own in _send); keep its errors."""

    def log_error(self, format: str, *args: object) -> None:
        sys.stderr.write("local server: " + (format % args) + "\n")
