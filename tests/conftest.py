"""Shared by every test tier: where the repository is. Tier-specific fixtures live in each tier's conftest."""

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(autouse=True)
def _fresh_outbound_allowlist() -> Iterator[None]:
    """The allow-list is read once per process; tests set it with monkeypatch: forget it around each."""
    from runs_core.outbound import get_allowlist

    get_allowlist.cache_clear()
    yield
    get_allowlist.cache_clear()


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outbound calls may reach this test's servers on 127.0.0.1 (as `RUNS_API_HTTP_ALLOWLIST=127.0.0.1`)."""
    monkeypatch.setenv("RUNS_API_HTTP_ALLOWLIST", "127.0.0.1")
