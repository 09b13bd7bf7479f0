"""A missing acquisition that no backend can bring back: the error says which failed and why."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from acquisition_files import lost_acquisition

from labmate_core.acquisition import AcquisitionBackend
from labmate_core.backends import MirrorDirectoryBackend, SnapshotUnavailableError


class BrokenArchive(AcquisitionBackend):
    """Stores nothing; loading fails like an unreachable server."""

    def save_snapshot(self, acquisition) -> None:
        pass

    def load_snapshot(self, acquisition) -> bool:
        raise ConnectionError("archive.example unreachable: connection refused")


class EmptyArchive(AcquisitionBackend):
    def save_snapshot(self, acquisition) -> None:
        pass

    def load_snapshot(self, acquisition) -> bool:
        return False


def test_load_errors_of_every_backend_are_named(data_dir: Path, tmp_path: Path) -> None:
    broken, empty = BrokenArchive(), EmptyArchive()
    broken.name, empty.name = "archive", "empty"
    aqm, prefix = lost_acquisition(data_dir, [empty, broken])
    with pytest.raises(SnapshotUnavailableError) as info:
        aqm.load_file(os.path.basename(prefix))
    message = str(info.value)
    assert "archive (error: ConnectionError: archive.example unreachable" in message
    assert "empty (does not have it)" in message
    assert info.value.errors == {
        "archive": "ConnectionError: archive.example unreachable: connection refused"
    }
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(SnapshotUnavailableError, match="archive"):
        aqm.analysis_cell(os.path.basename(prefix))


def test_backends_that_simply_lack_it_give_the_usual_not_found(data_dir: Path) -> None:
    empty = EmptyArchive()
    aqm, prefix = lost_acquisition(data_dir, [empty])
    with pytest.raises(FileNotFoundError, match="cannot be found") as info:
        aqm.load_file(os.path.basename(prefix))
    assert not isinstance(info.value, SnapshotUnavailableError)


def test_a_later_backend_that_has_it_wins_over_a_failing_one(data_dir: Path, tmp_path: Path):
    broken = BrokenArchive()
    broken.name = "archive"
    aqm, prefix = lost_acquisition(data_dir, [broken, MirrorDirectoryBackend(tmp_path / "m")])
    data = aqm.load_file(os.path.basename(prefix))
    np.testing.assert_array_equal(data.x, np.arange(4))
