"""A presented API key → its active record (docs/api.md §1): the hash a key is stored under and one
GetItem. Apart from runs_core.logic.accounts (orgs and key management, pydantic models) so that the
authorizer, which runs before every request, imports no pydantic (cold start)."""

import hashlib
from typing import Any

from runs_core.stores import get_stores


def hash_key(secret: str) -> str:
    # Keys carry 192 bits of randomness, so a fast hash is enough (no password-style stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


def org_for_key(secret: str, consistent: bool = False) -> dict[str, Any] | None:
    """The active key record for a presented secret, or None (unknown or revoked)."""
    return active_key(hash_key(secret), consistent)


def active_key(key_hash: str, consistent: bool = False) -> dict[str, Any] | None:
    """The key record with this hash unless it is unknown or revoked (one GetItem)."""
    record = get_stores().api_keys.get_by_hash(key_hash, consistent)
    if record is None or record.get("revoked_at"):
        return None
    return record
