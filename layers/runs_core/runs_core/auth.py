"""API key → principal, for the Lambda REQUEST authorizer (docs/api.md §1).

API Gateway's authorizer cache is off (a REQUEST authorizer needs *every* identity source present,
but a key may come in any of three headers), so this module caches principals in the process for at
most CACHE_SECONDS: a revoked key stops working within that time.
"""

import hmac
import time
from typing import Any

from runs_core.logic.api_keys import hash_key, org_for_key
from runs_core.logic.rate_limits import DEFAULT_LIMITS
from runs_core.settings import get_settings
from runs_core.stores import get_stores

CACHE_SECONDS = 60
_CACHE_MAX_ENTRIES = 10_000
_cache: dict[str, tuple[float, dict[str, str]]] = {}


def key_from_headers(headers: dict[str, str] | None) -> str | None:
    """`Authorization: Bearer <key>`, `Authorization: Api-Key <key>` or `x-api-key: <key>`."""
    lowered = {name.lower(): value for name, value in (headers or {}).items() if value}
    authorization = lowered.get("authorization", "").strip()
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() in ("bearer", "api-key") and credential.strip():
        return credential.strip()
    api_key = lowered.get("x-api-key", "").strip()
    return api_key or None


def _admin_key_hash() -> str | None:
    settings = get_settings()
    if settings.admin_key:
        return hash_key(settings.admin_key)
    if settings.admin_key_secret_arn:
        from aws_lambda_powertools.utilities import parameters  # lazy: deployed authorizer only

        secret = parameters.get_secret(settings.admin_key_secret_arn, max_age=300)
        return hash_key(str(secret))
    return None


def principal_for(secret: str) -> dict[str, str] | None:
    """The authorizer context for a key: {role, org_id?, api_key_id?}; None if the key is not valid."""
    key_hash = hash_key(secret)
    cached = _cache.get(key_hash)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    admin_hash = _admin_key_hash()
    if admin_hash and hmac.compare_digest(key_hash, admin_hash):
        principal = {"role": "admin", "principal_id": "admin"}
    else:
        record = org_for_key(secret)
        if record is None:
            return None
        principal = {
            "role": "org",
            "org_id": record["org_id"],
            "api_key_id": record["id"],
            "principal_id": record["id"],
            **_rate_limits(record["org_id"]),
        }
    if len(_cache) >= _CACHE_MAX_ENTRIES:
        _cache.clear()
    _cache[key_hash] = (time.monotonic() + CACHE_SECONDS, principal)
    return principal


def _rate_limits(org_id: str) -> dict[str, str]:
    """The org's rate limits for the context (docs/api.md §7): cached with the principal, so an operator's
    change applies within CACHE_SECONDS. One GetItem on the org per cache miss. The stored limits were
    validated when written (RateLimits): read as they are, without pydantic (cold start)."""
    org = get_stores().orgs.get(org_id) or {}
    limits = {**DEFAULT_LIMITS, **(org.get("rate_limits") or {})}
    return {name: str(int(limits[name])) for name in DEFAULT_LIMITS}


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    """The IAM policy API Gateway expects; raises Exception('Unauthorized') for a 401."""
    secret = key_from_headers(event.get("headers"))
    principal = principal_for(secret) if secret else None
    if principal is None:
        raise Exception("Unauthorized")  # API Gateway turns exactly this message into a 401
    return {
        "principalId": principal["principal_id"],
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
        "context": {key: value for key, value in principal.items() if key != "principal_id"},
    }
