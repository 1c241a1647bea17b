"""The urllib plumbing shared by the `http_request` builtin and `http` actions.

Only http and https; no proxies, no redirects (a 3xx comes back as the response); non-2xx responses
are returned, not raised; bodies are capped; and the connection can be pinned to addresses the
caller already checked (so a second DNS answer cannot swap the target after the check).
"""

import functools
import http.client
import ipaddress
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runs_core.actions.base import ActionError
from runs_core.actions.config import ActionsConfig

MAX_RESPONSE_BYTES = 1024 * 1024
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # a NAT64 gateway would reach the embedded IPv4 address

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# socket.getaddrinfo's shape: (host, port, family=0, type=0, proto=0, flags=0) → [(…, sockaddr)].
Resolver = Callable[..., list[tuple[Any, ...]]]
_CHUNK = 64 * 1024


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
    addresses: Sequence[str] | None = None,
) -> HttpResponse:
    """One request. `addresses`: connect only to these IPs (in order), whatever the URL's host resolves to.

    Failures (connection, timeout, oversized body) raise ActionError with a short message.
    """
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    deadline = time.monotonic() + timeout
    try:
        with _opener(addresses).open(request, timeout=timeout) as response:
            data = _read_capped(response, max_bytes, deadline)
            return HttpResponse(response.status, _headers(response.headers.items()), data)
    except urllib.error.URLError as error:
        raise ActionError(f"request failed: {_reason(error.reason)}") from None
    except (OSError, http.client.HTTPException) as error:
        raise ActionError(f"request failed: {_reason(error)}") from None


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
        raise ActionError(f"response larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise ActionError(f"response larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise ActionError("request failed: timed out")
        chunks.append(chunk)
    return b"".join(chunks)


def _headers(items: Sequence[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _opener(addresses: Sequence[str] | None) -> urllib.request.OpenerDirector:
    # Built by hand (not build_opener) so no proxy, redirect, file, ftp or data handler is present.
    opener = urllib.request.OpenerDirector()
    for handler in (
        _HTTPHandler(addresses),
        _HTTPSHandler(addresses),
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
    def __init__(self, addresses: Sequence[str] | None) -> None:
        super().__init__()
        self._addresses = addresses

    def http_open(self, req: Any) -> Any:
        return self.do_open(_connection_class(http.client.HTTPConnection, self._addresses), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, addresses: Sequence[str] | None) -> None:
        super().__init__(context=ssl.create_default_context())
        self._addresses = addresses

    def https_open(self, req: Any) -> Any:
        connection_class = _connection_class(http.client.HTTPSConnection, self._addresses)
        return self.do_open(connection_class, req, context=self._context)  # type: ignore[attr-defined]


def _connection_class(base: type[http.client.HTTPConnection], addresses: Sequence[str] | None) -> Any:
    if addresses is None:
        return base

    def make(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        connection = base(host, **kwargs)
        # http.client connects through this attribute; TLS still verifies and sends SNI for `host`.
        connection._create_connection = functools.partial(_connect_pinned, tuple(addresses))  # type: ignore[attr-defined]
        return connection

    return make


def _connect_pinned(
    addresses: tuple[str, ...],
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    last_error: OSError = OSError("no address to connect to")
    for ip in addresses:
        try:
            return socket.create_connection((ip, address[1]), timeout, source_address)
        except OSError as error:
            last_error = error
    raise last_error


def check_target(
    host: str, port: int, *, config: ActionsConfig, resolver: Resolver = socket.getaddrinfo
) -> list[str]:
    """The addresses `host` resolves to, if EVERY one of them may be reached; else ActionError.

    Reachable: public addresses; any address of an allow-listed hostname; addresses in allow-listed CIDRs.
    The caller connects to these addresses only, so DNS cannot change the answer after this check.
    """
    name = host.lower().rstrip(".")
    try:
        infos = resolver(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ActionError(f"could not resolve {host!r}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise ActionError(f"could not resolve {host!r}")
    if name in config.http_allow_hosts:
        return addresses
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise ActionError(f"could not resolve {host!r}") from None
        if not _is_public(ip) and not _allow_listed(ip, config):
            raise ActionError(
                f"http_request refuses {host!r}: private, loopback, link-local and other non-public "
                "addresses are not allowed"
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


def _allow_listed(ip: IPAddress, config: ActionsConfig) -> bool:
    embedded = _embedded_ipv4(ip)
    candidates: list[IPAddress] = [ip] if embedded is None else [ip, embedded]
    return any(
        candidate.version == network.version and candidate in network
        for candidate in candidates
        for network in config.http_allow_networks
    )
