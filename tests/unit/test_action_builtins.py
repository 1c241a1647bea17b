"""Builtin actions (docs/api.md §3) through the executor; http_request's SSRF guard, against a loopback
server."""

import json
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest

from runs_core.actions.base import ActionContext, ActionError
from runs_core.actions.builtins import http_request
from runs_core.actions.config import get_actions_config
from runs_core.actions.executor import execute
from runs_core.outbound import MAX_RESPONSE_BYTES, Allowlist, check_target
from tests.support import serving


class FakeMemory:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


class ExplodingMemory(FakeMemory):
    def get(self, key: str) -> Any:
        raise RuntimeError("connection to db://admin:hunter2@internal failed")


def make_ctx(memory: Any = None) -> tuple[ActionContext, dict[str, Any]]:
    outputs: dict[str, Any] = {}
    ctx = ActionContext(
        run_id="run_1",
        org_id="org_1",
        agent_id="agt_1",
        memory=memory if memory is not None else FakeMemory(),
        set_output=outputs.__setitem__,
    )
    return ctx, outputs


def builtin(name: str, alias: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": alias or name, "kind": "builtin"}
    if alias:
        spec["builtin"] = name
    return spec


@pytest.fixture(autouse=True)
def fresh_config() -> Iterator[None]:
    get_actions_config.cache_clear()
    yield
    get_actions_config.cache_clear()


# ---------------------------------------------------------------- echo, memory, outputs


def test_echo_returns_its_arguments():
    ctx, _ = make_ctx()
    assert execute(builtin("echo"), {"a": 1, "b": [True, None]}, ctx) == {"a": 1, "b": [True, None]}


def test_a_builtin_under_another_name():
    ctx, _ = make_ctx()
    assert execute(builtin("echo", alias="repeat_back"), {"x": "y"}, ctx) == {"x": "y"}


def test_memory_get_of_a_missing_key_is_none():
    ctx, _ = make_ctx()
    assert execute(builtin("memory_get"), {"key": "nope"}, ctx) == {"key": "nope", "value": None}


def test_memory_set_then_get():
    memory = FakeMemory()
    ctx, _ = make_ctx(memory)
    assert execute(builtin("memory_set"), {"key": "k", "value": {"n": 1}}, ctx) == {"ok": True}
    assert memory.values == {"k": {"n": 1}}
    assert execute(builtin("memory_get"), {"key": "k"}, ctx) == {"key": "k", "value": {"n": 1}}


def test_memory_set_stores_a_null_value():
    memory = FakeMemory()
    ctx, _ = make_ctx(memory)
    execute(builtin("memory_set"), {"key": "k", "value": None}, ctx)
    assert "k" in memory.values


def test_set_output_records_the_output():
    ctx, outputs = make_ctx()
    assert execute(builtin("set_output"), {"key": "decision", "value": "approve"}, ctx) == {"ok": True}
    assert outputs == {"decision": "approve"}


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("memory_get", {}, "`key`"),
        ("memory_get", {"key": 3}, "`key`"),
        ("memory_get", {"key": ""}, "`key`"),
        ("memory_set", {"key": "k"}, "`value`"),
        ("memory_set", {"value": 1}, "`key`"),
        ("set_output", {"key": ["x"], "value": 1}, "`key`"),
        ("set_output", {"key": "x"}, "`value`"),
        ("http_request", {"method": "BREW", "url": "http://example.com/"}, "`method`"),
        ("http_request", {"method": 7, "url": "http://example.com/"}, "`method`"),
        ("http_request", {"method": "GET"}, "`url`"),
        ("http_request", {"method": "GET", "url": 42}, "`url`"),
        ("http_request", {"url": "http://example.com/", "headers": "x"}, "`headers`"),
        ("http_request", {"url": "http://example.com/", "headers": {"X": 1}}, "header 'X'"),
        ("http_request", {"url": "http://example.com/", "headers": {"X": "a\r\nB: c"}}, "header 'X'"),
        ("http_request", {"url": "http://example.com/", "headers": {"bad name": "v"}}, "header name"),
        ("http_request", {"url": "http://example.com/", "body": 12}, "`body`"),
        ("http_request", {"url": "http://example.com:99999/"}, "not valid"),
        ("http_request", {"url": "http://user:pw@example.com/"}, "credentials"),
        ("http_request", {"url": "http:///path"}, "needs a host"),
    ],
)
def test_arguments_are_validated(name, arguments, message):
    ctx, _ = make_ctx()
    with pytest.raises(ActionError, match=message):
        execute(builtin(name), arguments, ctx)


def test_arguments_must_be_an_object():
    ctx, _ = make_ctx()
    with pytest.raises(ActionError, match="JSON object"):
        execute(builtin("echo"), ["not", "an", "object"], ctx)  # type: ignore[arg-type]


def test_unknown_builtin_and_unknown_kind_are_action_errors():
    ctx, _ = make_ctx()
    with pytest.raises(ActionError, match="unknown builtin"):
        execute({"name": "teleport", "kind": "builtin"}, {}, ctx)
    with pytest.raises(ActionError, match="unknown action kind"):
        execute({"name": "x", "kind": "grpc"}, {}, ctx)


@pytest.mark.parametrize("spec", [builtin("ask_user"), builtin("ask_user", alias="ask_human")])
def test_ask_user_belongs_to_the_engine(spec):
    ctx, _ = make_ctx()
    with pytest.raises(ValueError, match="engine"):
        execute(spec, {"prompt": "?"}, ctx)


def test_an_unexpected_exception_becomes_a_short_action_error():
    ctx, _ = make_ctx(ExplodingMemory())
    with pytest.raises(ActionError) as raised:
        execute(builtin("memory_get"), {"key": "k"}, ctx)
    message = str(raised.value)
    assert message == "action 'memory_get' failed: RuntimeError"
    assert "hunter2" not in message
    assert raised.value.__cause__ is None


# ---------------------------------------------------------------- http_request: refused targets


def fake_resolver(answers: dict[str, list[str]]):
    """A getaddrinfo stand-in: host → addresses, no DNS."""

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in answers[host]
        ]

    return resolve


def never_connect(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the guard should have refused before connecting")


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refusal tests fail fast (not after a timeout) if the guard ever lets a request through."""
    monkeypatch.setattr(socket, "create_connection", never_connect)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://localhost:8080/",
        "http://LOCALHOST./",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://192.168.1.10/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[64:ff9b::a00:1]/",
        "https://127.0.0.1:8443/",
    ],
)
def test_http_request_refuses_non_public_targets(url, no_connections):
    ctx, _ = make_ctx()
    with pytest.raises(ActionError, match="refused"):
        execute(builtin("http_request"), {"method": "GET", "url": url}, ctx)


def test_a_hostname_resolving_to_a_private_address_is_refused(no_connections):
    ctx, _ = make_ctx()
    resolver = fake_resolver({"intranet.example.com": ["10.1.2.3"]})
    with pytest.raises(ActionError, match=r"refused 'intranet\.example\.com'") as raised:
        http_request({"url": "http://intranet.example.com/admin"}, ctx, resolver=resolver)
    assert "10.1.2.3" not in str(raised.value)  # the internal address is not disclosed


def test_every_resolved_address_is_checked(no_connections):
    ctx, _ = make_ctx()
    resolver = fake_resolver({"mixed.example.com": ["93.184.216.34", "2606:2800::1", "127.0.0.1"]})
    with pytest.raises(ActionError, match="refused"):
        http_request({"url": "https://mixed.example.com/"}, ctx, resolver=resolver)


def test_public_addresses_pass_the_guard():
    resolver = fake_resolver({"example.com": ["93.184.216.34", "2606:2800:220:1::1"]})
    assert check_target("example.com", 443, allowlist=Allowlist(), resolver=resolver) == [
        "93.184.216.34",
        "2606:2800:220:1::1",
    ]


def test_an_unresolvable_host_is_an_action_error(no_connections):
    ctx, _ = make_ctx()
    with pytest.raises(ActionError, match="could not resolve"):
        http_request({"url": "http://nowhere.invalid/"}, ctx, resolver=fake_resolver({}))


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://127.0.0.1:6379/", "data:,hi"]
)
def test_http_request_refuses_other_schemes(url, no_connections):
    ctx, _ = make_ctx()
    with pytest.raises(ActionError, match="http or https"):
        execute(builtin("http_request"), {"url": url}, ctx)


def test_an_allowlist_opens_only_what_it_lists(monkeypatch, no_connections):
    monkeypatch.setenv("RUNS_API_HTTP_ALLOWLIST", "127.0.0.0/8, partner.internal")
    ctx, _ = make_ctx()
    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "http://[::1]/"):
        with pytest.raises(ActionError, match="refused"):
            execute(builtin("http_request"), {"url": url}, ctx)


# ---------------------------------------------------------------- http_request: a real loopback server


class Recorder(BaseHTTPRequestHandler):
    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        cast(RecordingServer, self.server).requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/huge":
            payload = b"x" * (MAX_RESPONSE_BYTES + 1)
            self.send_response(200)
            self.end_headers()  # no Content-Length: the cap must hold while streaming
            self.wfile.write(payload)
            return
        status = 404 if self.path == "/missing" else 200
        payload = json.dumps({"path": self.path, "method": self.command, "body": body}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Seen-By", "test-server")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


class RecordingServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Recorder)
        self.requests: list[dict[str, Any]] = []


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with serving(RecordingServer()) as httpd:
        yield httpd


def port_of(server: ThreadingHTTPServer) -> int:
    return server.server_address[1]


def test_the_loopback_server_is_refused_without_an_allowlist(server):
    ctx, _ = make_ctx()
    with pytest.raises(ActionError, match="refused"):
        execute(builtin("http_request"), {"url": f"http://127.0.0.1:{port_of(server)}/hello"}, ctx)
    assert server.requests == []


def test_an_allow_listed_cidr_reaches_the_loopback_server(server, monkeypatch):
    monkeypatch.setenv("RUNS_API_HTTP_ALLOWLIST", "127.0.0.0/8")
    ctx, _ = make_ctx()
    result = execute(
        builtin("http_request"),
        {
            "method": "post",
            "url": f"http://127.0.0.1:{port_of(server)}/things?x=1",
            "headers": {"X-Trace": "abc"},
            "body": {"name": "widget"},
        },
        ctx,
    )
    assert result["status"] == 200
    assert result["headers"]["x-seen-by"] == "test-server"
    assert json.loads(result["body"]) == {
        "path": "/things?x=1",
        "method": "POST",
        "body": '{"name": "widget"}',
    }
    [seen] = server.requests
    assert seen["headers"]["X-Trace"] == "abc"
    assert seen["headers"]["Content-Type"] == "application/json"


def test_an_allow_listed_hostname_connects_to_the_checked_address(server, monkeypatch):
    # The fake resolver is the only one that knows this name: reaching the server proves that the
    # connection goes to the address the guard checked, not to a second DNS answer.
    monkeypatch.setenv("RUNS_API_HTTP_ALLOWLIST", "Partner.Internal")
    ctx, _ = make_ctx()
    resolver = fake_resolver({"partner.internal": ["127.0.0.1"]})
    result = http_request(
        {"method": "GET", "url": f"http://partner.internal:{port_of(server)}/pinned"}, ctx, resolver=resolver
    )
    assert result["status"] == 200
    assert server.requests[0]["path"] == "/pinned"
    assert server.requests[0]["headers"]["Host"] == f"partner.internal:{port_of(server)}"


def test_non_2xx_is_a_result_not_an_error(server, monkeypatch):
    monkeypatch.setenv("RUNS_API_HTTP_ALLOWLIST", "127.0.0.1")
    ctx, _ = make_ctx()
    result = execute(builtin("http_request"), {"url": f"http://127.0.0.1:{port_of(server)}/missing"}, ctx)
    assert result["status"] == 404


def test_redirects_are_not_followed(server, monkeypatch):
    monkeypatch.setenv("RUNS_API_HTTP_ALLOWLIST", "127.0.0.1")
    ctx, _ = make_ctx()
    result = execute(builtin("http_request"), {"url": f"http://127.0.0.1:{port_of(server)}/redirect"}, ctx)
    assert result["status"] == 302
    assert result["headers"]["location"] == "http://169.254.169.254/latest/meta-data/"
    assert [seen["path"] for seen in server.requests] == ["/redirect"]


def test_responses_over_1_mib_are_refused(server, monkeypatch):
    monkeypatch.setenv("RUNS_API_HTTP_ALLOWLIST", "127.0.0.1")
    ctx, _ = make_ctx()
    with pytest.raises(ActionError, match="larger than"):
        execute(builtin("http_request"), {"url": f"http://127.0.0.1:{port_of(server)}/huge"}, ctx)


def test_a_closed_port_is_an_action_error(monkeypatch):
    monkeypatch.setenv("RUNS_API_HTTP_ALLOWLIST", "127.0.0.1")
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx, _ = make_ctx()
    with pytest.raises(ActionError, match="request failed"):
        execute(builtin("http_request"), {"url": f"http://127.0.0.1:{port}/"}, ctx)
