"""A revoked key's WebSocket connections stop within KEY_RECHECK_SECONDS (inside the API's 60 s promise):
its messages get `unauthorized` and the router pushes nothing more; the connection is deleted and closed.
Real ConnectionsTable and ApiKeysTable; a clock stands in for the passing time."""

import json
import uuid
from typing import Any

from runs_core.logic.events import event_log
from runs_core.stream import websocket
from tests.integration.helpers import agent_with, start, wait


class Poster:
    def __init__(self) -> None:
        self.frames: dict[str, list[dict[str, Any]]] = {}
        self.closed: list[str] = []

    def post(self, connection_id: str, data: bytes) -> None:
        self.frames.setdefault(connection_id, []).append(json.loads(data))

    def close(self, connection_id: str) -> None:
        self.closed.append(connection_id)


def test_a_revoked_keys_connections_are_refused_and_closed(api):
    run_id = start(api, agent_with(api, [{"text": "Hello there."}], price=None, prefix="revoke"))["id"]
    assert wait(api, run_id)["status"] == "completed"
    created = api.post("/v1/api-keys", json={"name": "watcher"}).json()
    poster = Poster()
    t0 = 1_900_000_000.0

    def send(connection_id: str, route: str, at: float, **extra: Any) -> None:
        event = {"requestContext": {"routeKey": route, "connectionId": connection_id}, **extra}
        websocket.handle(event, poster=poster, clock=lambda: at)

    def subscribe(connection_id: str, at: float) -> None:
        body = json.dumps({"action": "subscribe", "run_id": run_id, "after_seq": 0})
        send(connection_id, "subscribe", at, body=body)

    messages, pushed = f"conn-{uuid.uuid4().hex[:8]}", f"conn-{uuid.uuid4().hex[:8]}"
    for connection_id in (messages, pushed):
        send(connection_id, "$connect", t0, queryStringParameters={"api_key": created["key"]})
    subscribe(pushed, t0)
    assert poster.frames[pushed][0]["type"] == "subscribed"

    assert api.delete(f"/v1/api-keys/{created['id']}").status == 200

    # A message after the re-check period: the key is read again and found revoked.
    subscribe(messages, t0 + websocket.KEY_RECHECK_SECONDS)
    assert poster.frames[messages] == [
        {
            "type": "error",
            "code": "unauthorized",
            "message": "The API key was revoked; connect with an active key.",
        }
    ]
    # The router's next push to the other connection finds the same.
    sent_before = len(poster.frames[pushed])
    items = event_log().after(run_id, 0, 1000)
    websocket.push(websocket.connections(), poster, items, clock=lambda: t0 + websocket.KEY_RECHECK_SECONDS)
    assert len(poster.frames[pushed]) == sent_before

    assert sorted(poster.closed) == sorted([messages, pushed])
    store = websocket.connections()
    assert store.get_connection(messages) is None and store.get_connection(pushed) is None
    assert pushed not in store.subscribers(run_id)


def test_an_active_key_is_rechecked_then_trusted_again(api):
    run_id = start(api, agent_with(api, [{"text": "Hi."}], price=None, prefix="recheck"))["id"]
    assert wait(api, run_id)["status"] == "completed"
    poster = Poster()
    connection_id = f"conn-{uuid.uuid4().hex[:8]}"
    t0 = 1_900_000_000.0
    event = {"requestContext": {"routeKey": "$connect", "connectionId": connection_id}}
    websocket.handle(
        {**event, "queryStringParameters": {"api_key": api.key}}, poster=poster, clock=lambda: t0
    )
    later = t0 + 5 * websocket.KEY_RECHECK_SECONDS
    body = json.dumps({"action": "subscribe", "run_id": run_id})
    subscribe = {"requestContext": {"routeKey": "subscribe", "connectionId": connection_id}, "body": body}
    websocket.handle(subscribe, poster=poster, clock=lambda: later)
    assert poster.frames[connection_id][0]["type"] == "subscribed"
    assert websocket.connections().get_connection(connection_id)["key_checked_at"] == int(later)
    assert websocket.connections().subscribers(run_id)[connection_id].key_checked_at == int(later)
