"""WebSocket push of run events (docs/api.md §6): the WebSocketFunction's routes and the router's push half.

Routes (API Gateway WebSocket API, route selection `$request.body.action`):
* `$connect` — the API key from `?api_key=` or the usual headers (Authorization / x-api-key) is checked
  here, in the handler (one GetItem on the keys table, all its policy allows), rather than by a REQUEST
  authorizer: an authorizer needs *every* identity source present, and the contract allows either the
  query string or a header. A bad, revoked or missing key (or the operators' admin key, which is no
  org's) answers 401, so API Gateway refuses the handshake.
* `$disconnect` — the connection and its subscriptions are deleted.
* `subscribe` `{run_id, after_seq?}` — the run must be the connection's org's (else an error frame
  `{"type": "error", "code": "not_found"}`, the same for a missing run); answers
  `{"type": "subscribed", ...}` first (the subscription is written under the handler's lease, which the
  router's claims respect, and released once the frame is out), then the backlog after `after_seq`;
  later events are pushed by the stream router.
* `unsubscribe` `{run_id}` → `{"type": "unsubscribed", "run_id"}`.

Revoked keys: a connection keeps the hash of the key it connected with. Its key is read again when it
was last found active KEY_RECHECK_SECONDS ago or more: by the handler before it serves a message, and by
the router before it pushes to a subscription. A revoked (or deleted) key gets an `unauthorized` error
frame (handler) and its connection is deleted and closed (DeleteConnection), so nothing reaches it later
than KEY_RECHECK_SECONDS after the revocation, within the API's 60-second promise.

Exactly once and in order per subscription, in batches: before posting events first..last (consecutive
seqs, at most MAX_BATCH), the sender (backlog or router) claims them all with one conditional update
that moves the subscription's last_sent_seq from first - 1 to last and takes a short lease; it posts
the batch in order, then drops the lease (one more update). A seq is claimed once, and only after its
predecessor; the lease keeps another sender from posting last + 1 before the batch is out. A post that
fails midway hands the unsent rest back (last_sent_seq set to the last seq posted, under the lease).
The backlog sender reads the log until nothing is left after the claimed seq; an event written after
that read comes through the stream router, which processes a run's records in order. A post to a gone
connection (GoneException, 410) deletes the connection.

Over 300 lines: the handler's routes and the router's push share the ordering and revocation rules
(`send_in_order`, `key_still_active`, `drop_connection`), kept in one module so both follow them.
"""

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, Protocol

from runs_core.auth import key_from_headers
from runs_core.context import Caller
from runs_core.errors import NotFound
from runs_core.logic.api_keys import active_key, org_for_key
from runs_core.logic.events import envelope, event_log
from runs_core.logic.run_writes import load_run
from runs_core.models.bounds import MAX_INTEGER
from runs_core.observability import logger
from runs_core.settings import get_settings
from runs_core.storage.connections import CONNECTION_TTL_S, Connections, Subscriber

CLAIM_RETRY_SECONDS = 0.02
BACKLOG_PAGE = 1000
MAX_BATCH = 100  # events posted under one claim (posting them must fit well within the lease)
KEY_RECHECK_SECONDS = 30  # a connection's key is re-read at least this often while it is used


class Gone(Exception):
    """The connection no longer exists (API Gateway answered 410 GoneException)."""


class Poster(Protocol):
    def post(self, connection_id: str, data: bytes) -> None: ...

    def close(self, connection_id: str) -> None: ...


class Store(Protocol):
    def last_sent(self, run_id: str, connection_id: str) -> int | None: ...

    def claim(self, run_id: str, connection_id: str, first: int, last: int) -> bool: ...

    def release(self, run_id: str, connection_id: str, last: int, sent_through: int) -> None: ...

    def subscribers(self, run_id: str) -> dict[str, Subscriber]: ...

    def key_checked(self, connection_id: str, now_epoch: int, run_id: str | None = None) -> None: ...

    def delete_connection(self, connection_id: str) -> None: ...


KeyIsActive = Callable[[str], bool]  # key hash → is that key still active (not revoked, not deleted)?


def key_is_active(key_hash: str) -> bool:
    return active_key(key_hash, consistent=True) is not None


class Log(Protocol):
    def after(self, run_id: str, after_seq: int, limit: int) -> list[dict[str, Any]]: ...


class ManagementApiPoster:
    """post_to_connection of the API Gateway Management API at `endpoint` (https://<api>.execute-api…/<stage>)."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)

    def post(self, connection_id: str, data: bytes) -> None:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
        except self.client.exceptions.GoneException as error:
            raise Gone(connection_id) from error
        except Exception as error:
            if getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode") == 410:
                raise Gone(connection_id) from error
            raise

    def close(self, connection_id: str) -> None:
        with contextlib.suppress(self.client.exceptions.GoneException):  # closed already
            self.client.delete_connection(ConnectionId=connection_id)


def key_still_active(
    key_hash: str | None, checked_at: float, now: float, is_active: KeyIsActive
) -> bool | None:
    """Whether the key is active: None when it was found active recently enough to need no read."""
    if key_hash is not None and now - checked_at < KEY_RECHECK_SECONDS:
        return None
    return key_hash is not None and is_active(key_hash)


def drop_connection(store: Store, poster: Poster, connection_id: str) -> None:
    """Forget the connection and close its socket (its key was revoked)."""
    logger.info("API key revoked; closing its WebSocket connection", extra={"connection_id": connection_id})
    store.delete_connection(connection_id)
    try:
        poster.close(connection_id)
    except Exception:  # the rows are gone: nothing more is pushed to it either way
        logger.exception("could not close the connection", extra={"connection_id": connection_id})


def _dumps(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def _batches(items: Iterable[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    """Runs of consecutive seqs (ascending input), at most MAX_BATCH long."""
    batch: list[dict[str, Any]] = []
    for item in items:
        if batch and (int(item["seq"]) != int(batch[-1]["seq"]) + 1 or len(batch) >= MAX_BATCH):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def send_in_order(
    store: Store, poster: Poster, connection_id: str, run_id: str, items: Iterable[dict[str, Any]]
) -> tuple[int, bool]:
    """Claim and post the events (ascending seq) batch by batch until a claim fails; (events sent, gone)."""
    sent = 0
    for batch in _batches(items):
        first, last = int(batch[0]["seq"]), int(batch[-1]["seq"])
        if not store.claim(run_id, connection_id, first, last):
            return sent, False
        posted_through = first - 1
        try:
            for item in batch:
                poster.post(connection_id, _dumps(envelope(item)))
                posted_through = int(item["seq"])
                sent += 1
        except Gone:
            logger.info("connection gone; deleting it", extra={"connection_id": connection_id})
            store.delete_connection(connection_id)
            return sent, True
        finally:
            # after the posts: nobody posts last + 1 before them; an unsent rest is handed back
            store.release(run_id, connection_id, last, posted_through)
    return sent, False


def send_backlog(store: Store, log: Log, poster: Poster, connection_id: str, run_id: str) -> int:
    """Send what the log holds after the subscription's last_sent_seq, until nothing is left."""
    total = 0
    while True:
        last = store.last_sent(run_id, connection_id)
        if last is None:
            return total  # unsubscribed (or disconnected) meanwhile
        items = log.after(run_id, last, BACKLOG_PAGE)
        if not items:
            return total
        sent, gone = send_in_order(store, poster, connection_id, run_id, items)
        total += sent
        if gone:
            return total
        if sent == 0:
            time.sleep(CLAIM_RETRY_SECONDS)  # another sender holds the next seq: let it finish
        # a failed claim means another sender took that seq: re-read where the subscription is


def push(
    store: Store,
    poster: Poster,
    items: Iterable[dict[str, Any]],
    is_active: KeyIsActive = key_is_active,
    clock: Callable[[], float] = time.time,
) -> None:
    """The router's half: each run's new events to its subscribers (claims make redeliveries harmless).
    A subscriber whose key is due for a re-check and found revoked is dropped instead."""
    by_run: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_run.setdefault(str(item["run_id"]), []).append(item)
    for run_id, run_items in by_run.items():
        ordered = sorted({int(item["seq"]): item for item in run_items}.items())
        subscribers = store.subscribers(run_id)
        for connection_id, subscriber in subscribers.items():
            now = clock()
            active = key_still_active(subscriber.key_hash, subscriber.key_checked_at, now, is_active)
            if active is False:
                drop_connection(store, poster, connection_id)
                continue
            if active:
                store.key_checked(connection_id, int(now), run_id)
            pending = [item for seq, item in ordered if seq > subscriber.last_sent_seq]
            # A failed claim is a gap (the backlog sender is behind and will send it) or a duplicate.
            try:
                send_in_order(store, poster, connection_id, run_id, pending)
            except Exception:
                logger.exception("push failed", extra={"connection_id": connection_id, "run_id": run_id})


# ---------------------------------------------------------------------- the WebSocketFunction


@cache
def connections() -> Connections:
    table = get_settings().connections_table
    if not table:
        raise RuntimeError("CONNECTIONS_TABLE is not set")
    return Connections(table)


@cache
def default_poster() -> Poster:
    endpoint = get_settings().websocket_endpoint
    if not endpoint:
        raise RuntimeError("WEBSOCKET_ENDPOINT is not set")
    return ManagementApiPoster(endpoint)


def _error(poster: Poster, connection_id: str, code: str, message: str) -> None:
    poster.post(connection_id, _dumps({"type": "error", "code": code, "message": message}))


def handle(
    event: dict[str, Any],
    *,
    store: Connections | None = None,
    poster: Poster | None = None,
    clock: Callable[[], float] = time.time,
    is_active: KeyIsActive = key_is_active,
) -> dict[str, Any]:
    context = event.get("requestContext") or {}
    route = context.get("routeKey")
    connection_id = str(context.get("connectionId"))
    store = store or connections()
    if route == "$connect":
        query = event.get("queryStringParameters") or {}
        secret = query.get("api_key") or key_from_headers(event.get("headers"))
        key = org_for_key(secret) if secret else None  # the operators' key is no org's: 401
        if key is None:
            return {"statusCode": 401, "body": "Unauthorized"}
        store.put_connection(connection_id, str(key["org_id"]), str(key["key_hash"]), int(clock()))
        return {"statusCode": 200}
    if route == "$disconnect":
        store.delete_connection(connection_id)
        return {"statusCode": 200}
    poster = poster or default_poster()
    try:
        body = json.loads(event.get("body") or "{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        _error(poster, connection_id, "invalid", "Send a JSON object with an action.")
        return {"statusCode": 200}
    connection = store.get_connection(connection_id)
    if connection is None:
        _error(poster, connection_id, "unauthorized", "Unknown connection; reconnect with an API key.")
        return {"statusCode": 200}
    now = clock()
    active = key_still_active(
        connection.get("key_hash"), float(connection.get("key_checked_at") or 0), now, is_active
    )
    if active is False:
        _error(poster, connection_id, "unauthorized", "The API key was revoked; connect with an active key.")
        drop_connection(store, poster, connection_id)
        return {"statusCode": 200}
    if active:
        store.key_checked(connection_id, int(now))
        connection["key_checked_at"] = int(now)
    run_id = body.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        _error(poster, connection_id, "invalid", "run_id is required.")
        return {"statusCode": 200}
    if route == "unsubscribe":
        store.unsubscribe(connection_id, run_id)
        poster.post(connection_id, _dumps({"type": "unsubscribed", "run_id": run_id}))
        return {"statusCode": 200}
    if route != "subscribe":
        _error(poster, connection_id, "invalid", "action must be subscribe or unsubscribe.")
        return {"statusCode": 200}
    after_seq = body.get("after_seq", 0)
    if isinstance(after_seq, bool) or not isinstance(after_seq, int) or not 0 <= after_seq <= MAX_INTEGER:
        _error(poster, connection_id, "invalid", f"after_seq must be an integer from 0 to {MAX_INTEGER}.")
        return {"statusCode": 200}
    try:
        load_run(Caller(org_id=str(connection["org_id"]), api_key_id=None), run_id, consistent=True)
    except NotFound:
        _error(poster, connection_id, "not_found", f"No run {run_id!r}.")
        return {"statusCode": 200}
    store.subscribe(connection, run_id, after_seq, int(clock()) + CONNECTION_TTL_S)
    try:  # the subscription is written under our lease: no event can overtake this frame
        poster.post(connection_id, _dumps({"type": "subscribed", "run_id": run_id, "after_seq": after_seq}))
    except Gone:
        store.delete_connection(connection_id)
        return {"statusCode": 200}
    finally:
        store.release(run_id, connection_id, after_seq, after_seq)
    send_backlog(store, event_log(), poster, connection_id, run_id)
    return {"statusCode": 200}
