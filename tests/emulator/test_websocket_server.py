"""devstack.websocket: the template's WebSocket API at /ws of the local server, and the Management API
(PostToConnection, DeleteConnection) that reaches its sockets, as API Gateway's would."""

import socket
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack.server import LocalApiServer
from devstack.template import REGION
from devstack.ws_client import Client, Refused
from tests.support import serving

ENDPOINT = "https://local.execute-api.us-east-1.amazonaws.com/local"  # any: the call never leaves


@pytest.fixture
def port(stack) -> Iterator[int]:
    with serving(LocalApiServer(stack, "127.0.0.1", 0)) as server:
        yield server.server_address[1]


@pytest.fixture
def management() -> object:
    # A new session: devstack's interceptors join every botocore session made after the stack started.
    return boto3.session.Session().client(
        "apigatewaymanagementapi", region_name=REGION, endpoint_url=ENDPOINT
    )


def connect(port: int, key: str) -> tuple[Client, str]:
    """A connected client and its ConnectionId (a message no route takes answers with it)."""
    client = Client(port, f"?api_key={key}")
    client.send({"action": "no-such-route"})
    forbidden = client.receive()
    assert forbidden["message"] == "Forbidden", forbidden
    return client, forbidden["connectionId"]


def test_post_to_connection_reaches_the_socket_and_delete_closes_it(stack, port, management) -> None:
    client, connection_id = connect(port, stack.dev_key)
    try:
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"hello": "world"}')
        assert client.receive() == {"hello": "world"}
        management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(EOFError):
            client.receive()
    finally:
        client.close()
    with pytest.raises(ClientError) as gone:
        management.post_to_connection(ConnectionId=connection_id, Data=b"{}")
    assert gone.value.response["Error"]["Code"] == "GoneException"
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_a_key_connect_refuses_gets_its_status(port) -> None:
    with pytest.raises(Refused) as refused:
        Client(port, "?api_key=sk_test_not-a-real-key")
    assert refused.value.status == 401


def test_an_upgrade_that_is_not_a_websocket_handshake_is_400(port) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        status_line = raw.makefile("rb").readline()
    assert status_line.split()[1] == b"400", status_line
