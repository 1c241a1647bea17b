"""What every API response carries (docs/api.md §1): the Request-Id and Api-Version headers, the rate-limit
headers of the org's bucket, and the one log line per request. Shared by the resolver's handler
(runs_core.api.app) and the 405 handler (runs_core.api.method_not_allowed), which imports nothing else of
the API (cold start)."""

from typing import TYPE_CHECKING, Any

from runs_core.observability import logger
from runs_core.settings import get_settings

if TYPE_CHECKING:
    from runs_core.api.limits import Quota

SUPPORTED_API_VERSIONS = frozenset({"2026-11-01"})


def finish(
    event: dict[str, Any], response: dict[str, Any], quota: "Quota | None", request_id: str | None
) -> dict[str, Any]:
    """The headers every response carries (docs/api.md §1), and the one log line per request."""
    sent = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    served_version = sent.get("api-version")
    if served_version not in SUPPORTED_API_VERSIONS:
        served_version = get_settings().api_version
    response["headers"] = {
        **(response.get("headers") or {}),
        **(quota.headers() if quota else {}),
        "Request-Id": request_id,
        "Api-Version": served_version,
    }
    # One line per request (never headers or bodies: they carry API keys and secrets).
    logger.info(
        "request",
        extra={
            "method": event.get("httpMethod"),
            "path": event.get("path"),
            "status": response.get("statusCode"),
        },
    )
    return response
