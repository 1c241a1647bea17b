"""runs_core's stores in memory (runs_core.stores.Stores): what logic sees of DynamoDB and Step Functions.

The contract is storage's, kept in dicts: a Change is written whole or not at all, conditional on the run's
`rev` as read (StaleRun) and, for a thread's turn, the thread's (StaleThread); a step index is taken once;
`yield_to_cancel` writes fail once a cancel was requested. Events get the run's next seqs. Executions are
recorded, not run: a test drives the agent loop by calling its tasks.

`interleave` makes races deterministic: before the next commit that matches, another writer goes first.
"""

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from runs_core.changes import Change, StaleRun, StaleThread, ThreadTurn
from runs_core.stores import Stores, use_stores

ORG = "org_test"


class FakeRuns:
    def __init__(self, steps: "FakeSteps", threads: "FakeThreads", orgs: "FakeOrgs") -> None:
        self.steps, self.threads, self.orgs = steps, threads, orgs
        self.lock = threading.RLock()
        self.items: dict[str, dict[str, Any]] = {}
        self.log: dict[str, list[dict[str, Any]]] = {}
        self._interleaved: list[tuple[Callable[[dict[str, Any], Change], bool], Callable[[], None]]] = []

    def interleave(self, when: Callable[[dict[str, Any], Change], bool], first: Callable[[], None]) -> None:
        """Before the next commit for which `when(run, change)` holds, run `first` (another writer)."""
        self._interleaved.append((when, first))

    def get(self, run_id: str, consistent: bool = False) -> dict[str, Any] | None:
        with self.lock:
            return copy.deepcopy(self.items.get(run_id))

    def create(self, run: dict[str, Any], change: Change, now: str, expires_at: int) -> dict[str, Any]:
        with self.lock:
            if change.turn is not None and not self.threads.as_read(change.turn):
                raise StaleThread
            item = {**run, "rev": 1, "last_event_seq": 0}
            self.items[run["id"]] = item
            self.log[run["id"]] = []
            self._write(item, change, now)
            return copy.deepcopy(self.items[run["id"]])

    def commit(
        self, run: dict[str, Any], change: Change, now: str, expires_at: int, yield_to_cancel: bool = False
    ) -> dict[str, Any]:
        for interleaved in list(self._interleaved):
            when, first = interleaved
            if when(run, change):
                self._interleaved.remove(interleaved)
                first()
        with self.lock:
            stored = self.items.get(run["id"])
            if stored is None or stored["rev"] != run["rev"]:
                raise StaleRun
            if yield_to_cancel and stored.get("cancel_requested_at"):
                raise StaleRun
            if any(self.steps.taken(run["id"], step["index"]) for step in change.new_steps):
                raise StaleRun
            if change.turn is not None and not self.threads.as_read(change.turn):
                raise StaleRun
            self.items[run["id"]] = {
                **copy.deepcopy(run),
                **copy.deepcopy(change.changes),
                "rev": run["rev"] + 1,
            }
            self._write(self.items[run["id"]], change, now)
            return copy.deepcopy(self.items[run["id"]])

    def _write(self, item: dict[str, Any], change: Change, now: str) -> None:
        for event in change.events:
            item["last_event_seq"] += 1
            self.log[item["id"]].append(
                {"seq": item["last_event_seq"], "type": event.type, "data": copy.deepcopy(event.data)}
            )
        for step in change.new_steps:
            self.steps.put(step)
        for update in change.step_updates:
            self.steps.update(item["id"], update.index, update.fields)
        for message in change.messages:
            self.threads.add_message(message)
        if change.debit:
            self.orgs.debit(item["org_id"], change.debit)
        if change.turn is not None:
            self.threads.apply(change.turn)

    def request_cancel(self, run_id: str, now: str) -> None:
        with self.lock:
            if run_id in self.items:
                self.items[run_id]["cancel_requested_at"] = now

    # what tests read

    def events(self, run_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.log[run_id])

    def types(self, run_id: str) -> list[str]:
        return [event["type"] for event in self.events(run_id)]


class FakeSteps:
    def __init__(self) -> None:
        self.by_run: dict[str, dict[int, dict[str, Any]]] = {}

    def taken(self, run_id: str, index: int) -> bool:
        return index in self.by_run.get(run_id, {})

    def put(self, step: dict[str, Any]) -> None:
        self.by_run.setdefault(step["run_id"], {})[step["index"]] = copy.deepcopy(step)

    def update(self, run_id: str, index: int, fields: dict[str, Any]) -> None:
        self.by_run.setdefault(run_id, {}).setdefault(index, {"run_id": run_id, "index": index})
        self.by_run[run_id][index].update(copy.deepcopy(fields))

    def all(self, run_id: str) -> list[dict[str, Any]]:
        return self.page(run_id, after_index=-1, limit=None)

    def page(self, run_id: str, after_index: int, limit: int | None) -> list[dict[str, Any]]:
        steps = [copy.deepcopy(step) for index, step in sorted(self.by_run.get(run_id, {}).items())]
        steps = [step for step in steps if step["index"] > after_index]
        return steps if limit is None else steps[:limit]


class FakeThreads:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.messages_of: dict[str, list[dict[str, Any]]] = {}

    def create(self, thread: dict[str, Any]) -> dict[str, Any]:
        item = {**thread, "rev": 1, "queue": []}
        self.items[(thread["org_id"], thread["id"])] = item
        return copy.deepcopy(item)

    def get(self, org_id: str, thread_id: str, consistent: bool = False) -> dict[str, Any] | None:
        return copy.deepcopy(self.items.get((org_id, thread_id)))

    def as_read(self, turn: ThreadTurn) -> bool:
        stored = self.items.get((turn.thread["org_id"], turn.thread["id"]))
        return stored is not None and stored["rev"] == turn.thread["rev"]

    def apply(self, turn: ThreadTurn) -> None:
        stored = self.items[(turn.thread["org_id"], turn.thread["id"])]
        stored.update(rev=stored["rev"] + 1, queue=list(turn.queue))
        if turn.active_run_id is None:
            stored.pop("active_run_id", None)
        else:
            stored["active_run_id"] = turn.active_run_id

    def set_turn(self, turn: ThreadTurn) -> None:
        if not self.as_read(turn):
            raise StaleThread
        self.apply(turn)

    def add_message(self, message: dict[str, Any]) -> None:
        self.messages_of.setdefault(message["thread_id"], []).append(copy.deepcopy(message))

    def messages(self, thread_id: str, after_id: str | None, limit: int) -> list[dict[str, Any]]:
        found = [m for m in self.messages_of.get(thread_id, []) if after_id is None or m["id"] > after_id]
        return copy.deepcopy(found[:limit])

    def recent_messages(self, thread_id: str, limit: int) -> list[dict[str, Any]]:
        return copy.deepcopy(self.messages_of.get(thread_id, [])[-limit:])


class FakeOrgs:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get(self, org_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.items.get(org_id))

    def debit(self, org_id: str, credits: int) -> None:
        self.items[org_id]["credits_balance"] -= credits


class FakeAgents:
    def __init__(self) -> None:
        self.versions: dict[tuple[str, str, str], dict[str, Any]] = {}

    def get_version(self, org_id: str, agent_id: str, version: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.versions.get((org_id, agent_id, version)))


class FakeMemory:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Any] = {}

    def get(self, scope: str, key: str) -> Any:
        return copy.deepcopy(self.values.get((scope, key)))

    def put(self, scope: str, key: str, value: Any, now: str) -> None:
        self.values[(scope, key)] = copy.deepcopy(value)

    def delete(self, scope: str, key: str) -> bool:
        return self.values.pop((scope, key), None) is not None

    def items(self, scope: str) -> dict[str, Any]:
        return {key: value for (owner, key), value in self.values.items() if owner == scope}


@dataclass
class FakeExecutions:
    """Step Functions as the logic calls it: what was started, stopped and resumed, in order."""

    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    resumed: list[tuple[str, str]] = field(default_factory=list)
    enabled: bool = True

    def start(self, run_id: str) -> None:
        self.started.append(run_id)

    def stop(self, run_id: str, cause: str, execution_arn: str | None = None) -> None:
        self.stopped.append(run_id)

    def resume(self, task_token: str, run_id: str) -> bool:
        self.resumed.append((task_token, run_id))
        return True


def in_memory_stores() -> Stores:
    steps, threads, orgs = FakeSteps(), FakeThreads(), FakeOrgs()
    orgs.items[ORG] = {"id": ORG, "credits_balance": 1_000}
    return Stores(
        orgs=orgs,  # type: ignore[arg-type]
        api_keys=None,  # type: ignore[arg-type]
        agents=FakeAgents(),  # type: ignore[arg-type]
        runs=FakeRuns(steps, threads, orgs),  # type: ignore[arg-type]
        steps=steps,  # type: ignore[arg-type]
        memory=FakeMemory(),  # type: ignore[arg-type]
        threads=threads,  # type: ignore[arg-type]
        executions=FakeExecutions(),  # type: ignore[arg-type]
        files=None,  # type: ignore[arg-type]
        file_objects=None,  # type: ignore[arg-type]
    )


@contextmanager
def stores_in_memory() -> Iterator[Stores]:
    """runs_core uses in-memory stores for the duration."""
    stores = in_memory_stores()
    use_stores(stores)
    try:
        yield stores
    finally:
        use_stores(None)
