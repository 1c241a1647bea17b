"""The template's WebSocket API on the local stack: ws://127.0.0.1:<port>/ws, on the `websockets` library.

* devstack.server hands a `GET /ws` with `Upgrade: websocket` to `serve()`. `$connect` runs the real
  WebSocketFunction first (API Gateway proxy event: requestContext.routeKey / connectionId / eventType,
  queryStringParameters, headers); a non-2xx answer refuses the handshake with that status.
* Each message (text; a binary one is read as UTF-8) becomes a MESSAGE event; the route is the body's
  `action` when the template has such a route, else `$default` (if there is none: a
  `{"message": "Forbidden"}` frame, like API Gateway). Closing the socket runs `$disconnect`.
* The Management API is emulated: `install()` adds botocore `before-call` handlers for
  apigatewaymanagementapi PostToConnection (as devstack.executions does for lambda Invoke), which writes the
  data to the live local socket with that ConnectionId, and DeleteConnection, which closes it; an unknown
  id answers 410 GoneException.
"""

import base64
import json
import logging
import re
import secrets
import threading
import uuid
from typing import Any
from urllib.parse import unquote

from botocore.awsrequest import AWSResponse
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.sync.connection import Connection

from devstack.aws import register_before_call, response_metadata, short_circuit_response
from devstack.ids import request_id as new_request_id
from devstack.lambdas import LocalFunction
from devstack.template import Template, integrated_function, logical_id_of

log = logging.getLogger("devstack.websocket")

MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket frame limit is 32 KB; messages up to 128 KB
CLOSE_TIMEOUT_S = 2.0  # DeleteConnection: how long the client has to answer the close frame
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


class LocalConnection:
    """One client's socket: a websockets connection, which sends from any thread (PostToConnection)."""

    def __init__(self, connection_id: str, websocket: Connection) -> None:
        self.connection_id = connection_id
        self.websocket = websocket

    def close(self) -> None:
        """What DeleteConnection does: the closing handshake; the reader then runs $disconnect."""
        self.websocket.close()

    def send(self, payload: bytes) -> bool:
        """A text frame; False once the connection is closed (PostToConnection then answers 410)."""
        try:
            self.websocket.send(payload, text=True)
        except ConnectionClosed:
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
            "requestId": new_request_id(),
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
    """Run one WebSocket connection on an http.server request handler (GET /ws with Upgrade).

    http.server has read the request; websockets' Sans-I/O ServerProtocol parses it again (as received),
    checks it and answers the handshake, and its threaded Connection then runs the socket (frames,
    ping/pong, close). The client sends nothing before it has the 101, so no byte of it waits in the
    handler's read buffer.
    """
    handler.close_connection = True
    protocol = ServerProtocol(max_size=MAX_MESSAGE_BYTES)
    head = "".join(f"{name}: {value}\r\n" for name, value in handler.headers.items())
    protocol.receive_data(f"{handler.requestline}\r\n{head}\r\n".encode("iso-8859-1"))
    requests = [event for event in protocol.events_received() if isinstance(event, Request)]
    if not requests:  # a request websockets cannot parse: its own 400
        protocol.send_response(protocol.reject(400, "Failed to open a WebSocket connection.\n"))
        handler.connection.sendall(b"".join(protocol.data_to_send()))
        return
    response = protocol.accept(requests[0])
    if response.status_code != 101:  # not a valid WebSocket handshake: websockets' own answer
        protocol.send_response(response)
        handler.connection.sendall(b"".join(protocol.data_to_send()))
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
    if not 200 <= status < 300:
        handler.send_response_only(status)
        handler.send_header("Content-Length", "0")
        handler.send_header("Connection", "close")
        handler.end_headers()
        return
    protocol.send_response(response)
    handler.connection.sendall(b"".join(protocol.data_to_send()))
    # No keepalive pings: API Gateway sends none either (it drops idle connections after 10 minutes).
    websocket = Connection(handler.connection, protocol, ping_interval=None, close_timeout=CLOSE_TIMEOUT_S)
    connection = LocalConnection(connection_id, websocket)
    with _lock:
        _connections[connection_id] = connection
    try:
        for message in websocket:
            body = message if isinstance(message, str) else message.decode("utf-8", errors="replace")
            _message(api, connection, body)
    except ConnectionClosed:  # closed with an error code (e.g. 1009: a message over MAX_MESSAGE_BYTES)
        pass
    finally:
        with _lock:
            _connections.pop(connection_id, None)
        websocket.close()
        api.call(api.event("$disconnect", "DISCONNECT", connection_id))


def _message(api: WebSocketApi, connection: LocalConnection, body: str) -> None:
    try:
        action = json.loads(body).get("action")
    except (ValueError, AttributeError):
        action = None
    route = action if isinstance(action, str) and action in api.routes else "$default"
    if route not in api.routes:
        connection.send(
            json.dumps({"message": "Forbidden", "connectionId": connection.connection_id}).encode()
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
    request_id = new_request_id()
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
    request_id = new_request_id()
    if connection is None or not connection.send(bytes(body)):
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
