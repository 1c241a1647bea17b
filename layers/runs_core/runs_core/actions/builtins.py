"""Builtin actions (API.md §3): echo, memory_get, memory_set, set_output, http_request.

`ask_user` is a builtin too, but the engine handles it (the run waits for input), not this module.
"""

import ipaddress
import json
import re
import socket
import urllib.parse
from collections.abc import Callable
from typing import Any

from runs_core.actions.base import ActionContext, ActionError
from runs_core.actions.config import ActionsConfig, get_actions_config
from runs_core.actions.http_client import MAX_RESPONSE_BYTES, fetch

HTTP_REQUEST_TIMEOUT_SECONDS = 10
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # a NAT64 gateway would reach the embedded IPv4 address

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# socket.getaddrinfo's shape: (host, port, family=0, type=0, proto=0, flags=0) → [(…, sockaddr)].
Resolver = Callable[..., list[tuple[Any, ...]]]


def echo(arguments: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    return arguments


def memory_get(arguments: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    key = _key(arguments)
    return {"key": key, "value": ctx.memory.get(key)}


def memory_set(arguments: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    key = _key(arguments)
    ctx.memory.set(key, _value(arguments))
    return {"ok": True}


def set_output(arguments: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    key = _key(arguments)
    ctx.set_output(key, _value(arguments))
    return {"ok": True}


def _key(arguments: dict[str, Any]) -> str:
    key = arguments.get("key")
    if not isinstance(key, str) or not key:
        raise ActionError("`key` must be a non-empty string")
    return key


def _value(arguments: dict[str, Any]) -> Any:
    if "value" not in arguments:
        raise ActionError("`value` is required")
    return arguments["value"]


def http_request(
    arguments: dict[str, Any],
    ctx: ActionContext,
    *,
    resolver: Resolver = socket.getaddrinfo,
    config: ActionsConfig | None = None,
) -> dict[str, Any]:
    """{method, url, headers?, body?} → {status, headers, body}. Public addresses only, unless allow-listed.

    `body` is a string, or an object/array sent as JSON. Redirects are not followed (the 3xx is the result).
    """
    method = arguments.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        raise ActionError(f"`method` must be one of {', '.join(HTTP_METHODS)}")
    url = arguments.get("url")
    if not isinstance(url, str) or not url or len(url) > 8192:
        raise ActionError("`url` must be a non-empty string")
    headers = _headers(arguments.get("headers"))
    body = _body(arguments.get("body"), headers)
    host, port = _target(url)
    addresses = check_target(host, port, config=config or get_actions_config(), resolver=resolver)
    response = fetch(
        method.upper(),
        url,
        headers=headers,
        body=body,
        timeout=HTTP_REQUEST_TIMEOUT_SECONDS,
        max_bytes=MAX_RESPONSE_BYTES,
        addresses=addresses,
    )
    return {
        "status": response.status,
        "headers": response.headers,
        "body": response.body.decode("utf-8", errors="replace"),
    }


def _headers(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        raise ActionError("`headers` must be an object of strings")
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ActionError(f"invalid header name {name[:64]!r}")
        if not isinstance(value, str) or any(char in value for char in "\r\n\0"):
            raise ActionError(f"header {name!r} must be a string without line breaks")
    return dict(headers)


def _body(body: Any, headers: dict[str, str]) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, dict | list):
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
        return json.dumps(body).encode("utf-8")
    raise ActionError("`body` must be a string, an object or an array")


def _target(url: str) -> tuple[str, int]:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise ActionError("`url` is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ActionError("`url` must be http or https")
    if not parts.hostname:
        raise ActionError("`url` needs a host")
    if parts.username is not None or parts.password is not None:
        raise ActionError("credentials in `url` are not supported; send them in `headers`")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


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


BUILTINS: dict[str, Callable[[dict[str, Any], ActionContext], Any]] = {
    "echo": echo,
    "memory_get": memory_get,
    "memory_set": memory_set,
    "set_output": set_output,
    "http_request": http_request,
}
