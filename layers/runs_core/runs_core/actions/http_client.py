"""The urllib plumbing shared by the `http_request` builtin and `http` actions.

Only http and https; no proxies, no redirects (a 3xx comes back as the response); non-2xx responses
are returned, not raised; bodies are capped; and the connection can be pinned to addresses the
caller already checked (so a second DNS answer cannot swap the target after the check).
"""

import functools
import http.client
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runs_core.actions.base import ActionError

MAX_RESPONSE_BYTES = 1024 * 1024
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
