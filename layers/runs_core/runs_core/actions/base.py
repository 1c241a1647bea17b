"""The action interface. The engine handles `ask_user` and approvals; everything else runs here."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class ActionError(Exception):
    """The action failed; the message is fed back to the model as an error result (not a crash)."""


class Memory(Protocol):
    """Key-value memory of the run (or of its thread)."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


@dataclass(frozen=True)
class ActionContext:
    run_id: str
    org_id: str
    agent_id: str
    memory: Memory
    set_output: Callable[[str, Any], None]  # records a declared output of the run


# Executes one action: (the action's spec from the definition, the model's arguments, context) → JSON result.
Executor = Callable[[dict[str, Any], dict[str, Any], ActionContext], Any]
