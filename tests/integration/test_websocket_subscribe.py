"""WebSocket subscribe against the real ConnectionsTable: the `subscribed` frame comes before any event,
even when the stream router pushes the run's events between the subscription's write and that frame."""

import json
import uuid
from typing import Any

from runs_core.logic.events import event_log
from runs_core.stream import websocket
from tests.integration.helpers import agent_with, start, wait


class RouterFiresDuringTheAck:
    """A poster that, as the `subscribed` frame goes out, lets the stream router push the run's events
    to the subscription first (the window between store.subscribe and the frame)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.frames: list[dict[str, Any]] = []

    def post(self, connection_id: str, data: bytes) -> None:
        frame = json.loads(data)
        if frame.get("type") == "subscribed":
            items = event_log().after(self.run_id, 0, 1000)
            websocket.push(websocket.connections(), self, items)
        self.frames.append(frame)


def test_subscribed_frame_precedes_events_the_router_pushes_meanwhile(api):
    run_id = start(api, agent_with(api, [{"text": "Hello there."}], price=None, prefix="events"))["id"]
    assert wait(api, run_id)["status"] == "completed"
    connection_id = f"conn-{uuid.uuid4().hex[:12]}"
    poster = RouterFiresDuringTheAck(run_id)

    def send(route: str, **extra: Any) -> dict[str, Any]:
        event = {"requestContext": {"routeKey": route, "connectionId": connection_id}, **extra}
        return websocket.handle(event, poster=poster)

    assert send("$connect", queryStringParameters={"api_key": api.key})["statusCode"] == 200
    send("subscribe", body=json.dumps({"action": "subscribe", "run_id": run_id, "after_seq": 0}))

    assert poster.frames[0] == {"type": "subscribed", "run_id": run_id, "after_seq": 0}
    seqs = [frame["seq"] for frame in poster.frames[1:]]
    last_seq = event_log().after(run_id, 0, 1000)[-1]["seq"]
    assert seqs == list(range(1, last_seq + 1))  # the backlog sent what the router could not: once, in order
    assert poster.frames[-1]["type"] == "run.completed"
