"""The stores of this process, built once from settings: the seam between logic and AWS.

Logic reaches storage only through get_stores(), in the domain's terms (runs_core.changes): a run's
Change, StaleRun and StaleThread, never TransactItems or DynamoDB's errors. Tests put in-memory stores
in place with use_stores (tests/fakes/stores.py).
"""

from dataclasses import dataclass
from functools import cache

from runs_core.settings import get_settings
from runs_core.storage.accounts import ApiKeyStore, OrgStore
from runs_core.storage.agents import AgentStore
from runs_core.storage.files import FileObjects, FileStore
from runs_core.storage.memory import MemoryStore
from runs_core.storage.runs import RunStore
from runs_core.storage.steps import StepStore
from runs_core.storage.threads import ThreadStore
from runs_core.workflow import Executions


@dataclass(frozen=True)
class Stores:
    orgs: OrgStore
    api_keys: ApiKeyStore
    agents: AgentStore
    runs: RunStore
    steps: StepStore
    memory: MemoryStore
    threads: ThreadStore
    executions: Executions
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
