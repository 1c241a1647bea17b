"""Who a request acts for, as route parameters: the authorizer's context and the request headers turned
into a Caller (runs_core.context) by Powertools dependencies. A route declares `caller: OrgCaller` (an
org's key), `caller: KeyManager` (an org's key, read again: minting or revoking keys) or `_: Admin` (the
operators' key); the routes take them from here, the one place that says what each needs."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Request
from aws_lambda_powertools.event_handler.depends import Depends

from runs_core.context import Caller
from runs_core.errors import Forbidden, Unauthorized, ValidationFailed

MAX_END_USER_LENGTH = 128
NOT_AN_OPERATOR = "This route needs the operators' key."


def _request_context(request: Request) -> dict[str, Any]:
    return request.resolved_event.raw_event.get("requestContext") or {}


def _authorizer(request: Request) -> dict[str, str]:
    return _request_context(request).get("authorizer") or {}


def org_caller(request: Request) -> Caller:
    """The org a request acts for. Operators' keys have no org, so they get 403 on org routes."""
    context = _authorizer(request)
    org_id = context.get("org_id")
    if context.get("role") != "org" or not org_id:
        raise Forbidden("This route needs an org's API key.")
    claimed_org = _header(request, "X-Org-Id")
    if claimed_org is not None and claimed_org != org_id:
        raise Forbidden("X-Org-Id does not match the API key's org.")
    end_user = _header(request, "X-End-User")
    if end_user is not None and not 0 < len(end_user) <= MAX_END_USER_LENGTH:
        message = f"must be 1 to {MAX_END_USER_LENGTH} characters"
        raise ValidationFailed(
            f"X-End-User {message}", [{"field": "X-End-User", "code": "max_length", "message": message}]
        )
    return Caller(
        org_id=org_id,
        api_key_id=context.get("api_key_id"),
        end_user_id=end_user,
        request_id=_request_context(request).get("requestId"),
    )


def key_manager_caller(request: Request) -> Caller:
    """org_caller, for routes that mint or revoke keys: the presented key is read again (strongly
    consistent), not trusted from the authorizer's cache, so a key revoked a moment ago cannot mint a
    new one during the up to 60 s its cached principal lives."""
    caller = org_caller(request)
    from runs_core.auth import key_from_headers  # lazy, for cold start: only key management pays for it
    from runs_core.logic.api_keys import org_for_key

    secret = key_from_headers(dict(request.resolved_event.headers))
    record = org_for_key(secret, consistent=True) if secret else None
    if record is None or record.get("org_id") != caller.org_id:
        raise Unauthorized("The API key is revoked or unknown.")
    return caller


def admin_caller(request: Request) -> str:
    """Operators' routes: only the platform admin key passes (docs/api.md §7)."""
    if _authorizer(request).get("role") != "admin":
        raise Forbidden(NOT_AN_OPERATOR)
    return "admin"


OrgCaller = Annotated[Caller, Depends(org_caller)]
KeyManager = Annotated[Caller, Depends(key_manager_caller)]
Admin = Annotated[str, Depends(admin_caller)]


def _header(request: Request, name: str) -> str | None:
    return request.resolved_event.headers.get(name)  # case-insensitive in Powertools v3


OPERATORS_ROUTES = "/v1/admin/"


def refuse_non_operator(event: dict[str, Any]) -> Forbidden | None:
    """admin_caller's 403, checked before routing: the resolver validates a body before it resolves
    dependencies, so an org's key with a bad body on an operators' route would otherwise get the admin
    schema's errors (a 400) instead of 403."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    if str(event.get("path") or "").startswith(OPERATORS_ROUTES) and authorizer.get("role") != "admin":
        return Forbidden(NOT_AN_OPERATOR)
    return None
