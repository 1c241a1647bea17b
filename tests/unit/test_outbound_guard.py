"""Every outbound call a tenant can steer goes through one guard (runs_core.outbound).

The callers: the `http_request` builtin (its `url`), `http` actions (the action's `url`) and the openai
provider (the agent's `model.base_url`). Each must refuse loopback, private, link-local, reserved and
IPv4-mapped targets in every spelling, and never follow a redirect or use a proxy.
"""

import contextlib
import json
import socket
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from runs_core.actions.base import ActionError
from runs_core.actions.builtins import http_request
from runs_core.actions.webhooks import call_webhook
from runs_core.providers.base import Message, ModelError, ModelRequest
from runs_core.providers.openai import OpenAIProvider
from tests.support import action_context, serving


def via_http_request(url: str) -> Any:
    return http_request({"method": "POST", "url": url}, action_context("run_1"))


def via_http_action(url: str) -> Any:
    action = {"name": "notify", "kind": "http", "url": url}
    return call_webhook(action, {}, action_context("run_1"), secret=b"k")


def via_openai_base_url(url: str) -> Any:
    model = {"provider": "openai", "id": "m", "base_url": url}
    request = ModelRequest(model=model, instructions="", messages=(Message("user", "hi"),), tools=(), turn=0)
    return OpenAIProvider(sleep=lambda _: None).complete(request)


CALLERS: dict[str, Callable[[str], Any]] = {
    "http_request": via_http_request,
    "http action": via_http_action,
    "openai base_url": via_openai_base_url,
}


class Recorder(BaseHTTPRequestHandler):
    """Records every request; `/redirect` answers 302 to the server's `redirect_to`."""

    def do_POST(self) -> None:
        server: RecordingServer = self.server  # type: ignore[assignment]
        server.paths.append(self.path)
        if self.path.endswith("/redirect") or self.path.endswith("/redirect/chat/completions"):
            self.send_response(302)
            self.send_header("Location", server.redirect_to)
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        payload = json.dumps({"secret": "internal data"}).encode()
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:
        pass


class RecordingServer(ThreadingHTTPServer):
    def __init__(self, host: str) -> None:
        super().__init__((host, 0), Recorder)
        self.paths: list[str] = []
        self.redirect_to = ""

    @property
    def port(self) -> int:
        return self.server_address[1]


@pytest.fixture
def internal() -> Iterator[RecordingServer]:
    """What a tenant must not reach: a service on this machine's loopback."""
    with serving(RecordingServer("127.0.0.1")) as server:
        yield server


# Spellings of loopback (for `internal`'s port) and other non-public targets. getaddrinfo accepts the
# decimal, hex, octal and short IPv4 forms (inet_aton), so the guard sees and checks the real address.
LOOPBACK_FORMS = [
    "http://127.0.0.1:{port}/x",
    "http://localhost:{port}/x",
    "http://LOCALHOST.:{port}/x",
    "http://2130706433:{port}/x",  # decimal
    "http://0x7f000001:{port}/x",  # hex
    "http://0177.0.0.1:{port}/x",  # octal
    "http://127.1:{port}/x",  # short form
    "http://0.0.0.0:{port}/x",  # "this host": reaches loopback listeners on Linux
    "http://[::ffff:127.0.0.1]:{port}/x",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]:{port}/x",
    "http://[::1]:{port}/x",
]
OTHER_NON_PUBLIC = [
    "http://10.0.0.1/x",
    "http://172.16.0.1/x",
    "http://192.168.1.1/x",
    "http://169.254.169.254/latest/meta-data/",  # link-local: instance metadata
    "http://[fe80::1]/x",
    "http://[fd00::1]/x",
    "http://100.64.0.1/x",  # carrier-grade NAT
    "http://240.0.0.1/x",  # reserved
    "http://[::ffff:a9fe:a9fe]/x",  # mapped link-local
    "http://[64:ff9b::a00:1]/x",  # NAT64 of 10.0.0.1
]


def refused(caller: Callable[[str], Any], url: str) -> str:
    with pytest.raises((ActionError, ModelError)) as failure:
        caller(url)
    return str(failure.value)


@pytest.mark.parametrize("form", LOOPBACK_FORMS)
@pytest.mark.parametrize("caller", CALLERS.values(), ids=CALLERS.keys())
def test_loopback_in_any_spelling_is_refused_and_never_reached(caller, form, internal):
    message = refused(caller, form.format(port=internal.port))
    assert "refused" in message or "could not resolve" in message
    assert internal.paths == []
    assert "internal data" not in message


@pytest.mark.parametrize("url", OTHER_NON_PUBLIC)
@pytest.mark.parametrize("caller", CALLERS.values(), ids=CALLERS.keys())
def test_private_link_local_and_reserved_targets_are_refused_before_connecting(caller, url, monkeypatch):
    def never_connect(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the guard let a connection through")

    monkeypatch.setattr(socket, "create_connection", never_connect)
    assert "refused" in refused(caller, url)


@pytest.mark.parametrize("caller", CALLERS.values(), ids=CALLERS.keys())
def test_a_redirect_to_a_non_public_address_is_not_followed(caller, internal, monkeypatch):
    # The first server is allow-listed (as a partner's service would be); its 302 points at another
    # loopback address that is not: the guard must not follow it.
    monkeypatch.setenv("RUNS_API_HTTP_ALLOWLIST", "127.0.0.1")
    with serving(RecordingServer("127.0.0.2")) as hidden:
        internal.redirect_to = f"http://127.0.0.2:{hidden.port}/x"
        try:
            result = caller(f"http://127.0.0.1:{internal.port}/redirect")
        except (ActionError, ModelError) as error:
            assert "302" in str(error)
            assert "internal data" not in str(error)
        else:
            assert result["status"] == 302  # http_request: the 3xx is the result
        assert hidden.paths == []
    assert len(internal.paths) == 1


@pytest.mark.parametrize("caller", CALLERS.values(), ids=CALLERS.keys())
def test_proxy_environment_variables_are_ignored(caller, internal, monkeypatch):
    monkeypatch.setenv("RUNS_API_HTTP_ALLOWLIST", "127.0.0.1")
    with serving(RecordingServer("127.0.0.1")) as proxy:
        for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        # The reply is no chat completion (an error for the openai caller): what matters is where it went.
        with contextlib.suppress(ActionError, ModelError):
            caller(f"http://127.0.0.1:{internal.port}/direct")
        assert proxy.paths == []
    assert len(internal.paths) == 1


@pytest.mark.parametrize("caller", CALLERS.values(), ids=CALLERS.keys())
def test_an_allow_listed_loopback_server_is_reached(caller, internal, monkeypatch):
    """The allow-list is how local model servers and partner services stay reachable."""
    monkeypatch.setenv("RUNS_API_HTTP_ALLOWLIST", "127.0.0.1")
    try:
        caller(f"http://127.0.0.1:{internal.port}/allowed")
    except (ActionError, ModelError) as error:
        assert "refused" not in str(error)
    assert len(internal.paths) == 1
