"""The agent loop, one Step Functions task at a time (docs/architecture.md data flow).

`step` does one agent step: it resolves the tool calls of the last decision (running the actions that
need no approval, pausing for approval or user input), then asks the model for the next decision.
Every change is a conditional write on the run's `rev` together with its events and step records
(RunStore.transition), so a step that loses a race with a cancel writes nothing and stops.

The state machine routes on what `step` returns: {"next": "continue" | "approval" | "input" | "done"}.
A wait task calls `park` with its task token; the API's approval/input endpoints record the decision
and complete the token; `expire` ends a wait that timed out; `fail` records an unexpected error.
"""

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

from runs_core import clock, ids
from runs_core.logic import threads
from runs_core.logic.runs import cancellation, event_expiry
from runs_core.models.runs import TERMINAL_STATUSES
from runs_core.observability import COUNT, MILLISECONDS, NO_UNIT, bind, logger, put_metrics, traced
from runs_core.storage.runs import NewEvent, StaleRun
from runs_core.stores import get_stores

MAX_WRITE_ATTEMPTS = 5
WAITING_STATUSES = {"approval": "waiting_approval", "input": "waiting_for_input"}


def handle_task(event: dict[str, Any]) -> dict[str, Any]:
    """Entry point of the RunStepFunction: dispatch on the state machine's `action`."""
    run_id = event["run_id"]
    match event["action"]:
        case "step":
            started = time.perf_counter()
            try:
                return _retrying(lambda: _step(run_id))
            finally:
                put_metrics({"StepLatency": ((time.perf_counter() - started) * 1000, MILLISECONDS)})
        case "park":
            return _retrying(lambda: _park(run_id, event["step_id"], event["task_token"]))
        case "expire":
            return _retrying(lambda: _expire(run_id, event["step_id"]))
        case "fail":
            return _retrying(lambda: _fail_unexpectedly(run_id, event.get("error")))
        case "adopt":
            return _retrying(lambda: _adopt(run_id, event["execution_arn"]))
    raise ValueError(f"unknown task action {event['action']!r}")


def _retrying(task: Any) -> dict[str, Any]:
    """Run `task` again on a lost race: it re-reads the run and decides anew (e.g. sees the cancel)."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        try:
            return task()  # type: ignore[no-any-return]
        except StaleRun:
            continue
    raise StaleRun("the run kept changing under the step")


# ---------------------------------------------------------------------------------------- one step


@dataclass
class Change:
    """Everything one commit writes: run fields, events, step records and other items."""

    changes: dict[str, Any] = field(default_factory=dict)
    events: list[NewEvent] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)

    def event(self, type_: str, **data: Any) -> None:
        self.events.append(NewEvent(type_, data))


def _commit(run: dict[str, Any], change: Change, yield_to_cancel: bool = False) -> dict[str, Any]:
    return get_stores().runs.transition(
        run,
        change.changes,
        change.events,
        clock.now_iso(),
        event_expiry(run),
        tuple(change.items),
        yield_to_cancel=yield_to_cancel,
    )


@dataclass
class Progress:
    """What one invocation knows besides the run, read once: its steps so far and the org's credits."""

    steps: list[dict[str, Any]]
    credits: int


def _done(run_id: str) -> dict[str, Any]:
    return {"next": "done", "run_id": run_id}


def _load(run_id: str) -> dict[str, Any] | None:
    return get_stores().runs.get(run_id, consistent=True)


@lru_cache(maxsize=128)
def _definition(org_id: str, agent_id: str, version: str) -> dict[str, Any]:
    """Versions are immutable, so a warm function reads each one once."""
    record = get_stores().agents.get_version(org_id, agent_id, version)
    if record is None:
        raise LookupError(f"agent version {agent_id}@{version} is gone")
    return record["definition"]  # type: ignore[no-any-return]


def definition_of(run: dict[str, Any]) -> dict[str, Any]:
    return _definition(run["org_id"], run["agent_id"], run["agent_version"])


@traced
def _step(run_id: str) -> dict[str, Any]:
    run = _load(run_id)
    if run is None or run["status"] in TERMINAL_STATUSES:
        return _done(run_id)
    bind(org_id=run["org_id"], step_index=run.get("step_count", 0))
    if run.get("cancel_requested_at"):  # its requester lost races to this run's writes: finish it here
        _commit(run, _cancellation(run))
        return _done(run_id)
    if run["status"] in WAITING_STATUSES.values():
        # Resumed while the run still waits (a decision was taken back?): keep waiting.
        return _wait_result(run)
    if run["status"] == "queued":
        start = Change({"status": "running", "started_at": clock.now_iso()})
        start.event("run.started", status="running")
        if run.get("thread_id"):  # the user's turn joins the thread's conversation as the run starts
            start.items.append(
                get_stores().threads.message_put(threads.message_record(run, "user", _user_turn(run)))
            )
        run = _commit(run, start)

    definition = definition_of(run)
    org = get_stores().orgs.get(run["org_id"])
    progress = Progress(get_stores().steps.all(run_id), org["credits_balance"] if org else 0)
    run, paused = _resolve_calls(run, definition, progress)
    if paused is not None:
        return paused
    if run["status"] in TERMINAL_STATUSES:
        return _done(run_id)
    run, finished = _decide(run, definition, progress)
    if finished:
        return _done(run_id)
    run, paused = _resolve_calls(run, definition, progress)
    if paused is not None:
        return paused
    return {"next": "done" if run["status"] in TERMINAL_STATUSES else "continue", "run_id": run_id}


def _limit_breach(run: dict[str, Any], progress: Progress) -> tuple[str, str] | None:
    """The limit a run has passed, as (error code, message), checked before each new step."""
    if run.get("step_count", 0) >= run["max_steps"]:
        return "max_steps_exceeded", f"The run reached its limit of {run['max_steps']} steps."
    if run.get("usage", {}).get("total_tokens", 0) >= run["max_tokens"]:
        return "max_tokens_exceeded", f"The run used its limit of {run['max_tokens']} tokens."
    started_at = run.get("started_at")
    if started_at:
        elapsed = clock.now().timestamp() - _epoch(started_at)
        if elapsed > run.get("limits_max_duration_seconds", 3600):
            return "timeout", "The run exceeded its maximum duration."
    if progress.credits <= 0:
        return "budget_exceeded", "The org has no credits left."
    return None


def _epoch(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def _fail(run: dict[str, Any], code: str, message: str, change: Change | None = None) -> dict[str, Any]:
    change = change or Change()
    now = clock.now_iso()
    error = {"code": code, "message": message}
    change.changes.update(
        {"status": "failed", "failed_at": now, "error": error, "pending": None, "task_token": None}
    )
    change.changes["duration_ms"] = _duration_ms(run, now)
    change.event("run.failed", status="failed", error=error)
    written = _commit(run, change)
    _run_finished("RunsFailed", {**run, **change.changes}, ErrorCode=code)
    return written


def _cancellation(run: dict[str, Any]) -> Change:
    changes, events, also = cancellation(run, run.get("cancel_reason"))
    return Change(changes, events, list(also))


def _run_finished(metric: str, run: dict[str, Any], **dimensions: str) -> None:
    """A run reached completed/failed: count it (by error code) and what it cost, in one record each."""
    put_metrics({metric: (1, COUNT)}, **dimensions)
    cost = float((run.get("usage") or {}).get("cost_usd", 0.0))
    put_metrics({"RunCostUsd": (cost, NO_UNIT)})


def _duration_ms(run: dict[str, Any], now: str) -> int | None:
    started_at = run.get("started_at")
    return int((_epoch(now) - _epoch(started_at)) * 1000) if started_at else None


# ------------------------------------------------------------------------------ tool calls


def _new_step(run: dict[str, Any], type_: str, status: str, **fields: Any) -> dict[str, Any]:
    now = clock.now_iso()
    bind(step_index=run.get("step_count", 0))
    return {
        "run_id": run["id"],
        "index": run.get("step_count", 0),
        "id": ids.new_id("stp"),
        "type": type_,
        "status": status,
        "started_at": now,
        "completed_at": now if status in ("completed", "failed") else None,
        **fields,
    }


def _unresolved_calls(steps: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Tool calls of the last decision without a result yet, each with its approval step if any."""
    decision = next((step for step in reversed(steps) if step["type"] == "decision"), None)
    if decision is None:
        return []
    later = [step for step in steps if step["index"] > decision["index"]]
    resolved = {
        step["tool_call_id"]
        for step in later
        if (step["type"] in ("action", "input") and step["status"] in ("completed", "failed"))
        or (step["type"] == "approval" and (step.get("output") or {}).get("decision") == "reject")
    }
    approvals = {step["tool_call_id"]: step for step in later if step["type"] == "approval"}
    calls = (decision.get("output") or {}).get("tool_calls") or []
    return [(call, approvals.get(call["id"])) for call in calls if call["id"] not in resolved]


def _action_spec(definition: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((action for action in definition.get("actions", []) if action["name"] == name), None)


def _builtin_name(spec: dict[str, Any]) -> str | None:
    return (spec.get("builtin") or spec["name"]) if spec["kind"] == "builtin" else None


def _resolve_calls(
    run: dict[str, Any], definition: dict[str, Any], progress: Progress
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Run, or pause for, each unresolved tool call. Returns the run and the wait result if it paused."""
    for call, approval in _unresolved_calls(progress.steps):
        breach = _limit_breach(run, progress)
        if breach:
            return _fail(run, *breach), None
        spec = _action_spec(definition, call["name"])
        if spec is not None and _builtin_name(spec) == "ask_user":
            return _pause(run, definition, "input", call)
        if spec is not None and spec.get("requires_approval") and approval is None:
            return _pause(run, definition, "approval", call)
        run = _run_action(run, call, spec, progress)
    return run, None


def _pause(
    run: dict[str, Any], definition: dict[str, Any], kind: str, call: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    limits = definition.get("limits", {})
    timeout = int(limits.get(f"{kind}_timeout_seconds", 86_400))
    expires_at = clock.iso(clock.now() + timedelta(seconds=timeout))
    step = _new_step(
        run,
        kind,
        "pending",
        action=call["name"],
        tool_call_id=call["id"],
        input={"arguments": call["arguments"]},
    )
    pending: dict[str, Any] = {"type": kind, "step_id": step["id"], "expires_at": expires_at}
    if kind == "approval":
        pending.update(action=call["name"], arguments=call["arguments"])
    else:
        pending["prompt"] = str(call["arguments"].get("prompt", ""))
    status = WAITING_STATUSES[kind]
    change = Change(
        {
            "status": status,
            "pending": pending,
            "pending_step_index": step["index"],
            "wait_seconds": timeout,
            "step_count": step["index"] + 1,
        },
        items=[get_stores().steps.put_item(step)],
    )
    change.event("step.started", step_id=step["id"], index=step["index"], type=kind)
    change.event(f"run.{status}", status=status, pending=pending)
    run = _commit(run, change)
    return run, _wait_result(run)


def _wait_result(run: dict[str, Any]) -> dict[str, Any]:
    pending = run["pending"]
    return {
        "next": pending["type"],
        "run_id": run["id"],
        "step_id": pending["step_id"],
        "wait_seconds": int(run.get("wait_seconds", 86_400)),
    }


def _run_action(
    run: dict[str, Any], call: dict[str, Any], spec: dict[str, Any] | None, progress: Progress
) -> dict[str, Any]:
    """Execute one action now and record it with its tool.result (failures are fed back to the model)."""
    from runs_core.actions.base import ActionContext, ActionError

    outputs: dict[str, Any] = {}
    memory = RunMemory(run)
    context = ActionContext(
        run_id=run["id"],
        org_id=run["org_id"],
        agent_id=run["agent_id"],
        memory=memory,
        set_output=outputs.__setitem__,
    )
    error: dict[str, str] | None = None
    result: Any = None
    if spec is None:
        error = {"code": "action_error", "message": f"unknown action {call['name']!r}"}
    else:
        try:
            result = _execute_action(spec, call["arguments"], context)
        except ActionError as failure:
            error = {"code": "action_error", "message": str(failure)}
    step = _new_step(
        run,
        "action",
        "failed" if error else "completed",
        action=call["name"],
        tool_call_id=call["id"],
        input={"arguments": call["arguments"]},
        output=None if error else result,
        error=error,
    )
    change = Change({"step_count": step["index"] + 1}, items=[get_stores().steps.put_item(step)])
    if outputs:
        change.changes["output_values"] = {**run.get("output_values", {}), **outputs}
    change.event("step.started", step_id=step["id"], index=step["index"], type="action")
    change.event("tool.result", step_id=step["id"], action=call["name"], result=error or result)
    change.event("step.completed", step_id=step["id"], index=step["index"], status=step["status"])
    run = _commit(run, change)
    progress.steps.append(step)
    return run


@traced
def _execute_action(spec: dict[str, Any], arguments: dict[str, Any], context: Any) -> Any:
    from runs_core.actions.executor import execute

    return execute(spec, arguments, context)


class RunMemory:
    """The run's memory for builtins (`memory_get` / `memory_set`): the thread's for a run in a thread."""

    def __init__(self, run: dict[str, Any]) -> None:
        self.scope = threads.memory_scope(run)

    def get(self, key: str) -> Any:
        return get_stores().memory.get(self.scope, key)

    def set(self, key: str, value: Any) -> None:
        get_stores().memory.put(self.scope, key, value, clock.now_iso())


# ------------------------------------------------------------------------------ decisions


def _decide(
    run: dict[str, Any], definition: dict[str, Any], progress: Progress
) -> tuple[dict[str, Any], bool]:
    """Ask the model for the next decision, writing what it says as it says it; returns (run, finished)."""
    from runs_core.logic.live import LiveMessage
    from runs_core.providers import provider_for
    from runs_core.providers.base import ModelError

    breach = _limit_breach(run, progress)
    if breach:
        return _fail(run, *breach), True
    # the thread's conversation before this run: read only when the model is asked
    request = _model_request(run, definition, progress.steps, threads.history(run))
    opening = Change()
    step_id, index, started_at = ids.new_id("stp"), run.get("step_count", 0), clock.now_iso()
    opening.event("step.started", step_id=step_id, index=index, type="decision")
    run = _commit(run, opening)  # before the model is called: watchers see the step begin
    live = LiveMessage(
        run,
        step_id,
        commit=lambda latest, events: _commit(latest, Change(events=events), yield_to_cancel=True),
        load=_load,
        over_limit=_limits_during_call(run, definition, progress, request),
    )
    response = None
    with live:
        try:
            response = _call_model(provider_for(definition["model"]), request, live)
        except ModelError as error:
            if live.stopped is None:
                return _fail(live.run, "model_error", str(error)[:500]), True
    run = live.run
    decision = _DecisionStep(step_id, index, started_at, request.turn, len(request.messages))
    if live.stopped is not None or response is None:
        tokens, estimated = _call_usage(live, response, request)
        return _stopped_call(run, definition, decision, live, tokens, estimated), True
    return _decided(run, definition, progress, decision, live, response)


@dataclass(frozen=True)
class _DecisionStep:
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
            "usage": _step_usage(tokens),
            **fields,
        }


def _limits_during_call(
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
        usage = _add_usage(before, tokens, price)
        if usage["total_tokens"] > run["max_tokens"]:
            return "max_tokens_exceeded", f"The run used more than {run['max_tokens']} tokens."
        if progress.credits - (usage["credits_used"] - before.get("credits_used", 0)) < 0:
            return "budget_exceeded", "The org ran out of credits during the model call."
        return None

    return over_limit


def _call_usage(live: Any, response: Any, request: Any) -> tuple[Any, bool]:
    """The call's tokens: the provider's count when it gave one, else an estimate (then True)."""
    from runs_core.providers.base import TokenUsage, estimate_tokens, prompt_text

    if response is not None:
        return response.usage, False
    if live.reported_usage is not None:
        return live.reported_usage, False
    estimate = TokenUsage(
        input_tokens=estimate_tokens(prompt_text(request)), output_tokens=estimate_tokens(live.text_so_far)
    )
    return estimate, True


def _usage_change(
    run: dict[str, Any], definition: dict[str, Any], step: dict[str, Any], tokens: Any, estimated: bool
) -> Change:
    """The run's usage after the call, its debit and the step record (no events)."""
    before = run.get("usage") or {}
    usage = _add_usage(before, tokens, definition["model"].get("price") or {})
    if estimated or before.get("estimated"):
        usage["estimated"] = True
    change = Change(
        {"step_count": step["index"] + 1, "usage": usage}, items=[get_stores().steps.put_item(step)]
    )
    debit = usage["credits_used"] - before.get("credits_used", 0)
    if debit > 0:
        change.items.append(get_stores().orgs.debit_item(run["org_id"], debit))
    return change


def _stopped_call(
    run: dict[str, Any],
    definition: dict[str, Any],
    decision: _DecisionStep,
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
        step = decision.record(run["id"], "failed", output, tokens, error=error)
        return _fail(run, stop.code, stop.message, _usage_change(run, definition, step, tokens, estimated))
    step = decision.record(run["id"], "cancelled", output, tokens)
    return _record_after_end(run, definition, step, tokens, estimated)


def _record_after_end(
    run: dict[str, Any], definition: dict[str, Any], step: dict[str, Any], tokens: Any, estimated: bool
) -> dict[str, Any]:
    """The run was cancelled while its model call ran: the tokens were still used, so record and debit
    them, with the step, and write no event after the terminal one. A cancel that was requested but
    not written yet (it yields to nothing now) is written here, with them."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        latest = _load(run["id"]) or run
        change = _usage_change(latest, definition, step, tokens, estimated)
        if latest["status"] not in TERMINAL_STATUSES:
            cancelled = _cancellation(latest)
            change.changes.update(cancelled.changes)
            change.events.extend(cancelled.events)
            change.items.extend(cancelled.items)
        try:
            return _commit(latest, change)
        except StaleRun:
            continue
    raise StaleRun("the run kept changing while its usage was recorded")


def _decided(
    run: dict[str, Any],
    definition: dict[str, Any],
    progress: Progress,
    decision: _DecisionStep,
    live: Any,
    response: Any,
) -> tuple[dict[str, Any], bool]:
    """The model answered: write the decision (what the live message did not write yet), its usage and
    what comes next; a run cancelled meanwhile gets only its usage recorded."""
    tool_calls = [
        {"id": call.id, "name": call.name, "arguments": call.arguments} for call in response.tool_calls
    ]
    output = {"text": response.text, "tool_calls": tool_calls, "stop_reason": response.stop_reason}
    step = decision.record(run["id"], "completed", output, response.usage)
    change = _usage_change(run, definition, step, response.usage, False)
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
    change.event("step.completed", step_id=step["id"], index=step["index"], status="completed")
    debit = usage["credits_used"] - (run.get("usage") or {}).get("credits_used", 0)
    try:
        if usage["total_tokens"] > run["max_tokens"]:
            message = f"The run used more than {run['max_tokens']} tokens."
            return _fail(run, "max_tokens_exceeded", message, change), True
        if not tool_calls:
            _complete(run, definition, change, response.text, response.outputs)
            return run, True
        run = _commit(run, change)
    except StaleRun:
        latest = _load(run["id"])
        if latest is None or latest["status"] not in TERMINAL_STATUSES:
            raise  # another change to a running run: the step is decided again
        _record_after_end(latest, definition, step, response.usage, False)
        return latest, True
    progress.steps.append(step)
    progress.credits -= max(debit, 0)
    return run, False


@traced
def _call_model(provider: Any, request: Any, on_delta: Any) -> Any:
    return provider.complete(request, on_delta=on_delta)


def _complete(
    run: dict[str, Any], definition: dict[str, Any], change: Change, text: str, outputs: dict[str, Any] | None
) -> dict[str, Any]:
    values = {**run.get("output_values", {}), **(outputs or {})}
    if outputs is None and not values:
        values["answer"] = text  # docs/api.md §3: without outputs the final text becomes output `answer`
    declared = {spec["key"]: spec for spec in definition.get("outputs", [])}
    listed = [
        {
            "key": key,
            "description": spec.get("description"),
            "data_type": spec.get("data_type", "text/plain"),
            "value": values.get(key),
        }
        for key, spec in declared.items()
    ] + [
        {
            "key": key,
            "description": None,
            "data_type": "text/plain" if isinstance(value, str) else "application/json",
            "value": value,
        }
        for key, value in values.items()
        if key not in declared
    ]
    now = clock.now_iso()
    change.changes.update(
        {
            "status": "completed",
            "completed_at": now,
            "duration_ms": _duration_ms(run, now),
            "output_values": values,
            "outputs": listed,
            "output": {item["key"]: item["value"] for item in listed},
        }
    )
    change.event("run.completed", status="completed", output=change.changes["output"])
    if run.get("thread_id"):  # the answer joins the thread's conversation
        change.items.append(get_stores().threads.message_put(threads.message_record(run, "assistant", text)))
    written = _commit(run, change)
    _run_finished("RunsCompleted", {**run, **change.changes})
    return written


def _step_usage(tokens: Any) -> dict[str, int]:
    return {
        "input_tokens": tokens.input_tokens,
        "output_tokens": tokens.output_tokens,
        "cache_read_tokens": tokens.cache_read_tokens,
        "cache_write_tokens": tokens.cache_write_tokens,
    }


def _add_usage(usage: dict[str, Any], tokens: Any, price: dict[str, Any]) -> dict[str, Any]:
    """The run's usage after one more model call: tokens, cost at the model's price, credits, hit rate."""
    totals = {key: int(usage.get(key, 0)) + value for key, value in _step_usage(tokens).items()}
    input_price = price.get("input_per_mtok") or 0.0
    per_token = {  # cache reads and writes cost the input price unless the model's price says otherwise
        "input_tokens": input_price,
        "output_tokens": price.get("output_per_mtok") or 0.0,
        "cache_read_tokens": price.get("cache_read_per_mtok") or input_price,
        "cache_write_tokens": price.get("cache_write_per_mtok") or input_price,
    }
    step_cost = sum(per_token[key] * value for key, value in _step_usage(tokens).items()) / 1_000_000
    cost = float(usage.get("cost_usd", 0.0)) + step_cost
    prompt_tokens = totals["input_tokens"] + totals["cache_read_tokens"]
    return {
        **totals,
        "total_tokens": sum(totals.values()),
        "cost_usd": round(cost, 8),
        "credits_used": math.ceil(round(cost * 1000, 6)),  # 1 credit = $0.001, rounded up per run
        "cache_hit_rate": round(totals["cache_read_tokens"] / prompt_tokens, 4) if prompt_tokens else 0.0,
    }


def _user_turn(run: dict[str, Any]) -> str:
    """What the model is told first: the thread message (if any) and the run's input as JSON."""
    message, run_input = run.get("message"), run.get("input") or {}
    if message is None:
        return json.dumps(run_input)
    return f"{message}\n\n{json.dumps(run_input)}" if run_input else message


def _model_request(
    run: dict[str, Any],
    definition: dict[str, Any],
    steps: list[dict[str, Any]],
    history: Sequence[dict[str, Any]] = (),
) -> Any:
    from runs_core.logic.files import run_attachments
    from runs_core.providers.base import Message, ModelRequest, ToolCall, ToolSpec

    instructions = definition.get("instructions", "")
    persona = (definition.get("personas") or {}).get(run.get("persona") or "")
    if persona:
        instructions = f"{instructions}\n\n{persona['instructions']}".strip()
    messages = [Message(message["role"], message["content"]) for message in history]
    messages.append(Message("user", _user_turn(run), attachments=run_attachments(run)))
    for step in steps:
        output = step.get("output") or {}
        if step["type"] == "decision":
            calls = tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in output.get("tool_calls", []))
            messages.append(Message("assistant", output.get("text", ""), tool_calls=calls))
        elif step["type"] == "action" and step["status"] in ("completed", "failed"):
            failed = step["status"] == "failed"
            content = json.dumps({"error": step["error"]["message"]} if failed else step.get("output"))
            messages.append(
                Message(
                    "tool", content, tool_call_id=step["tool_call_id"], name=step["action"], is_error=failed
                )
            )
        elif step["type"] == "input" and step["status"] == "completed":
            answer = str(output["content"]) if "content" in output else json.dumps(output.get("data"))
            messages.append(Message("tool", answer, tool_call_id=step["tool_call_id"], name=step["action"]))
        elif step["type"] == "approval" and output.get("decision") == "reject":
            rejection = {"error": "rejected by the approver", "comment": output.get("comment")}
            messages.append(
                Message(
                    "tool",
                    json.dumps(rejection),
                    tool_call_id=step["tool_call_id"],
                    name=step["action"],
                    is_error=True,
                )
            )
    tools = tuple(
        ToolSpec(
            action["name"],
            action.get("description") or "",
            _ASK_USER_PARAMETERS
            if action["kind"] == "builtin" and _builtin_name(action) == "ask_user"
            else action.get("parameters") or {"type": "object"},
        )
        for action in definition.get("actions", [])
    )
    turn = sum(1 for step in steps if step["type"] == "decision")
    return ModelRequest(definition["model"], instructions, tuple(messages), tools, turn)


_ASK_USER_PARAMETERS = {
    "type": "object",
    "properties": {"prompt": {"type": "string", "description": "The question for the user."}},
    "required": ["prompt"],
}


# ------------------------------------------------------------------------------ waits


def _park(run_id: str, step_id: str, task_token: str) -> dict[str, Any]:
    """Store the wait task's token on the run. If the decision came first, resume at once."""
    run = _load(run_id)
    if run is None or run["status"] in TERMINAL_STATUSES:
        return {}
    if run["status"] in WAITING_STATUSES.values() and (run.get("pending") or {}).get("step_id") == step_id:
        _commit(run, Change({"task_token": task_token}))
        return {}
    get_stores().executions.resume(task_token, run_id)  # decided before the token got here
    return {}


def _expire(run_id: str, step_id: str) -> dict[str, Any]:
    """The wait timed out: fail the run, unless the decision got there first (then go on)."""
    run = _load(run_id)
    if run is None or run["status"] in TERMINAL_STATUSES:
        return _done(run_id)
    pending = run.get("pending") or {}
    if pending.get("step_id") != step_id:
        return {"next": "continue", "run_id": run_id}
    code = f"{pending['type']}_timeout"
    change = Change(
        items=[
            get_stores().steps.update_item(
                run_id,
                run["pending_step_index"],
                {
                    "status": "failed",
                    "completed_at": clock.now_iso(),
                    "error": {"code": code, "message": "timed out"},
                },
            )
        ]
    )
    _fail(run, code, f"No {pending['type']} arrived before {pending['expires_at']}.", change)
    return _done(run_id)


def _adopt(run_id: str, execution_arn: str) -> dict[str, Any]:
    """A long run continued in a new execution (Step Functions keeps 25,000 events per execution): the run
    records it, so that a cancel stops it and only its end counts (execution_ends)."""
    run = _load(run_id)
    if run is None or run["status"] in TERMINAL_STATUSES or run.get("execution_arn") == execution_arn:
        return {}
    _commit(run, Change({"execution_arn": execution_arn}))
    return {}


def _fail_unexpectedly(run_id: str, error: Any) -> dict[str, Any]:
    """The state machine caught an error: record `internal_error` (details go to the log, not the API)."""
    logger.error("run failed unexpectedly", extra={"run_id": run_id, "error": error})
    run = _load(run_id)
    if run is not None and run["status"] not in TERMINAL_STATUSES:
        _fail(run, "internal_error", "The run stopped because of an internal error.")
    return _done(run_id)
