"""The template's WebSocket API on the local stack: ws://127.0.0.1:<port>/ws, RFC 6455 with the stdlib.

* local.server hands a `GET /ws` with `Upgrade: websocket` to `serve()`. `$connect` runs the real
  WebSocketFunction first (API Gateway proxy event: requestContext.routeKey / connectionId / eventType,
  queryStringParameters, headers); a non-2xx answer refuses the handshake with that status.
* Each text frame becomes a MESSAGE event; the route is the body's `action` when the template has such a
  route, else `$default` (if there is none: a `{"message": "Forbidden"}` frame, like API Gateway).
  Closing the socket runs `$disconnect`.
* The Management API is emulated: `install()` adds botocore `before-call` handlers for
  apigatewaymanagementapi PostToConnection (as local.executions does for lambda Invoke), which writes the
  data to the live local socket with that ConnectionId, and DeleteConnection, which closes it; an unknown
  id answers 410 GoneException.
"""

import base64
import contextlib
import hashlib
import json
import logging
import re
import secrets
import socket
import struct
import threading
import uuid
from typing import Any, BinaryIO
from urllib.parse import unquote

from botocore.awsrequest import AWSResponse

from local.aws import register_before_call, response_metadata, short_circuit_response
from local.lambdas import LocalFunction
from local.template import Template, integrated_function, logical_id_of

log = logging.getLogger("local.websocket")

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_FRAME_BYTES = 128 * 1024  # API Gateway's WebSocket frame limit is 32 KB; messages up to 128 KB
_POST_PATH = re.compile(r"^/@connections/(?P<id>[^/?]+)$")
WEBSOCKET_API_TYPE = "AWS::ApiGatewayV2::Api"
WEBSOCKET_TYPES = frozenset(
    {
        WEBSOCKET_API_TYPE,
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Stage",
        "AWS::Lambda::Permission",
    }
)

_connections: dict[str, "LocalConnection"] = {}
_lock = threading.Lock()


def accept_value(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def encode_frame(opcode: int, payload: bytes, mask: bool = False) -> bytes:
    header = bytearray([0x80 | opcode])
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        header.append(mask_bit | length)
    elif length < 1 << 16:
        header.append(mask_bit | 126)
        header += struct.pack("!H", length)
    else:
        header.append(mask_bit | 127)
        header += struct.pack("!Q", length)
    if not mask:
        return bytes(header) + payload
    key = secrets.token_bytes(4)
    return bytes(header) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(stream: BinaryIO) -> tuple[int, bool, bytes]:
    """(opcode, fin, payload) of the next frame (unmasked if masked); EOFError when the peer is gone."""

    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = stream.read(count - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    first, second = exactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", exactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", exactly(8))[0]
    if length > MAX_FRAME_BYTES:
        raise ValueError("frame too large")
    key = exactly(4) if second & 0x80 else None
    payload = exactly(length)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return first & 0x0F, bool(first & 0x80), payload


class LocalConnection:
    def __init__(self, connection_id: str, wfile: BinaryIO, sock: socket.socket | None = None) -> None:
        self.connection_id = connection_id
        self.wfile = wfile
        self.sock = sock
        self.lock = threading.Lock()
        self.open = True

    def close(self) -> None:
        """What DeleteConnection does: a close frame, then the socket ends (the reader runs $disconnect)."""
        self.send(OP_CLOSE, struct.pack("!H", 1000))
        with self.lock:
            self.open = False
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)

    def send(self, opcode: int, payload: bytes) -> bool:
        with self.lock:
            if not self.open:
                return False
            try:
                self.wfile.write(encode_frame(opcode, payload))
                self.wfile.flush()
            except OSError:
                self.open = False
                return False
            return True


class WebSocketApi:
    """The template's one WEBSOCKET API: its route keys and the function its integration calls."""

    def __init__(self, routes: set[str], function: LocalFunction, stage: str) -> None:
        self.routes = routes
        self.function = function
        self.stage = stage

    @classmethod
    def from_template(cls, template: Template, functions: dict[str, LocalFunction]) -> "WebSocketApi | None":
        apis = [
            logical_id
            for logical_id in template.resources_of(WEBSOCKET_API_TYPE)
            if (template.resources[logical_id].get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"
        ]
        if not apis:
            return None
        api_id = apis[0]
        routes: set[str] = set()
        function: LocalFunction | None = None
        stage = "local"
        for logical_id in template.resources_of("AWS::ApiGatewayV2::Route"):
            properties = template.resources[logical_id].get("Properties") or {}
            if logical_id_of(properties.get("ApiId")) == api_id:
                routes.add(str(properties["RouteKey"]))
        for logical_id in template.resources_of("AWS::ApiGatewayV2::Integration"):
            properties = template.resources[logical_id].get("Properties") or {}
            target = integrated_function(properties.get("IntegrationUri"))
            if logical_id_of(properties.get("ApiId")) == api_id and target in functions:
                function = functions[target]
        for logical_id in template.resources_of("AWS::ApiGatewayV2::Stage"):
            properties = template.resources[logical_id].get("Properties") or {}
            if logical_id_of(properties.get("ApiId")) == api_id:
                stage = str(template.resolve(properties.get("StageName")))
        if function is None:
            return None
        return cls(routes, function, stage)

    def event(
        self, route: str, event_type: str, connection_id: str, body: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        context = {
            "routeKey": route,
            "eventType": event_type,
            "connectionId": connection_id,
            "messageId": uuid.uuid4().hex if event_type == "MESSAGE" else None,
            "requestId": str(uuid.uuid4()),
            "stage": self.stage,
            "domainName": "127.0.0.1",
            "apiId": "local",
        }
        event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False, **extra}
        if body is not None:
            event["body"] = body
        return event

    def call(self, event: dict[str, Any]) -> dict[str, Any]:
        try:
            result = self.function.invoke(event)
        except Exception:
            log.exception("%s failed on %s", self.function.name, event["requestContext"]["routeKey"])
            return {"statusCode": 500}
        return result if isinstance(result, dict) else {"statusCode": 200}


def serve(handler: Any, api: WebSocketApi, query: dict[str, list[str]]) -> None:
    """Run one WebSocket connection on an http.server request handler (GET /ws with Upgrade)."""
    key = handler.headers.get("Sec-WebSocket-Key")
    if not key or handler.headers.get("Sec-WebSocket-Version", "13") != "13":
        handler.close_connection = True
        handler.send_response_only(400)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return
    connection_id = base64.b64encode(secrets.token_bytes(9)).decode("ascii")  # like "L0SM9cOFvHcCIhw="
    headers = {name: value for name, value in handler.headers.items()}
    connect = api.event(
        "$connect",
        "CONNECT",
        connection_id,
        headers=headers,
        multiValueHeaders={name: handler.headers.get_all(name) for name in headers},
        queryStringParameters={name: values[-1] for name, values in query.items()} or None,
        multiValueQueryStringParameters=query or None,
    )
    status = int(api.call(connect).get("statusCode", 200))
    handler.close_connection = True
    if not 200 <= status < 300:
        handler.send_response_only(status)
        handler.send_header("Content-Length", "0")
        handler.send_header("Connection", "close")
        handler.end_headers()
        return
    handler.send_response_only(101)
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept_value(key))
    handler.end_headers()
    handler.wfile.flush()
    connection = LocalConnection(connection_id, handler.wfile, handler.connection)
    with _lock:
        _connections[connection_id] = connection
    fragments: list[bytes] = []
    try:
        while True:
            opcode, fin, payload = read_frame(handler.rfile)
            if opcode == OP_CLOSE:
                connection.send(OP_CLOSE, payload[:2])
                break
            if opcode == OP_PING:
                connection.send(OP_PONG, payload)
                continue
            if opcode == OP_PONG:
                continue
            fragments.append(payload)
            if not fin:
                continue
            message, fragments = b"".join(fragments), []
            _message(api, connection, message.decode("utf-8", errors="replace"))
    except (EOFError, OSError, ValueError):
        pass
    finally:
        with _lock:
            _connections.pop(connection_id, None)
        with connection.lock:
            connection.open = False
        api.call(api.event("$disconnect", "DISCONNECT", connection_id))
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)


def _message(api: WebSocketApi, connection: LocalConnection, body: str) -> None:
    try:
        action = json.loads(body).get("action")
    except (ValueError, AttributeError):
        action = None
    route = action if isinstance(action, str) and action in api.routes else "$default"
    if route not in api.routes:
        connection.send(
            OP_TEXT, json.dumps({"message": "Forbidden", "connectionId": connection.connection_id}).encode()
        )
        return
    api.call(api.event(route, "MESSAGE", connection.connection_id, body))


def close_all() -> None:
    with _lock:
        _connections.clear()


# ---------------------------------------------------------------------- Management API


def install() -> None:
    """Add the PostToConnection and DeleteConnection interceptors to every botocore session created from
    now on. Idempotent."""
    register_before_call("before-call.apigatewaymanagementapi.PostToConnection", _intercept_post)
    register_before_call("before-call.apigatewaymanagementapi.DeleteConnection", _intercept_delete)


def _intercept_delete(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
    match = _POST_PATH.match(str(params.get("url_path", "")).split("?", 1)[0])
    connection_id = unquote(match.group("id")) if match else ""
    with _lock:
        connection = _connections.get(connection_id)
    request_id = str(uuid.uuid4())
    if connection is None:
        headers = {"x-amzn-requestid": request_id, "x-amzn-errortype": "GoneException"}
        parsed = {
            "Error": {"Code": "GoneException", "Message": f"No connection {connection_id!r}"},
            "ResponseMetadata": response_metadata(request_id, 410, headers),
        }
        return short_circuit_response(params, 410, headers), parsed
    connection.close()
    headers = {"x-amzn-requestid": request_id}
    return short_circuit_response(params, 204, headers), {
        "ResponseMetadata": response_metadata(request_id, 204, headers)
    }


def _intercept_post(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
    match = _POST_PATH.match(str(params.get("url_path", "")).split("?", 1)[0])
    connection_id = unquote(match.group("id")) if match else ""
    with _lock:
        connection = _connections.get(connection_id)
    body = params.get("body") or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode("utf-8")
    request_id = str(uuid.uuid4())
    if connection is None or not connection.send(OP_TEXT, bytes(body)):
        headers = {"x-amzn-requestid": request_id, "x-amzn-errortype": "GoneException"}
        parsed = {
            "Error": {"Code": "GoneException", "Message": f"No connection {connection_id!r}"},
            "ResponseMetadata": response_metadata(request_id, 410, headers),
        }
        return short_circuit_response(params, 410, headers), parsed
    headers = {"x-amzn-requestid": request_id}
    return short_circuit_response(params, 200, headers), {
        "ResponseMetadata": response_metadata(request_id, 200, headers)
    }
