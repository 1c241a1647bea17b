"""Settings from the environment, read once per process (one dataclass, one place).

A dataclass, not a pydantic model: every function reads settings, and not every function needs pydantic
(cold start)."""

import os
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Settings:
    orgs_table: str = "OrgsTable"
    api_keys_table: str = "ApiKeysTable"
    agents_table: str = "AgentsTable"
    runs_table: str = "RunsTable"
    events_table: str = "EventsTable"
    steps_table: str = "StepsTable"
    memory_table: str = "MemoryTable"
    threads_table: str = "ThreadsTable"
    thread_messages_table: str = "ThreadMessagesTable"
    # The run state machine; None means runs are not executed (they stay queued).
    state_machine_arn: str | None = None
    # HMAC key that signs list cursors: plain locally (CURSOR_SECRET), or deployed the ARN of a Secrets
    # Manager secret read at run time (CURSOR_SECRET_ARN), never its value in the environment.
    cursor_secret: str | None = None
    cursor_secret_arn: str | None = None
    # Operators' key: plain locally (RUNS_API_ADMIN_KEY), or the ARN of a Secrets Manager secret.
    admin_key: str | None = None
    admin_key_secret_arn: str | None = None
    # Model keys an agent names must live under <secret_prefix><org id>/ (one org cannot use another's).
    secret_prefix: str = "runs-api/"
    api_version: str = "2026-11-01"
    event_retention_days: int = 30
    # New keys look like sk_live_… when deployed; the local stack mints sk_test_… keys.
    key_prefix: str = "sk_live"
    # The stream router: the EventBridge bus every run event goes to, and its delivery markers.
    event_bus_name: str | None = None
    event_deliveries_table: str | None = None
    # WebSocket push: the connections table and the Management API endpoint (https://…/<stage>).
    connections_table: str | None = None
    websocket_endpoint: str | None = None
    # Idempotency-Key records (Powertools idempotency) and the per-org rate-limit counters (docs/api.md §7).
    idempotency_table: str = "IdempotencyTable"
    rate_limits_table: str = "RateLimitsTable"
    # Files (docs/api.md §7): the bucket (objects at <org_id>/<file_id>, presigned uploads land under
    # pending/<org_id>/<file_id>) and the table of file records. FILES_PUBLIC_ENDPOINT, when set, is the
    # S3 endpoint presigned URLs point at (the local stack sets it to its own /_s3 route).
    files_bucket: str = "FilesBucket"
    files_table: str = "FilesTable"
    files_public_endpoint: str | None = None


ENV_NAMES = {
    "orgs_table": "ORGS_TABLE",
    "api_keys_table": "API_KEYS_TABLE",
    "agents_table": "AGENTS_TABLE",
    "runs_table": "RUNS_TABLE",
    "events_table": "EVENTS_TABLE",
    "steps_table": "STEPS_TABLE",
    "memory_table": "MEMORY_TABLE",
    "threads_table": "THREADS_TABLE",
    "thread_messages_table": "THREAD_MESSAGES_TABLE",
    "state_machine_arn": "STATE_MACHINE_ARN",
    "cursor_secret": "CURSOR_SECRET",
    "cursor_secret_arn": "CURSOR_SECRET_ARN",
    "admin_key": "RUNS_API_ADMIN_KEY",
    "admin_key_secret_arn": "ADMIN_KEY_SECRET_ARN",
    "event_retention_days": "EVENT_RETENTION_DAYS",
    "key_prefix": "API_KEY_PREFIX",
    "secret_prefix": "SECRET_PREFIX",
    "event_bus_name": "EVENT_BUS_NAME",
    "event_deliveries_table": "EVENT_DELIVERIES_TABLE",
    "connections_table": "CONNECTIONS_TABLE",
    "websocket_endpoint": "WEBSOCKET_ENDPOINT",
    "idempotency_table": "IDEMPOTENCY_TABLE",
    "rate_limits_table": "RATE_LIMITS_TABLE",
    "files_bucket": "FILES_BUCKET",
    "files_table": "FILES_TABLE",
    "files_public_endpoint": "FILES_PUBLIC_ENDPOINT",
}


INTEGERS = frozenset({"event_retention_days"})


@cache
def get_settings() -> Settings:
    values: dict[str, Any] = {
        field: os.environ[env] for field, env in ENV_NAMES.items() if os.environ.get(env)
    }
    for field in INTEGERS.intersection(values):
        values[field] = int(values[field])
    return Settings(**values)
