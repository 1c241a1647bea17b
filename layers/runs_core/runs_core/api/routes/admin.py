"""Operators' routes (docs/api.md §7): need the platform admin key; an org's key gets 403."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from runs_core.api.caller import Admin
from runs_core.api.openapi import Router, errors
from runs_core.logic import accounts
from runs_core.models.account import CreatedOrg, CreateOrg, Org, UpdateOrg

router = Router()
TAGS = ["Operators"]


@router.post("/v1/admin/orgs", status_code=201, tags=TAGS, responses=errors(413, 415))
def create_org(body: CreateOrg, _: Admin) -> CreatedOrg:
    """Create an org and its first API key."""
    return accounts.create_org(body)


@router.patch("/v1/admin/orgs/<org_id>", tags=TAGS, responses=errors(404, 413, 415))
def update_org(org_id: Annotated[str, Path(max_length=64)], body: UpdateOrg, _: Admin) -> Org:
    """Set an org's credits balance and rate limits."""
    return accounts.update_org(org_id, body)
