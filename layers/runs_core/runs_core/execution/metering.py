"""Metering: a model call's tokens → the run's usage, its cost at the model's price and the org's credits."""

import math
from typing import Any

from runs_core.changes import Change
from runs_core.observability import COUNT, NO_UNIT, put_metrics


def step_usage(tokens: Any) -> dict[str, int]:
    return {
        "input_tokens": tokens.input_tokens,
        "output_tokens": tokens.output_tokens,
        "cache_read_tokens": tokens.cache_read_tokens,
        "cache_write_tokens": tokens.cache_write_tokens,
    }


def add_usage(usage: dict[str, Any], tokens: Any, price: dict[str, Any]) -> dict[str, Any]:
    """The run's usage after one more model call: tokens, cost at the model's price, credits, hit rate."""
    totals = {key: int(usage.get(key, 0)) + value for key, value in step_usage(tokens).items()}
    input_price = price.get("input_per_mtok") or 0.0
    per_token = {  # cache reads and writes cost the input price unless the model's price says otherwise
        "input_tokens": input_price,
        "output_tokens": price.get("output_per_mtok") or 0.0,
        "cache_read_tokens": price.get("cache_read_per_mtok") or input_price,
        "cache_write_tokens": price.get("cache_write_per_mtok") or input_price,
    }
    step_cost = sum(per_token[key] * value for key, value in step_usage(tokens).items()) / 1_000_000
    cost = float(usage.get("cost_usd", 0.0)) + step_cost
    prompt_tokens = totals["input_tokens"] + totals["cache_read_tokens"]
    return {
        **totals,
        "total_tokens": sum(totals.values()),
        "cost_usd": round(cost, 8),
        "credits_used": math.ceil(round(cost * 1000, 6)),  # 1 credit = $0.001, rounded up per run
        "cache_hit_rate": round(totals["cache_read_tokens"] / prompt_tokens, 4) if prompt_tokens else 0.0,
    }


def call_usage(live: Any, response: Any, request: Any) -> tuple[Any, bool]:
    """The call's tokens: the provider's count when it gave one, else an estimate (then True)."""
    # lazy (cold start): ExecutionEndedFunction imports this module and never calls a model
    from runs_core.providers.base import TokenUsage, estimate_tokens, prompt_text

    if response is not None:
        return response.usage, False
    if live.reported_usage is not None:
        return live.reported_usage, False
    estimate = TokenUsage(
        input_tokens=estimate_tokens(prompt_text(request)), output_tokens=estimate_tokens(live.text_so_far)
    )
    return estimate, True


def usage_change(
    run: dict[str, Any], definition: dict[str, Any], step: dict[str, Any], tokens: Any, estimated: bool
) -> Change:
    """The run's usage after the call, its debit and the step record (no events)."""
    before = run.get("usage") or {}
    usage = add_usage(before, tokens, definition["model"].get("price") or {})
    if estimated or before.get("estimated"):
        usage["estimated"] = True
    debit = usage["credits_used"] - before.get("credits_used", 0)
    return Change({"step_count": step["index"] + 1, "usage": usage}, new_steps=[step], debit=max(debit, 0))


def run_finished(metric: str, run: dict[str, Any], **dimensions: str) -> None:
    """A run reached completed/failed: count it (by error code) and what it cost, in one record each."""
    put_metrics({metric: (1, COUNT)}, **dimensions)
    cost = float((run.get("usage") or {}).get("cost_usd", 0.0))
    put_metrics({"RunCostUsd": (cost, NO_UNIT)})
