"""One decision: the model is asked for the next step, what it streams is written as it arrives
(live.LiveMessage), and what it decided is recorded with its usage; a call ended early (a cancel, a
limit passed mid-stream) records what it used."""

from dataclasses import dataclass
from typing import Any

from runs_core import clock, ids
from runs_core.changes import Change, StaleRun
from runs_core.execution.ending import cancellation, fail
from runs_core.execution.limits import limit_breach, limits_during_call
from runs_core.execution.metering import call_usage, step_usage, usage_change
from runs_core.execution.outputs import complete
from runs_core.execution.prompt import model_request
from runs_core.execution.unit import MAX_WRITE_ATTEMPTS, Progress, load
from runs_core.logic import conversation
from runs_core.logic.run_writes import commit
from runs_core.observability import COUNT, NO_UNIT, put_metrics, traced
from runs_core.run_status import (
    STEP_CANCELLED,
    STEP_COMPLETED,
    STEP_FAILED,
    TERMINAL_STATUSES,
    tokens_passed,
)


def decide(
    run: dict[str, Any], definition: dict[str, Any], progress: Progress
) -> tuple[dict[str, Any], bool]:
    """Ask the model for the next decision, writing what it says as it says it; returns (run, finished)."""
    # lazy (cold start): only a decision calls a model; the park, expire and fail tasks do not
    from runs_core.execution.live import LiveMessage
    from runs_core.providers import provider_for
    from runs_core.providers.base import ModelError

    breach = limit_breach(run, progress)
    if breach:
        return fail(run, *breach), True
    # the thread's conversation before this run: read only when the model is asked
    request = model_request(run, definition, progress.steps, conversation.history(run))
    opening = Change()
    step_id, index, started_at = ids.new_id("stp"), run.get("step_count", 0), clock.now_iso()
    opening.event("step.started", step_id=step_id, index=index, type="decision")
    run = commit(run, opening)  # before the model is called: watchers see the step begin
    live = LiveMessage(
        run,
        step_id,
        commit=lambda latest, events: commit(latest, Change(events=events), yield_to_cancel=True),
        load=load,
        over_limit=limits_during_call(run, definition, progress, request),
    )
    response = None
    with live:
        try:
            response = call_model(provider_for(definition["model"]), request, live)
        except ModelError as error:
            if live.stopped is None:
                return fail(live.run, "model_error", str(error)[:500]), True
    run = live.run
    decision = DecisionStep(step_id, index, started_at, request.turn, len(request.messages))
    if live.stopped is not None or response is None:
        tokens, estimated = call_usage(live, response, request)
        return stopped_call(run, definition, decision, live, tokens, estimated), True
    return decided(run, definition, progress, decision, live, response)


@dataclass(frozen=True)
class DecisionStep:
    id: str
    index: int
    started_at: str
    turn: int
    messages: int

    def record(self, run_id: str, status: str, output: dict[str, Any], tokens: Any, **fields: Any):
        now = clock.now_iso()
        return {
            "run_id": run_id,
            "index": self.index,
            "id": self.id,
            "type": "decision",
            "status": status,
            "started_at": self.started_at,
            "completed_at": now,
            "input": {"turn": self.turn, "messages": self.messages},
            "output": output,
            "usage": step_usage(tokens),
            **fields,
        }


def stopped_call(
    run: dict[str, Any],
    definition: dict[str, Any],
    decision: DecisionStep,
    live: Any,
    tokens: Any,
    estimated: bool,
) -> dict[str, Any]:
    """The call was ended early: a cancel (record what it used on the ended run, no events), or a limit
    passed mid-stream (fail the run with that limit's code, usage included)."""
    stop = live.stopped
    output = {"text": live.text_so_far, "tool_calls": [], "stop_reason": "stopped"}
    if stop is not None and stop.code is not None:
        error = {"code": stop.code, "message": stop.message}
        step = decision.record(run["id"], STEP_FAILED, output, tokens, error=error)
        return fail(run, stop.code, stop.message, usage_change(run, definition, step, tokens, estimated))
    step = decision.record(run["id"], STEP_CANCELLED, output, tokens)
    return record_after_end(run, definition, step, tokens, estimated)


def record_after_end(
    run: dict[str, Any], definition: dict[str, Any], step: dict[str, Any], tokens: Any, estimated: bool
) -> dict[str, Any]:
    """The run was cancelled while its model call ran: the tokens were still used, so record and debit
    them, with the step, and write no event after the terminal one. A cancel that was requested but
    not written yet (it yields to nothing now) is written here, with them."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        latest = load(run["id"]) or run
        change = usage_change(latest, definition, step, tokens, estimated)
        if latest["status"] not in TERMINAL_STATUSES:
            change.include(cancellation(latest))
        try:
            return commit(latest, change)
        except StaleRun:
            continue
    raise StaleRun("the run kept changing while its usage was recorded")


def decided(
    run: dict[str, Any],
    definition: dict[str, Any],
    progress: Progress,
    decision: DecisionStep,
    live: Any,
    response: Any,
) -> tuple[dict[str, Any], bool]:
    """The model answered: write the decision (what the live message did not write yet), its usage and
    what comes next; a run cancelled meanwhile gets only its usage recorded."""
    tool_calls = [
        {"id": call.id, "name": call.name, "arguments": call.arguments} for call in response.tool_calls
    ]
    output = {"text": response.text, "tool_calls": tool_calls, "stop_reason": response.stop_reason}
    step = decision.record(run["id"], STEP_COMPLETED, output, response.usage)
    change = usage_change(run, definition, step, response.usage, False)
    usage = change.changes["usage"]
    put_metrics(
        {
            "ModelInputTokens": (response.usage.input_tokens, COUNT),
            "ModelOutputTokens": (response.usage.output_tokens, COUNT),
            "ModelCostUsd": (
                usage["cost_usd"] - float((run.get("usage") or {}).get("cost_usd", 0.0)),
                NO_UNIT,
            ),
        },
        Provider=str(definition["model"].get("provider")),
    )
    rest = response.text[len(live.written_text) :] if response.text.startswith(live.written_text) else ""
    if rest:
        change.event("message.delta", step_id=step["id"], delta=rest)
    change.event("message.completed", step_id=step["id"], content=response.text)
    for call in tool_calls:
        if call["id"] not in live.written_calls:
            change.event("tool.call", step_id=step["id"], action=call["name"], arguments=call["arguments"])
    change.event("step.completed", step_id=step["id"], index=step["index"], status=STEP_COMPLETED)
    debit = usage["credits_used"] - (run.get("usage") or {}).get("credits_used", 0)
    try:
        passed = tokens_passed(usage["total_tokens"], run["max_tokens"])
        if passed is not None:
            return fail(run, *passed, change), True
        if not tool_calls:
            complete(run, definition, change, response.text, response.outputs)
            return run, True
        run = commit(run, change)
    except StaleRun:
        latest = load(run["id"])
        if latest is None or latest["status"] not in TERMINAL_STATUSES:
            raise  # another change to a running run: the step is decided again
        record_after_end(latest, definition, step, response.usage, False)
        return latest, True
    progress.steps.append(step)
    progress.credits -= max(debit, 0)
    return run, False


@traced
def call_model(provider: Any, request: Any, on_delta: Any) -> Any:
    return provider.complete(request, on_delta=on_delta)
