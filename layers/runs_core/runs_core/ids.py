"""Prefixed ULIDs: `run_01J…`. They sort by creation time, which list queries rely on."""

from ulid import ULID

from runs_core.clock import iso


def new_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"


def id_bound_at(prefix: str, epoch_ms: int, upper: bool) -> str:
    """The smallest (or largest) id of `prefix` that can have been minted at `epoch_ms`."""
    timestamp = ULID.from_timestamp(epoch_ms / 1000).bytes[:6]
    fill = b"\xff" if upper else b"\x00"
    return f"{prefix}_{ULID.from_bytes(timestamp + fill * 10)}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and len(value) == len(prefix) + 27


def new_id_at(prefix: str) -> tuple[str, str]:
    """A new id and its creation time (RFC 3339, ms) taken from the same clock reading."""
    value = ULID()
    return f"{prefix}_{value}", iso(value.datetime)
