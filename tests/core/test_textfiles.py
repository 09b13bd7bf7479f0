"""Companion text files (cells, configs, temp.json): atomic, with the usual permissions."""

from __future__ import annotations

import os
import stat

import pytest

from labmate_core.textfiles import write_text_atomically


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_text_files_get_the_permissions_open_gives(tmp_path, umask_022):
    """A run's code must be readable by colleagues on a shared server (labmate writes 0644)."""
    path = tmp_path / "run_CELL.py"
    write_text_atomically(path, "x = 1\n")
    assert path.read_text() == "x = 1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    os.chmod(path, 0o600)
    write_text_atomically(path, "x = 2\n", keep_mode=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "x = 2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run_CELL.py"]  # no temporary left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "temp.json"
    write_text_atomically(path, "{}")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomically(path, "\udcff")  # not encodable: fails while writing
    assert path.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["temp.json"]
