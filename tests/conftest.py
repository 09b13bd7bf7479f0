"""Fixtures shared by every test: the labmate-written files in ``../shared/fixtures``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: Files written by labmate 0.10.9 and older (read-only; copy before writing next to them).
SHARED_FIXTURES = Path(
    os.environ.get("LABMATE_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures")
)


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Path:
    """A private, writable copy of the shared fixtures."""
    if not SHARED_FIXTURES.is_dir():
        raise FileNotFoundError(f"the shared fixtures are missing: {SHARED_FIXTURES}")
    target = tmp_path / "fixtures"
    shutil.copytree(SHARED_FIXTURES, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


@pytest.fixture(autouse=True)
def _fresh_index_registry():
    """Each test gets its own index objects and listeners."""
    yield
    from labmate_core import index

    index.flush(5)
    index.reset()
