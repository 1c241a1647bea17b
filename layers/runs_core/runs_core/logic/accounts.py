"""Orgs, API keys and who a key belongs to (docs/api.md §1, §7)."""

import secrets
from typing import Any

from runs_core import clock, ids
from runs_core.context import Caller
from runs_core.errors import NotFound
from runs_core.logic.api_keys import hash_key
from runs_core.models.account import ApiKey, CreatedApiKey, CreatedOrg, CreateOrg, Org, RateLimits, UpdateOrg
from runs_core.models.common import Page
from runs_core.pages import decode_cursor, encode_cursor
from runs_core.settings import get_settings
from runs_core.stores import get_stores


def new_secret() -> str:
    return f"{get_settings().key_prefix}_{secrets.token_urlsafe(24)}"


def _key_record(org_id: str, name: str, secret: str) -> dict[str, Any]:
    return {
        "key_hash": hash_key(secret),
        "id": ids.new_id("key"),
        "org_id": org_id,
        "name": name,
        "prefix": secret[:12],
        "created_at": clock.now_iso(),
    }


def _org_view(org: dict[str, Any]) -> Org:
    return Org(
        id=org["id"],
        name=org["name"],
        credits_balance=org["credits_balance"],
        rate_limits=RateLimits(**org.get("rate_limits", {})),
        created_at=org["created_at"],
    )


def create_org(request: CreateOrg, secret: str | None = None) -> CreatedOrg:
    """An org and its first API key, written together. `secret` fixes the key (local dev seeding)."""
    org: dict[str, Any] = {
        "id": ids.new_id("org"),
        "name": request.name,
        "credits_balance": request.credits,
        "rate_limits": (request.rate_limits or RateLimits()).model_dump(),
        "created_at": clock.now_iso(),
    }
    secret = secret or new_secret()
    key = _key_record(org["id"], "default", secret)
    get_stores().orgs.create(org, key)
    return CreatedOrg(org=_org_view(org), api_key=CreatedApiKey(**key, key=secret))


def update_org(org_id: str, request: UpdateOrg) -> Org:
    changes = request.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        return get_org(org_id)
    org = get_stores().orgs.update(org_id, changes)
    if org is None:
        raise NotFound(f"No org {org_id!r}.")
    return _org_view(org)


def get_org(org_id: str) -> Org:
    org = get_stores().orgs.get(org_id)
    if org is None:
        raise NotFound(f"No org {org_id!r}.")
    return _org_view(org)


def create_api_key(caller: Caller, name: str) -> CreatedApiKey:
    secret = new_secret()
    key = _key_record(caller.org_id, name, secret)
    get_stores().api_keys.put(key)
    return CreatedApiKey(**key, key=secret)


def list_api_keys(caller: Caller, limit: int, cursor: str | None) -> Page[ApiKey]:
    before = decode_cursor(cursor, caller.org_id, "api_keys", {}) if cursor else None
    items = get_stores().api_keys.page(caller.org_id, before, limit + 1)
    page = items[:limit]
    next_cursor = encode_cursor(caller.org_id, "api_keys", {}, page[-1]["id"]) if len(items) > limit else None
    return Page[ApiKey](items=[ApiKey(**item) for item in page], next_cursor=next_cursor)


def revoke_api_key(caller: Caller, key_id: str) -> ApiKey:
    store = get_stores().api_keys
    key = store.find(caller.org_id, key_id) if ids.has_prefix(key_id, "key") else None
    if key is None:
        raise NotFound(f"No API key {key_id!r}.")
    return ApiKey(**store.revoke(key["key_hash"], clock.now_iso()))
