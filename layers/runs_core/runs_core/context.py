"""Who is calling: the org, key and end user a request acts for (from the authorizer's context)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    org_id: str
    api_key_id: str | None
    end_user_id: str | None = None
    request_id: str | None = None
