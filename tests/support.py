"""Test helpers shared across tiers: an action context with a no-op memory, and a loopback HTTP server."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any

from runs_core.actions.base import ActionContext


class FakeMemory:
    """A memory that stores nothing (for actions that do not use memory)."""

    def get(self, key: str) -> Any:
        return None

    def set(self, key: str, value: Any) -> None:
        pass


def action_context(run_id: str) -> ActionContext:
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
