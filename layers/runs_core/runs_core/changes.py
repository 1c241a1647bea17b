"""What logic asks the stores to write, in the domain's terms, and how a conditional write fails.

Pure: no AWS here. storage/ turns these into DynamoDB transactions; tests' in-memory stores apply them.
"""

from dataclasses import dataclass
from typing import Any


class StaleRun(Exception):
    """The run changed since it was read (another writer won); re-read and decide again."""


@dataclass(frozen=True)
class NewEvent:
    type: str
    data: dict[str, Any]
