"""Fixtures of the index tests: a data directory, a clean registry of indexes and listeners."""

from __future__ import annotations

from pathlib import Path

import pytest

from labmate_core.index import events


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "DATA"
    folder.mkdir()
    return folder


@pytest.fixture(autouse=True)
def _fresh_registry():
    """Each test gets its own index objects and listeners."""
    yield
    with events._indexes_lock:
        for index in events._indexes.values():
            index.close()
        events._indexes.clear()
    with events._listeners_lock:
        events._listeners.clear()
