"""Fixtures for the core tests: a data directory and a config file in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

CFG1 = "freq = 1.5e9\nn_points = 101\npower = -20  # dBm\nlabel = 'qubit'\narr = [1, 2,\n  3]\n"


@pytest.fixture
def cfg_file(tmp_path: Path) -> Path:
    path = tmp_path / "cfg1.py"
    path.write_text(CFG1, encoding="utf-8")
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "DATA"
