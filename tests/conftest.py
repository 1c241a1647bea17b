"""Shared by every test tier: where the repository is. Tier-specific fixtures live in each tier's conftest."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
