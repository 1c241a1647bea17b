"""The stores of this process, built once from settings."""

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


@cache
def get_stores() -> Stores:
    settings = get_settings()
    return Stores(
        orgs=OrgStore(settings.orgs_table),
        api_keys=ApiKeyStore(settings.api_keys_table),
        agents=AgentStore(settings.agents_table),
        runs=RunStore(settings.runs_table, settings.events_table),
        steps=StepStore(settings.steps_table),
        memory=MemoryStore(settings.memory_table),
        threads=ThreadStore(settings.threads_table, settings.thread_messages_table),
        executions=Executions(settings.state_machine_arn),
        files=FileStore(settings.files_table),
        file_objects=FileObjects(settings.files_bucket, settings.files_public_endpoint),
    )
