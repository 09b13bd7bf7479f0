"""Fixtures of the index tests: a data directory."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "DATA"
    folder.mkdir()
    return folder
