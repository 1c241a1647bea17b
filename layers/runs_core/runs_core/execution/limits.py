"""The limits a run is held to (the rules are run_status's): checked before each new step, and while a
model call streams."""

from typing import Any

from runs_core import clock
from runs_core.execution.ending import epoch
from runs_core.execution.metering import add_usage
from runs_core.execution.unit import Progress
from runs_core.run_status import credits_passed, limit_passed, tokens_passed


def limit_breach(run: dict[str, Any], progress: Progress) -> tuple[str, str] | None:
    """The limit a run has passed, as (error code, message), checked before each new step."""
    started_at = run.get("started_at")
    return limit_passed(
        step_count=run.get("step_count", 0),
        max_steps=run["max_steps"],
        total_tokens=run.get("usage", {}).get("total_tokens", 0),
        max_tokens=run["max_tokens"],
        elapsed_seconds=clock.now().timestamp() - epoch(started_at) if started_at else None,
        max_duration_seconds=run.get("limits_max_duration_seconds", 3600),
        credits=progress.credits,
    )


def limits_during_call(
    run: dict[str, Any], definition: dict[str, Any], progress: Progress, request: Any
) -> Any:
    """`over_limit` for the live message: the run's token limit and the org's credits, against what the
    call has used so far (the provider's count, else an estimate from the prompt and the streamed text)."""
    # lazy (cold start): the park, expire and fail tasks never call a model
    from runs_core.providers.base import TokenUsage, estimate_tokens, prompt_text

    prompt_tokens = estimate_tokens(prompt_text(request))
    price = definition["model"].get("price") or {}
    before = run.get("usage") or {}

    def over_limit(streamed: str, reported: Any) -> tuple[str, str] | None:
        tokens = reported or TokenUsage(input_tokens=prompt_tokens, output_tokens=estimate_tokens(streamed))
        usage = add_usage(before, tokens, price)
        debit = usage["credits_used"] - before.get("credits_used", 0)
        over_tokens = tokens_passed(usage["total_tokens"], run["max_tokens"])
        return over_tokens or credits_passed(progress.credits, debit)

    return over_limit
