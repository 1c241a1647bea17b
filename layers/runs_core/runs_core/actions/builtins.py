"""Builtin actions (docs/api.md §3): echo, memory_get, memory_set, set_output, http_request.

`ask_user` is a builtin too, but the engine handles it (the run waits for input), not this module.
"""

import json
import re
import socket
from collections.abc import Callable
from typing import Any

from runs_core.actions.base import ActionContext, ActionError
from runs_core.outbound import MAX_RESPONSE_BYTES, Allowlist, OutboundError, Resolver, fetch

HTTP_REQUEST_TIMEOUT_SECONDS = 10
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")


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
    allowlist: Allowlist | None = None,
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
    try:
        response = fetch(
            method.upper(),
            url,
            headers=headers,
            body=body,
            timeout=HTTP_REQUEST_TIMEOUT_SECONDS,
            max_bytes=MAX_RESPONSE_BYTES,
            allowlist=allowlist,
            resolver=resolver,
        )
    except OutboundError as error:
        raise ActionError(f"http_request: {error}") from None
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


BUILTINS: dict[str, Callable[[dict[str, Any], ActionContext], Any]] = {
    "echo": echo,
    "memory_get": memory_get,
    "memory_set": memory_set,
    "set_output": set_output,
    "http_request": http_request,
}
