"""Shared fixtures for the acquisition tests: a data directory and config files in tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path("/work/shared/fixtures")

CFG1 = "freq = 1.5e9\nn_points = 101\npower = -20  # dBm\nlabel = 'qubit'\narr = [1, 2,\n  3]\n"


@pytest.fixture
def cfg_file(tmp_path: Path) -> Path:
    path = tmp_path / "cfg1.py"
    path.write_text(CFG1, encoding="utf-8")
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "DATA"


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Path:
    """A writable copy of /work/shared/fixtures."""
    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target
