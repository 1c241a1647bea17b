"""A client of the local /ws endpoint on the `websockets` library (its threaded client).

Used by the e2e tests and the latency bench; every read has a timeout.
"""

import json
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

# Generous: locally the stream router can lag many seconds behind a busy run (see bench/latency.py).
TIMEOUT = 60


class Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"handshake refused with {status}")
        self.status = status


class Client:
    def __init__(self, port: int, query: str = "", headers: dict[str, str] | None = None) -> None:
        try:
            self.connection: ClientConnection = connect(
                f"ws://127.0.0.1:{port}/ws{query}",
                additional_headers=headers,
                compression=None,  # API Gateway negotiates no extension
                user_agent_header=None,
                open_timeout=TIMEOUT,
                close_timeout=TIMEOUT,
                ping_interval=None,
                legacy=True,  # the connection itself, closed by close(), not a context manager
            )
        except InvalidStatus as refused:
            raise Refused(refused.response.status_code) from refused

    def send(self, message: dict[str, Any]) -> None:
        self.connection.send(json.dumps(message))

    def receive(self) -> dict[str, Any]:
        """The next text message as JSON (binary ones are skipped); EOFError once the server has closed."""
        while True:
            try:
                message = self.connection.recv(timeout=TIMEOUT)
            except ConnectionClosed as closed:
                raise EOFError("closed by the server") from closed
            if isinstance(message, str):
                return dict(json.loads(message))

    def close(self) -> None:
        self.connection.close()
