"""The limits a run is held to: checked before each new step, and while a model call streams."""

from typing import Any

from runs_core import clock
from runs_core.execution.ending import epoch
from runs_core.execution.metering import add_usage
from runs_core.execution.unit import Progress


def limit_breach(run: dict[str, Any], progress: Progress) -> tuple[str, str] | None:
    """The limit a run has passed, as (error code, message), checked before each new step."""
    if run.get("step_count", 0) >= run["max_steps"]:
        return "max_steps_exceeded", f"The run reached its limit of {run['max_steps']} steps."
    if run.get("usage", {}).get("total_tokens", 0) >= run["max_tokens"]:
        return "max_tokens_exceeded", f"The run used its limit of {run['max_tokens']} tokens."
    started_at = run.get("started_at")
    if started_at:
        elapsed = clock.now().timestamp() - epoch(started_at)
        if elapsed > run.get("limits_max_duration_seconds", 3600):
            return "timeout", "The run exceeded its maximum duration."
    if progress.credits <= 0:
        return "budget_exceeded", "The org has no credits left."
    return None


def limits_during_call(
    run: dict[str, Any], definition: dict[str, Any], progress: Progress, request: Any
) -> Any:
    """`over_limit` for the live message: the run's token limit and the org's credits, against what the
    call has used so far (the provider's count, else an estimate from the prompt and the streamed text)."""
    from runs_core.providers.base import TokenUsage, estimate_tokens, prompt_text

    prompt_tokens = estimate_tokens(prompt_text(request))
    price = definition["model"].get("price") or {}
    before = run.get("usage") or {}

    def over_limit(streamed: str, reported: Any) -> tuple[str, str] | None:
        tokens = reported or TokenUsage(input_tokens=prompt_tokens, output_tokens=estimate_tokens(streamed))
        usage = add_usage(before, tokens, price)
        if usage["total_tokens"] > run["max_tokens"]:
            return "max_tokens_exceeded", f"The run used more than {run['max_tokens']} tokens."
        if progress.credits - (usage["credits_used"] - before.get("credits_used", 0)) < 0:
            return "budget_exceeded", "The org ran out of credits during the model call."
        return None

    return over_limit
