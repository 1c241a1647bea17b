"""The EventBridge bus the stream router puts run events on (PutEvents, at most 10 entries a call)."""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

MAX_ENTRIES_PER_CALL = 10  # PutEvents' limit


@dataclass(frozen=True)
class BusEntry:
    source: str
    detail_type: str
    detail: str  # JSON


class EventBus(Protocol):
    def put_events(self, entries: Sequence[BusEntry]) -> list[str | None]:
        """Put up to 10 entries; returns one error code per entry (None: accepted)."""
        ...


@cache
def client() -> Any:
    import boto3  # made once per process, on first use

    return boto3.client("events")


class EventBridgeBus:
    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def put_events(self, entries: Sequence[BusEntry]) -> list[str | None]:
        if len(entries) > MAX_ENTRIES_PER_CALL:
            raise ValueError(f"PutEvents takes at most {MAX_ENTRIES_PER_CALL} entries")
        if not entries:
            return []
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = client().put_events(
                Entries=[
                    {
                        "Source": entry.source,
                        "DetailType": entry.detail_type,
                        "Detail": entry.detail,
                        "EventBusName": self.bus_name,
                    }
                    for entry in entries
                ]
            )
        except ClientError as error:  # throttled, too large, ...: every entry of the call failed
            code = str(error.response.get("Error", {}).get("Code") or "ClientError")
            return [code] * len(entries)
        except BotoCoreError as error:
            return [type(error).__name__] * len(entries)
        results = response.get("Entries") or []
        if len(results) != len(entries):  # should not happen; treat as all failed rather than guess
            return ["IncompleteResponse"] * len(entries)
        return [result.get("ErrorCode") for result in results]
