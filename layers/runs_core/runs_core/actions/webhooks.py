"""`http` actions: POST {run_id, action, arguments} to the action's URL, signed per Standard Webhooks.

Headers: `webhook-id` (msg_<uuid>), `webhook-timestamp` (unix seconds) and `webhook-signature`
("v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'>"). The secret is RUNS_API_WEBHOOK_SECRET, or
the Secrets Manager secret / SSM parameter named by WEBHOOK_SECRET_ARN (see actions/config.py): base64,
with or without the "whsec_" prefix, as every Standard Webhooks library reads it (the template generates
48 base64 characters; `make dev` generates a whsec_ secret and prints it). A 2xx JSON reply is the
action's result (an empty body is None); anything else is an ActionError. Receivers check requests with
a Standard Webhooks library, or with `verify`.
"""

import base64
import binascii
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from runs_core.actions.base import ActionContext, ActionError
from runs_core.actions.config import get_actions_config
from runs_core.outbound import OutboundError, fetch

WEBHOOK_TIMEOUT_SECONDS = 30
SECRET_MAX_AGE_SECONDS = 300
DEFAULT_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"
MIN_KEY_BYTES = 16  # Standard Webhooks recommends 24–64 random bytes; anything shorter is a mistake


def call_webhook(
    spec: dict[str, Any], arguments: dict[str, Any], ctx: ActionContext, *, secret: bytes | None = None
) -> Any:
    url = spec.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ActionError("an http action needs an http or https `url`")
    key = secret if secret is not None else webhook_secret()
    body = json.dumps(
        {"run_id": ctx.run_id, "action": spec.get("name"), "arguments": arguments}, separators=(",", ":")
    ).encode("utf-8")
    msg_id = f"msg_{uuid.uuid4()}"
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "runs-api",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, msg_id, timestamp, body),
    }
    try:
        response = fetch(
            "POST",
            url,
            headers=headers,
            body=body,
            timeout=WEBHOOK_TIMEOUT_SECONDS,
        )
    except OutboundError as error:
        raise ActionError(f"webhook: {error}") from None
    if not 200 <= response.status < 300:
        raise ActionError(f"webhook replied with HTTP {response.status}")
    if not response.body.strip():
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        raise ActionError("webhook reply is not JSON") from None


def webhook_secret() -> bytes:
    """The signing key: RUNS_API_WEBHOOK_SECRET, else WEBHOOK_SECRET_ARN (cached for 5 minutes)."""
    config = get_actions_config()
    if config.webhook_secret:
        return decode_secret(config.webhook_secret)
    if config.webhook_secret_arn:
        from aws_lambda_powertools.utilities import parameters  # lazy: deployed engine only

        name = config.webhook_secret_arn
        try:
            if name.startswith("/"):
                value = parameters.get_parameter(name, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
            else:
                value = parameters.get_secret(name, max_age=SECRET_MAX_AGE_SECONDS)
        except Exception:
            raise ActionError("could not read the webhook signing secret") from None
        return decode_secret(value if isinstance(value, str) else str(value))
    raise ActionError("http actions need a signing secret: set RUNS_API_WEBHOOK_SECRET or WEBHOOK_SECRET_ARN")


def decode_secret(secret: str | bytes) -> bytes:
    """The signing key, read exactly as the Standard Webhooks libraries read it, so their receivers verify
    what we sign: an optional "whsec_" prefix, then base64 (padding optional; like Python's b64decode in
    the official library, characters outside the alphabet are skipped)."""
    text = (secret.decode("utf-8") if isinstance(secret, bytes) else secret).strip()
    try:
        key = base64.b64decode(text.removeprefix(SECRET_PREFIX) + "==")
    except (binascii.Error, ValueError):
        raise ActionError("the webhook signing secret is not valid whsec_<base64>") from None
    if len(key) < MIN_KEY_BYTES:
        raise ActionError(
            f"the webhook signing secret is too short: use {MIN_KEY_BYTES} random bytes or more"
        )
    return key


def sign(secret: bytes, msg_id: str, timestamp: int | str, body: bytes | str) -> str:
    """The `webhook-signature` value: "v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'>"."""
    payload = body if isinstance(body, bytes) else body.encode("utf-8")
    signed = f"{msg_id}.{timestamp}.".encode() + payload
    digest = hmac.new(secret, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(
    secret: bytes,
    msg_id: str,
    timestamp: str,
    body: bytes | str,
    signature_header: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver checks: a recent timestamp, and one of the (space-separated) v1 signatures matches."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        return False
    expected = sign(secret, msg_id, timestamp, body)
    return any(
        hmac.compare_digest(candidate.encode(), expected.encode())
        for candidate in (signature_header or "").split()
        if candidate.startswith("v1,")
    )
