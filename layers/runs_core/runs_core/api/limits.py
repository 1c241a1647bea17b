"""Per-org rate limits at the API edge (docs/api.md §7): which limits apply to a request, and its headers.

The limits come from the authorizer's context (runs_per_minute, requests_per_minute, read from the org
item on each authorizer cache miss, so an operator's change applies within auth.CACHE_SECONDS). Only
org requests are limited: operators' requests and unauthenticated routes (health, the spec, the docs)
have no org in the context and pass untouched.
"""

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from runs_core.errors import RateLimited
from runs_core.logic import rate_limits
from runs_core.logic.rate_limits import DEFAULT_LIMITS, Decision
from runs_core.observability import logger
from runs_core.settings import get_settings
from runs_core.storage.rate_limits import RateLimitStore


@cache
def _store() -> RateLimitStore:
    return RateLimitStore(get_settings().rate_limits_table)


def _limit(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@dataclass
class Quota:
    """One org request's limits; `applied` is the last bucket checked (its headers go on the response)."""

    org_id: str
    requests_per_minute: int
    runs_per_minute: int
    applied: Decision | None = field(default=None)

    @classmethod
    def for_event(cls, event: dict[str, Any]) -> "Quota | None":
        """The org's limits from the authorizer context; None for requests that are not limited."""
        context = (event.get("requestContext") or {}).get("authorizer") or {}
        org_id = context.get("org_id")
        if context.get("role") != "org" or not org_id:
            return None
        # The defaults as a dict, not models.account.RateLimits: no API function imports the account
        # models for it (cold start).
        return cls(
            org_id=str(org_id),
            requests_per_minute=_limit(
                context.get("requests_per_minute"), DEFAULT_LIMITS["requests_per_minute"]
            ),
            runs_per_minute=_limit(context.get("runs_per_minute"), DEFAULT_LIMITS["runs_per_minute"]),
        )

    def take(self, bucket: str) -> RateLimited | None:
        """Count one hit of `bucket`; the 429 error if the org is over its limit, else None."""
        limit = self.runs_per_minute if bucket == rate_limits.RUNS else self.requests_per_minute
        decision = rate_limits.check(_store(), self.org_id, bucket, limit)
        if decision.degraded:
            logger.warning("rate-limit counter unavailable; allowing the request", bucket=bucket)
        self.applied = decision
        if decision.allowed:
            return None
        return RateLimited(rate_limits.refusal_detail(decision), retry_after=decision.reset_seconds)

    def headers(self) -> dict[str, str]:
        return self.applied.headers() if self.applied else {}


def creates_run(event: dict[str, Any]) -> bool:
    return rate_limits.creates_run(
        str(event.get("httpMethod") or ""), event.get("resource"), event.get("path")
    )
