"""The stores of this process, built once from settings: the seam between logic and AWS.

Logic reaches storage only through get_stores(), in the domain's terms (runs_core.changes): a run's
Change, StaleRun and StaleThread, never TransactItems or DynamoDB's errors. Tests put in-memory stores
in place with use_stores (tests/fakes/stores.py).
"""

from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from runs_core.changes import Change, ThreadTurn
from runs_core.settings import get_settings
from runs_core.storage.accounts import ApiKeyStore, OrgStore
from runs_core.storage.agents import AgentStore
from runs_core.storage.dynamo import KeyRange
from runs_core.storage.files import FileObjects, FileStore
from runs_core.storage.memory import MemoryStore
from runs_core.storage.runs import RunStore
from runs_core.storage.steps import StepStore
from runs_core.storage.threads import ThreadStore
from runs_core.workflow import Executions


class Runs(Protocol):
    """Runs and their event log (storage.runs.RunStore). A write is a Change, all or nothing; StaleRun
    if the run is no longer as read (StaleThread from create if the thread it claims changed)."""

    def get(self, run_id: str, consistent: bool = False) -> dict[str, Any] | None: ...

    def create(self, run: dict[str, Any], change: Change, now: str, expires_at: int) -> dict[str, Any]: ...

    def commit(
        self, run: dict[str, Any], change: Change, now: str, expires_at: int, yield_to_cancel: bool = False
    ) -> dict[str, Any]: ...

    def request_cancel(self, run_id: str, now: str) -> None: ...

    def page(
        self, index: str, partition_value: str, key_range: KeyRange, limit: int, filters: dict[str, list[str]]
    ) -> list[dict[str, Any]]: ...


class Steps(Protocol):
    """A run's steps, oldest first (storage.steps.StepStore); written only with a run's Change."""

    def all(self, run_id: str) -> list[dict[str, Any]]: ...

    def page(self, run_id: str, after_index: int, limit: int | None) -> list[dict[str, Any]]: ...


class Threads(Protocol):
    """Threads and their messages (storage.threads.ThreadStore). set_turn: StaleThread if the thread
    is no longer as read; messages are written only with a run's Change."""

    def create(self, thread: dict[str, Any]) -> dict[str, Any]: ...

    def get(self, org_id: str, thread_id: str, consistent: bool = False) -> dict[str, Any] | None: ...

    def page(self, org_id: str, key_range: KeyRange, limit: int) -> list[dict[str, Any]]: ...

    def set_turn(self, turn: ThreadTurn) -> None: ...

    def messages(self, thread_id: str, after_id: str | None, limit: int) -> list[dict[str, Any]]: ...

    def recent_messages(self, thread_id: str, limit: int) -> list[dict[str, Any]]: ...


class Workflow(Protocol):
    """Run executions (runs_core.workflow.Executions): started, stopped, resumed after a wait."""

    def start(self, run_id: str) -> None: ...

    def stop(self, run_id: str, cause: str, execution_arn: str | None = None) -> None: ...

    def resume(self, task_token: str, run_id: str) -> bool: ...


@dataclass(frozen=True)
class Stores:
    """What logic may call. runs, steps, threads and executions are typed by the interfaces above, so
    mypy keeps logic off their DynamoDB and Step Functions details."""

    orgs: OrgStore
    api_keys: ApiKeyStore
    agents: AgentStore
    runs: Runs
    steps: Steps
    memory: MemoryStore
    threads: Threads
    executions: Workflow
    files: FileStore
    file_objects: FileObjects


_in_place: Stores | None = None


def get_stores() -> Stores:
    return _in_place if _in_place is not None else _from_settings()


def use_stores(stores: Stores | None) -> None:
    """Use `stores` from now on (tests' in-memory stores); None: back to the ones built from settings."""
    global _in_place
    _in_place = stores


@cache
def _from_settings() -> Stores:
    settings = get_settings()
    api_keys = ApiKeyStore(settings.api_keys_table)
    orgs = OrgStore(settings.orgs_table, api_keys)
    steps = StepStore(settings.steps_table)
    threads = ThreadStore(settings.threads_table, settings.thread_messages_table)
    return Stores(
        orgs=orgs,
        api_keys=api_keys,
        agents=AgentStore(settings.agents_table),
        runs=RunStore(settings.runs_table, settings.events_table, steps, threads, orgs),
        steps=steps,
        memory=MemoryStore(settings.memory_table),
        threads=threads,
        executions=Executions(settings.state_machine_arn),
        files=FileStore(settings.files_table),
        file_objects=FileObjects(settings.files_bucket, settings.files_public_endpoint),
    )
