"""Run records (docs/api.md §4): create, read, list, invoke, cancel.

How a run is written (optimistic locking, its execution started, a cancel) is in run_writes.py.
"""

import os
import secrets
from datetime import datetime
from typing import Any

from runs_core import clock, ids
from runs_core.changes import Change, NewEvent, StaleRun, StaleThread
from runs_core.context import Caller
from runs_core.errors import InsufficientCredits, InvalidState, NotFound, ValidationFailed
from runs_core.logic import threads
from runs_core.logic.run_writes import (
    cancellation,
    change_run,
    event_expiry,
    load_run,
    start_execution,
)
from runs_core.models.common import Page
from runs_core.models.runs import Run, RunOptions
from runs_core.observability import COUNT, bind, put_metrics, traced
from runs_core.pages import decode_cursor, encode_cursor
from runs_core.run_status import CANCELLED, CREATED, QUEUED, RUN_STATUSES, initial_status, may_cancel
from runs_core.storage.dynamo import KeyRange
from runs_core.stores import get_stores


def view(record: dict[str, Any]) -> Run:
    return Run.model_validate(record)


def _trace_id() -> str:
    """The X-Ray trace of this invocation (Lambda sets _X_AMZN_TRACE_ID); without one (the local stack, an
    untraced caller) a new trace id in X-Ray's format, so every run has one to quote."""
    header = os.environ.get("_X_AMZN_TRACE_ID", "")
    root = next((part[5:] for part in header.split(";") if part.startswith("Root=")), None)
    return root or f"1-{int(clock.now().timestamp()):08x}-{secrets.token_hex(12)}"


def _validate_input(schema: dict[str, Any] | None, value: dict[str, Any]) -> None:
    if not schema:
        return
    from jsonschema import Draft202012Validator  # lazy, for cold start: only run creation needs it

    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda error: list(error.path))
    if errors:
        fields = [
            {
                "field": ".".join(["input", *(str(part) for part in error.path)]),
                "code": str(error.validator),
                "message": error.message,
            }
            for error in errors[:20]
        ]
        raise ValidationFailed(f"{fields[0]['field']}: {fields[0]['message']}", fields)


def _check_lower(name: str, requested: int | None, agent_limit: int) -> int:
    if requested is None:
        return agent_limit
    if requested > agent_limit:
        message = f"may only lower the agent's limit of {agent_limit}"
        raise ValidationFailed(f"{name} {message}", [{"field": name, "code": "maximum", "message": message}])
    return requested


@traced
def create_run(
    caller: Caller,
    agent_ref: str,
    request: RunOptions,
    message: str | None = None,
    strategy: threads.Strategy = "enqueue",
) -> Run:
    """Create a run (and start it unless `start=false`). In a thread, the run takes the thread if it is
    idle, else waits behind the thread's current run (`enqueue`) or is refused (`reject`: 409)."""
    # lazy, for cold start: only run creation needs the agent and file models (a run's reads do not)
    from runs_core.logic.agents import load_agent, resolve_version
    from runs_core.logic.files import require_uploaded

    stores = get_stores()
    agent = load_agent(caller, agent_ref)
    version = resolve_version(caller, agent, request.version, request.stage)
    definition = version["definition"]
    limits = definition.get("limits", {})
    if request.persona is not None and request.persona not in definition.get("personas", {}):
        raise ValidationFailed(
            f"persona {request.persona!r} is not defined by the agent",
            [{"field": "persona", "code": "enum", "message": "not one of the agent's personas"}],
        )
    run_input = request.resolved_input()
    _validate_input(definition.get("input_schema"), run_input)
    max_steps = _check_lower("max_steps", request.max_steps, limits.get("max_steps", 25))
    max_tokens = _check_lower("max_tokens", request.max_tokens, limits.get("max_tokens", 200_000))
    thread = threads.load_thread(caller, request.thread_id) if request.thread_id is not None else None
    require_uploaded(caller.org_id, request.file_ids)  # unknown → 404, not uploaded yet → 409
    org = stores.orgs.get(caller.org_id)
    if org is None or org["credits_balance"] <= 0:
        raise InsufficientCredits("The org has no credits left; an operator can add credits.")

    run_id, created_at = ids.new_id_at("run")
    bind(run_id=run_id)
    status = initial_status(request.start)
    run = {
        "id": run_id,
        "org_id": caller.org_id,
        "agent_id": agent["id"],
        "agent_name": agent["name"],
        "agent_version": version["version"],
        "thread_id": request.thread_id,
        "message": message,
        "name": request.name,
        "status": status,
        "input": run_input,
        "file_ids": request.file_ids,
        "persona": request.persona,
        "outputs": [],
        "max_steps": max_steps,
        "max_tokens": max_tokens,
        "metadata": request.metadata,
        "external_ids": request.external_ids,
        "trace_id": _trace_id(),
        "created_by": {"api_key_id": caller.api_key_id, "end_user_id": caller.end_user_id},
        "created_at": created_at,
        "limits_max_duration_seconds": limits.get("max_duration_seconds", 3600),
    }
    events = [NewEvent("run.created", {"status": CREATED})]
    if request.start:
        events.append(NewEvent("run.queued", {"status": QUEUED}))
    for attempt in range(threads.MAX_TURN_ATTEMPTS):
        starts, first = request.start, Change(events=events)
        if thread is not None and request.start:
            first.turn, starts = threads.take_turn(thread, run_id, strategy)
        try:
            record = stores.runs.create(run, first, created_at, event_expiry(run))
            break
        except StaleThread:
            assert thread is not None
            threads.pause_after_stale_turn(attempt)
            thread = threads.load_thread(caller, thread["id"], consistent=True)  # it changed: decide again
    else:
        raise StaleRun(f"thread {request.thread_id} kept changing")
    put_metrics({"RunsCreated": (1, COUNT)})
    if starts:
        record = start_execution(record)
    return view(record)


def with_version(request: RunOptions, version: str | None) -> RunOptions:
    """Agent-scoped routes take the version selector in the query (?version=) or the body, not both."""
    if version is None:
        return request
    if request.version is not None or request.stage is not None:
        message = "send the version in the query or in the body, not both"
        raise ValidationFailed(message, [{"field": "version", "code": "conflict", "message": message}])
    return request.model_copy(update={"version": version})


def get_run(caller: Caller, run_id: str) -> Run:
    return view(load_run(caller, run_id))


def invoke_run(caller: Caller, run_id: str) -> Run:
    starts = True

    def start(run: dict[str, Any]) -> Change | None:
        nonlocal starts
        if run["status"] != CREATED:
            raise InvalidState(f"Only a created run can be invoked; this one is {run['status']}.")
        change = Change({"status": QUEUED}, [NewEvent("run.queued", {"status": QUEUED})])
        if run.get("thread_id"):  # a run in a thread waits for its turn (enqueue)
            thread = threads.load_thread(caller, run["thread_id"], consistent=True)
            change.turn, starts = threads.take_turn(thread, run["id"], "enqueue")
        return change

    _, run = change_run(caller, run_id, start)
    if starts:
        run = start_execution(run)
    return view(run)


def cancel_run(caller: Caller, run_id: str, reason: str | None) -> Run:
    def cancel(run: dict[str, Any]) -> Change | None:
        if run["status"] == CANCELLED:
            return None  # idempotent: cancelling a cancelled run returns it unchanged
        if not may_cancel(run["status"]):
            raise InvalidState(f"The run is {run['status']}; a finished run cannot be cancelled.")
        return cancellation(run, reason)

    def lost_race(run: dict[str, Any]) -> None:
        # A streaming step writes every 250 ms and could win every attempt: ask it to yield.
        get_stores().runs.request_cancel(run["id"], clock.now_iso())

    before, after = change_run(caller, run_id, cancel, lost_race)
    if before["status"] != CANCELLED:
        put_metrics({"RunsCancelled": (1, COUNT)})
    if before["status"] not in (CREATED, CANCELLED):  # only these have no execution to stop
        get_stores().executions.stop(run_id, reason or "cancelled by the API", after.get("execution_arn"))
    return view(after)


def _parse_time(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        message = "must be an RFC 3339 timestamp"
        raise ValidationFailed(
            f"{name} {message}", [{"field": name, "code": "format", "message": message}]
        ) from None
    if moment.tzinfo is None:
        message = "must include a time zone (e.g. Z)"
        raise ValidationFailed(f"{name} {message}", [{"field": name, "code": "format", "message": message}])
    if moment.timestamp() < 0:  # ids hold time from the epoch on: no id bound exists before it
        message = "must be 1970-01-01T00:00:00Z or later"
        raise ValidationFailed(f"{name} {message}", [{"field": name, "code": "minimum", "message": message}])
    return int(moment.timestamp() * 1000)


def list_runs(
    caller: Caller,
    limit: int,
    cursor: str | None,
    agent: str | None = None,
    status: str | None = None,
    thread_id: str | None = None,
    end_user: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    before_id: str | None = None,
) -> Page[Run]:
    """`before_id`: only runs older than this run id (a dialect's `before`; `cursor` wins if both)."""
    statuses = sorted({part.strip() for part in status.split(",") if part.strip()}) if status else []
    unknown = [value for value in statuses if value not in RUN_STATUSES]
    if unknown:
        message = f"must be a comma list of {', '.join(RUN_STATUSES)}"
        raise ValidationFailed(f"status {message}", [{"field": "status", "code": "enum", "message": message}])
    after_ms, before_ms = (
        _parse_time("created_after", created_after),
        _parse_time("created_before", created_before),
    )
    query = {
        "agent": agent,
        "status": statuses,
        "thread_id": thread_id,
        "end_user": end_user,
        "created_after": created_after,
        "created_before": created_before,
    }
    before_id = decode_cursor(cursor, caller.org_id, "runs", query) if cursor else before_id

    org = caller.org_id
    agent_id = None
    if agent is not None:
        from runs_core.logic.agents import load_agent  # lazy, for cold start: only this filter needs it

        try:
            agent_id = load_agent(caller, agent)["id"]
        except NotFound:
            return Page[Run](items=[], next_cursor=None)

    # Equality filters as index partition values; the most selective one becomes the Query's key.
    wanted: dict[str, list[str]] = {}
    if thread_id is not None:
        wanted["org_thread"] = [f"{org}#{thread_id}"]
    if end_user is not None:
        wanted["org_end_user"] = [f"{org}#{end_user}"]
    if agent_id is not None:
        wanted["org_agent"] = [f"{org}#{agent_id}"]
    if statuses:
        wanted["org_status"] = [f"{org}#{value}" for value in statuses]

    low = ids.id_bound_at("run", after_ms + 1, upper=False) if after_ms is not None else "run_"
    high = ids.id_bound_at("run", max(before_ms - 1, 0), upper=True) if before_ms is not None else "run_~"
    exclusive = before_id is not None and before_id <= high
    key_range = KeyRange("id", low, before_id if before_id and exclusive else high, exclusive_high=exclusive)

    store = get_stores().runs
    if not wanted:
        items = store.page("by_org", org, key_range, limit + 1, {})
    else:
        attribute = next(iter(wanted))
        index = {"org_thread": "by_thread", "org_end_user": "by_end_user", "org_agent": "by_agent"}.get(
            attribute, "by_status"
        )
        rest = {key: value for key, value in wanted.items() if key != attribute}
        # Several statuses as the key: one Query each, merged by id (all are newest first).
        items = []
        for partition in wanted[attribute]:
            items += store.page(index, partition, key_range, limit + 1, rest)
        items = sorted(items, key=lambda item: item["id"], reverse=True)[: limit + 1]

    page = items[:limit]
    next_cursor = encode_cursor(org, "runs", query, page[-1]["id"]) if len(items) > limit else None
    return Page[Run](items=[view(item) for item in page], next_cursor=next_cursor)
