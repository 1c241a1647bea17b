"""The caller's org and its API keys (docs/api.md §7)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from runs_core.api.caller import KeyManager, OrgCaller
from runs_core.api.openapi import Router, errors
from runs_core.logic import accounts
from runs_core.models.account import ApiKey, CreateApiKey, CreatedApiKey, Org
from runs_core.models.common import Page
from runs_core.pages import DEFAULT_LIMIT, MAX_LIMIT

router = Router()


@router.get("/v1/org", tags=["Org"], responses=errors())
def get_org(caller: OrgCaller) -> Org:
    """The org of the API key: credits balance and rate limits."""
    return accounts.get_org(caller.org_id)


@router.post("/v1/api-keys", status_code=201, tags=["API keys"], responses=errors(413, 415))
def create_api_key(body: CreateApiKey, caller: KeyManager) -> CreatedApiKey:
    """Create a key. The secret `key` is in this response only."""
    return accounts.create_api_key(caller, body.name)


@router.get("/v1/api-keys", tags=["API keys"], responses=errors())
def list_api_keys(
    caller: OrgCaller,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> Page[ApiKey]:
    """The org's keys, newest first (revoked ones carry `revoked_at`)."""
    return accounts.list_api_keys(caller, limit, cursor)


@router.delete("/v1/api-keys/<key_id>", tags=["API keys"], responses=errors(404))
def revoke_api_key(key_id: Annotated[str, Path(max_length=64)], caller: KeyManager) -> ApiKey:
    """Revoke a key; it stops working within 60 seconds."""
    return accounts.revoke_api_key(caller, key_id)
