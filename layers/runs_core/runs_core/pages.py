"""Opaque list cursors: signed, and bound to the org and the query they were issued for.

A cursor holds the last sort key of the page it ends. Any change to it, or its use by another org or
with other filters, is detected by the HMAC and answered with 400 invalid_cursor.
"""

import base64
import hashlib
import hmac
import json
from typing import Any

from runs_core.errors import InvalidCursor
from runs_core.settings import get_settings

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# The signing key is re-read from Secrets Manager at most this often (a rotation reaches every function
# within it; cursors signed with the old key then answer 400 invalid_cursor).
SECRET_MAX_AGE_SECONDS = 300
UNCONFIGURED_KEY = "local-cursor-secret"  # neither CURSOR_SECRET nor CURSOR_SECRET_ARN (unit tests)


def signing_key() -> bytes:
    """CURSOR_SECRET (the local stack's), else the secret named by CURSOR_SECRET_ARN (deployed), cached."""
    settings = get_settings()
    if settings.cursor_secret:
        return settings.cursor_secret.encode()
    if settings.cursor_secret_arn:
        from aws_lambda_powertools.utilities import parameters  # lazy: only functions that page pay for it

        secret = parameters.get_secret(settings.cursor_secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
        return (secret if isinstance(secret, bytes) else str(secret).encode()).strip()
    return UNCONFIGURED_KEY.encode()


def _query_fingerprint(scope: str, query: dict[str, Any]) -> str:
    canonical = json.dumps(
        [scope, {k: v for k, v in query.items() if v not in (None, [], "")}], sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _sign(payload: bytes) -> str:
    digest = hmac.new(signing_key(), payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def encode_cursor(org_id: str, scope: str, query: dict[str, Any], last_key: str) -> str:
    payload = json.dumps({"o": org_id, "q": _query_fingerprint(scope, query), "k": last_key}).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_sign(payload)}"


def decode_cursor(cursor: str, org_id: str, scope: str, query: dict[str, Any]) -> str:
    """The last key the cursor stands for; InvalidCursor if it was forged, altered, or is not this query's."""
    try:
        body, signature = cursor.split(".", 1)
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if not hmac.compare_digest(signature, _sign(payload)):
            raise ValueError("signature")
        data = json.loads(payload)
        if data["o"] != org_id or data["q"] != _query_fingerprint(scope, query):
            raise ValueError("scope")
        last_key = data["k"]
        if not isinstance(last_key, str):
            raise ValueError("key")
        return last_key
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidCursor("The cursor is not valid for this list; start again without it.") from None
