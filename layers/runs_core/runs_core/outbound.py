"""The one guard for outbound HTTP a tenant can steer: `http_request`, `http` actions, the openai provider.

A tenant chooses these URLs, and deployed, this process's own network is worth protecting: the Lambda
Runtime API listens on 127.0.0.1:9001 (the next invocation, another org's run, and its response), a VPC
deployment reaches internal services, 169.254.169.254 is instance metadata. So every call here:
- resolves the host and refuses it unless EVERY address is public, or allow-listed
  (`RUNS_API_HTTP_ALLOWLIST`: comma-separated hostnames and CIDRs, e.g. `127.0.0.1` for a local model
  server, `10.0.0.0/8`, `partner.internal`; hostnames match exactly, case-insensitive);
- connects only to the addresses it checked (a second DNS answer cannot swap the target);
- never follows a redirect (a 3xx comes back as the response) and never uses a proxy (no proxy
  environment variable is honoured), and speaks only http and https;
- reports failures as OutboundError with a short reason that holds no response body.
Non-2xx responses are returned, not raised; `fetch` caps bodies, `open_response` streams.

Over 300 lines on purpose: the guard is one module so that no caller can reach a socket around it.
"""

import contextlib
import functools
import http.client
import ipaddress
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_RESPONSE_BYTES = 1024 * 1024
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # a NAT64 gateway would reach the embedded IPv4 address

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# socket.getaddrinfo's shape: (host, port, family=0, type=0, proto=0, flags=0) → [(…, sockaddr)].
Resolver = Callable[..., list[tuple[Any, ...]]]
_CHUNK = 64 * 1024


class OutboundError(Exception):
    """An outbound call failed (refused connection, reset, TLS…); the message is safe to show the tenant."""


class OutboundRefused(OutboundError):
    """The guard refused the URL or its target: nothing was sent."""


class OutboundTimeout(OutboundError):
    """No answer within the timeout."""


@dataclass(frozen=True)
class Allowlist:
    """Non-public targets that may still be reached (`RUNS_API_HTTP_ALLOWLIST`)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Allowlist":
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in (item.strip() for item in environ.get("RUNS_API_HTTP_ALLOWLIST", "").split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(hosts=frozenset(hosts), networks=tuple(networks))


@functools.cache
def get_allowlist() -> Allowlist:
    return Allowlist.from_env()


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes


def fetch(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: bytes | None,
    timeout: float,
    max_bytes: int = MAX_RESPONSE_BYTES,
    allowlist: Allowlist | None = None,
    resolver: Resolver = socket.getaddrinfo,
) -> HttpResponse:
    """One guarded request, its body read (at most `max_bytes`). Refusals and failures: OutboundError."""
    deadline = time.monotonic() + timeout
    response = open_response(
        method, url, headers=headers, body=body, timeout=timeout, allowlist=allowlist, resolver=resolver
    )
    try:
        with response:
            data = _read_capped(response, max_bytes, deadline)
            return HttpResponse(response.status, _headers(response.headers.items()), data)
    except (OSError, http.client.HTTPException) as error:
        raise _failure(error) from None


def open_response(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: bytes | None,
    timeout: float,
    allowlist: Allowlist | None = None,
    resolver: Resolver = socket.getaddrinfo,
) -> http.client.HTTPResponse:
    """One guarded request; the caller reads (and closes) the response, whatever its status.

    `timeout` bounds the connect and each read of the body, not the whole call.
    """
    host, port = parse_target(url)
    addresses = check_target(host, port, allowlist=allowlist or get_allowlist(), resolver=resolver)
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    sockets: list[socket.socket] = []
    try:
        response: http.client.HTTPResponse = _opener(addresses, sockets).open(request, timeout=timeout)
        response._outbound_sockets = sockets  # type: ignore[attr-defined]  # for abort()
        return response
    except urllib.error.URLError as error:
        raise _failure(error.reason) from None
    except (OSError, http.client.HTTPException) as error:
        raise _failure(error) from None


def _failure(reason: object) -> OutboundError:
    if isinstance(reason, TimeoutError):
        return OutboundTimeout("request failed: timed out")
    return OutboundError(f"request failed: {_reason(reason)}")


def abort(response: http.client.HTTPResponse) -> None:
    """End `response`'s connection from any thread: a read blocked on it returns (or raises) at once.
    Closing the response object is not enough: it does not wake a thread blocked in recv()."""
    for sock in getattr(response, "_outbound_sockets", ()):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def parse_target(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL without credentials; else OutboundError."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused("the URL is not valid") from None
    if parts.scheme not in ("http", "https"):
        raise OutboundRefused("the URL must be http or https")
    if not parts.hostname:
        raise OutboundRefused("the URL needs a host")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("credentials in the URL are not supported; send them in headers")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _reason(error: object) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ssl.SSLError):
        return "TLS error"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return type(error).__name__ if isinstance(error, BaseException) else str(error)


def _read_capped(response: Any, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise OutboundError(f"response larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise OutboundError(f"response larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise OutboundTimeout("request failed: timed out")
        chunks.append(chunk)
    return b"".join(chunks)


def _headers(items: Sequence[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _opener(addresses: Sequence[str], sockets: list[socket.socket]) -> urllib.request.OpenerDirector:
    # Built by hand (not build_opener) so no proxy, redirect, file, ftp or data handler is present.
    opener = urllib.request.OpenerDirector()
    for handler in (
        _HTTPHandler(addresses, sockets),
        _HTTPSHandler(addresses, sockets),
        _PassThroughErrors(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    return opener


class _PassThroughErrors(urllib.request.HTTPErrorProcessor):
    """Every status is a response: no HTTPError, so no redirect handling either."""

    def http_response(self, request: Any, response: Any) -> Any:
        return response

    https_response = http_response


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, addresses: Sequence[str], sockets: list[socket.socket]) -> None:
        super().__init__()
        self._addresses = addresses
        self._sockets = sockets

    def http_open(self, req: Any) -> Any:
        connection_class = _connection_class(http.client.HTTPConnection, self._addresses, self._sockets)
        return self.do_open(connection_class, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, addresses: Sequence[str], sockets: list[socket.socket]) -> None:
        super().__init__(context=ssl.create_default_context())
        self._addresses = addresses
        self._sockets = sockets

    def https_open(self, req: Any) -> Any:
        connection_class = _connection_class(http.client.HTTPSConnection, self._addresses, self._sockets)
        return self.do_open(connection_class, req, context=self._context)  # type: ignore[attr-defined]


def _connection_class(
    base: type[http.client.HTTPConnection], addresses: Sequence[str], sockets: list[socket.socket]
) -> Any:
    def make(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        connection = base(host, **kwargs)
        # http.client connects through this attribute; TLS still verifies and sends SNI for `host`.
        connect = functools.partial(_connect_pinned, tuple(addresses), sockets)
        connection._create_connection = connect  # type: ignore[attr-defined]
        return connection

    return make


def _connect_pinned(
    addresses: tuple[str, ...],
    sockets: list[socket.socket],
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    last_error: OSError = OSError("no address to connect to")
    for ip in addresses:
        try:
            sock = socket.create_connection((ip, address[1]), timeout, source_address)
        except OSError as error:
            last_error = error
            continue
        sockets.append(sock)  # abort() shuts it down
        return sock
    raise last_error


def check_target(
    host: str, port: int, *, allowlist: Allowlist, resolver: Resolver = socket.getaddrinfo
) -> list[str]:
    """The addresses `host` resolves to, if EVERY one of them may be reached; else OutboundError.

    Reachable: public addresses; any address of an allow-listed hostname; addresses in allow-listed CIDRs.
    The caller connects to these addresses only, so DNS cannot change the answer after this check.
    """
    name = host.lower().rstrip(".")
    try:
        infos = resolver(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise OutboundRefused(f"could not resolve {host!r}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OutboundRefused(f"could not resolve {host!r}")
    if name in allowlist.hosts:
        return addresses
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise OutboundRefused(f"could not resolve {host!r}") from None
        if not _is_public(ip) and not _allow_listed(ip, allowlist):
            raise OutboundRefused(
                f"refused {host!r}: private, loopback, link-local and other non-public addresses are not "
                "allowed unless RUNS_API_HTTP_ALLOWLIST lists them"
            )
    return addresses


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _is_public(ip: IPAddress) -> bool:
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return _is_public(embedded)
    site_local = isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or site_local
    )


def _allow_listed(ip: IPAddress, allowlist: Allowlist) -> bool:
    embedded = _embedded_ipv4(ip)
    candidates: list[IPAddress] = [ip] if embedded is None else [ip, embedded]
    return any(
        candidate.version == network.version and candidate in network
        for candidate in candidates
        for network in allowlist.networks
    )
