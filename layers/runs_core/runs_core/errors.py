"""Domain errors. Each carries its HTTP status and problem code; runs_core.api.problems renders them."""

from typing import Any


class ApiError(Exception):
    status = 500
    code = "internal_error"
    title = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class ValidationFailed(ApiError):
    status, code, title = 400, "validation_error", "Validation error"

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail, errors=errors or [])


class InvalidJson(ApiError):
    status, code, title = 400, "invalid_json", "Invalid JSON"


class InvalidCursor(ApiError):
    status, code, title = 400, "invalid_cursor", "Invalid cursor"


class UnknownApiVersion(ApiError):
    status, code, title = 400, "unknown_api_version", "Unknown API version"


class InvalidVersionSelector(ApiError):
    status, code, title = 400, "invalid_version_selector", "Invalid version selector"


class Unauthorized(ApiError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class InsufficientCredits(ApiError):
    status, code, title = 402, "insufficient_credits", "Insufficient credits"


class Forbidden(ApiError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(ApiError):
    status, code, title = 404, "not_found", "Not found"


class MethodNotAllowed(ApiError):
    """A known path, a method it does not serve (the handler adds the path's methods as `Allow`)."""

    status, code, title = 405, "method_not_allowed", "Method not allowed"


class InvalidState(ApiError):
    status, code, title = 409, "invalid_state", "Invalid state"


class VersionExists(ApiError):
    status, code, title = 409, "version_exists", "Version exists"


class NameTaken(ApiError):
    status, code, title = 409, "name_taken", "Name taken"


class ThreadBusy(ApiError):
    status, code, title = 409, "thread_busy", "Thread busy"


class RunNotCompleted(ApiError):
    """A synchronous run (POST /v1/agents/{agent}/run) ended failed or cancelled instead of completed."""

    status, code, title = 422, "run_failed", "Run failed"


class PayloadTooLarge(ApiError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(ApiError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class IdempotencyInProgress(ApiError):
    status, code, title = 409, "idempotency_in_progress", "Idempotency key in use"


class IdempotencyConflict(ApiError):
    status, code, title = 422, "idempotency_conflict", "Idempotency key reused"


class RateLimited(ApiError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
