"""Idempotency-Key (docs/api.md §7) with Powertools' idempotency utility over DynamoDB.

Where it wraps: the resolver dispatch in make_handler (`run_once(event, context, execute)`), not a
Powertools middleware. A middleware runs after routing and its result is a Response object, not the
proxy response; wrapping the dispatch keeps the stored value the complete proxy response of the first
request ({statusCode, headers/multiValueHeaders incl. Content-Type, Location, Run-Id…, body}), and lets
make_handler add the per-request headers (Request-Id, Api-Version, RateLimit-*) outside the stored value.

- Scope (the idempotency key that Powertools hashes): principal (org id, or "admin" on operators'
  routes) + method + path with its query string + the client's key. Another org's same key is another
  record.
- Fingerprint (payload validation): sha256 of the body, as canonical JSON (sorted keys, compact) when it
  parses as JSON, else of the raw bytes. Same key, other body → 422 idempotency_conflict.
- First request still running → 409 idempotency_in_progress. Its record expires when the Lambda would
  time out (config.register_lambda_context), so a crashed first attempt does not block the key for 24 h.
- 5xx and 429 responses are not kept: the record is deleted, so a retry with the same key runs again.
  Neither are responses over MAX_KEPT_BODY_BYTES (a DynamoDB item is ≤ 400 KB).
- If the idempotency table cannot answer, the request fails (500) rather than running unguarded.
"""

import base64
import hashlib
import json
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from runs_core.api.multipart import MULTIPART, media_type, parts_of
from runs_core.errors import ApiError, IdempotencyConflict, IdempotencyInProgress, ValidationFailed
from runs_core.observability import logger
from runs_core.settings import get_settings
from runs_core.storage import dynamo

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
EXPIRES_AFTER_SECONDS = 24 * 60 * 60
METHODS = frozenset({"POST", "PUT", "PATCH"})
# Record ids are "<KEY_PREFIX>#<sha256 of the scope>", the same whichever function stored them.
KEY_PREFIX = "runs-api"
# A DynamoDB item holds at most 400 KB: a bigger response cannot be stored. It is then sent but not
# kept (like a 5xx), rather than failing a request whose work is done.
MAX_KEPT_BODY_BYTES = 350_000

Execute = Callable[[], dict[str, Any]]


@cache
def _persistence() -> "DynamoDBPersistenceLayer":
    # Made on first use (cold starts of functions that never see a key stay lean), on the shared client.
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table, boto3_client=dynamo.client())


def key_of(event: dict[str, Any]) -> str | None:
    """The Idempotency-Key of a POST/PUT/PATCH request, if it sent one."""
    if event.get("httpMethod") not in METHODS:
        return None
    for name, value in (event.get("headers") or {}).items():
        if name.lower() == HEADER.lower():
            return str(value)
    return None


def key_problem(event: dict[str, Any]) -> ApiError | None:
    key = key_of(event)
    if key is None or 0 < len(key) <= MAX_KEY_LENGTH:
        return None
    message = f"must be 1 to {MAX_KEY_LENGTH} characters"
    return ValidationFailed(
        f"{HEADER} {message}", [{"field": HEADER, "code": "max_length", "message": message}]
    )


def scope_of(event: dict[str, Any], key: str) -> list[str]:
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    principal = context.get("org_id") if context.get("role") == "org" else context.get("role")
    # API Gateway (REST) hands over the query as parameters, not as the raw string: it is re-encoded.
    query = event.get("multiValueQueryStringParameters") or {}
    # Names sorted; a repeated name keeps its values' order (it can matter).
    query_string = urlencode([(name, value) for name, values in sorted(query.items()) for value in values])
    path = str(event.get("path") or "") + (f"?{query_string}" if query_string else "")
    return [str(principal or "public"), str(event.get("httpMethod")), path, key]


def fingerprint_of(event: dict[str, Any]) -> str:
    """sha256 of the body as canonical JSON, of a multipart body's parts (not its bytes: clients pick a new
    boundary for every encoding, so a retry's bytes differ), else of the raw bytes."""
    body = event.get("body") or ""
    if media_type(event.get("headers")) == MULTIPART:
        try:
            parts = [
                [part.name, part.filename, part.content_type, hashlib.sha256(part.data).hexdigest()]
                for part in parts_of(event)
            ]
        except ApiError:  # malformed: the route answers 400 from the same bytes
            return hashlib.sha256(str(body).encode("utf-8")).hexdigest()
        return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else str(body).encode("utf-8")
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return hashlib.sha256(raw).hexdigest()
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _NotKept(Exception):
    """Carries a response that must not be stored (5xx, 429): Powertools deletes the record, re-raises."""

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__(response.get("statusCode"))
        self.response = response


def _kept(request: dict[str, Any], execute: Execute) -> dict[str, Any]:
    """The idempotent section: it runs at most once per scope while its record lives."""
    response = execute()
    status = int(response.get("statusCode", 500))
    if status >= 500 or status == 429:
        raise _NotKept(response)
    if len(str(response.get("body") or "").encode("utf-8")) > MAX_KEPT_BODY_BYTES:
        logger.warning("response too large to keep for its Idempotency-Key", status=status)
        raise _NotKept(response)
    return response


def _replayed(response: Any, idempotent_data: "DataRecord") -> Any:
    """Powertools response_hook: a stored response, sent again, says so."""
    if isinstance(response, dict):
        response["headers"] = {**(response.get("headers") or {}), REPLAYED_HEADER: "true"}
    return response


def run_once(event: dict[str, Any], context: Any, execute: Execute) -> dict[str, Any]:
    """`execute()`, or the stored response of an earlier request with the same Idempotency-Key."""
    key = key_of(event)
    if key is None:
        return execute()
    # lazy, for cold start: only requests that send an Idempotency-Key need Powertools' idempotency
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyInconsistentStateError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    # A config per invocation: it holds this invocation's Lambda context (the in-flight record's expiry).
    config = IdempotencyConfig(
        event_key_jmespath="scope",
        payload_validation_jmespath="fingerprint",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=EXPIRES_AFTER_SECONDS,
        hash_function="sha256",
        response_hook=_replayed,
    )
    if context is not None:
        config.register_lambda_context(context)
    once = idempotent_function(
        _kept,
        data_keyword_argument="request",
        persistence_store=_persistence(),
        config=config,
        key_prefix=KEY_PREFIX,
    )
    request = {"scope": scope_of(event, key), "fingerprint": fingerprint_of(event)}
    try:
        response: dict[str, Any] = once(request=request, execute=execute)
    except _NotKept as not_kept:
        return not_kept.response
    except IdempotencyAlreadyInProgressError as error:
        raise IdempotencyInProgress(
            f"A request with this {HEADER} is still in progress; retry once it has finished."
        ) from error
    except IdempotencyValidationError as error:
        raise IdempotencyConflict(
            f"This {HEADER} was used with a different request body; use a new key for a new request."
        ) from error
    except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as error:
        # Not failing open here: running the request without its record could run it twice.
        logger.exception("idempotency store unavailable")
        raise ApiError(f"Could not record the {HEADER}; retry with the same key.") from error
    return response
