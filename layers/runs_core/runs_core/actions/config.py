"""Settings of the action runners, from the environment, read once per process.

`runs_core.settings` holds the service's settings, `runs_core.outbound` the allow-list of outbound
calls (RUNS_API_HTTP_ALLOWLIST); these are the actions' own:

- `RUNS_API_WEBHOOK_SECRET` (default: none): the Standard Webhooks secret that signs `http` actions,
  as `whsec_<base64>` (the prefix is optional). For local use; takes precedence over the next one.
- `WEBHOOK_SECRET_ARN` (default: none): where the deployed secret lives: a Secrets Manager secret
  (name or ARN), or an SSM parameter if it starts with `/`.
- `RUNS_API_ACTION_PACKAGES` (default: `user_actions`): comma-separated packages whose modules a
  `python` action's handler may import. Only `@action`-registered functions are ever called.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class ActionsConfig:
    webhook_secret: str | None = None
    webhook_secret_arn: str | None = None
    action_packages: tuple[str, ...] = ("user_actions",)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "ActionsConfig":
        return cls(
            webhook_secret=environ.get("RUNS_API_WEBHOOK_SECRET", "").strip() or None,
            webhook_secret_arn=environ.get("WEBHOOK_SECRET_ARN", "").strip() or None,
            action_packages=tuple(_split(environ.get("RUNS_API_ACTION_PACKAGES"))) or ("user_actions",),
        )


def _split(value: str | None) -> list[str]:
    return [entry.strip() for entry in (value or "").split(",") if entry.strip()]


@cache
def get_actions_config() -> ActionsConfig:
    return ActionsConfig.from_env(os.environ)
