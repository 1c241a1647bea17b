"""Test helpers shared across tiers: an action context with a no-op memory, a loopback HTTP server, and a
slow OpenAI-compatible model server."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeMemory:
    """A memory that stores nothing (for actions that do not use memory)."""

    def get(self, key: str) -> Any:
        return None

    def set(self, key: str, value: Any) -> None:
        pass


def action_context(run_id: str) -> Any:
    from runs_core.actions.base import ActionContext  # here: the bench imports this module without the layer

    return ActionContext(
        run_id=run_id,
        org_id="org_1",
        agent_id="agt_1",
        memory=FakeMemory(),
        set_output=lambda key, value: None,
    )


@contextmanager
def serving[Server: ThreadingHTTPServer](server: Server) -> Iterator[Server]:
    """Serve `server` (bound to 127.0.0.1) in a thread; shut it down and join the thread on exit."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class SlowModel(BaseHTTPRequestHandler):
    """Streams CHUNKS chat.completion.chunk events, one every INTERVAL_S; records how far it got and
    whether the client hung up on it."""

    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        server: ModelServer = self.server  # type: ignore[assignment]
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            for index in range(server.chunks):
                delta = {
                    "choices": [{"index": 0, "delta": {"content": f"part{index} "}, "finish_reason": None}]
                }
                self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
                self.wfile.flush()
                server.sent += 1
                server.note_sent()
                server.release.wait(server.interval_s)  # released at teardown: finish at once
            done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            usage = {"choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": server.chunks}}
            self.wfile.write(
                f"data: {json.dumps(done)}\n\ndata: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode()
            )
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            server.hung_up.set()

    def log_message(self, *_: Any) -> None:
        pass


class ModelServer(ThreadingHTTPServer):
    def __init__(self, chunks: int, interval_s: float) -> None:
        super().__init__(("127.0.0.1", 0), SlowModel)
        self.chunks = chunks
        self.interval_s = interval_s
        self.sent = 0
        self.release = threading.Event()
        self.hung_up = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def note_sent(self) -> None:
        """Called after each chunk is written (the streaming bench times them)."""
