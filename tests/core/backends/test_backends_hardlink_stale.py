"""A delivered ``.h5`` hard-linked (a backup made with ``cp -l`` / ``rsync --link-dest``) and then
rewritten by ``DH5(path, "a=")`` in the same second, same size, on a filesystem with 1-second
timestamps: its lock moves to the machine-wide one keyed on the inode, and its write generation
must still move on from the one delivered, so ``labmate status`` finds it stale and the next
process delivers it (attack/hardlink_same_second.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from labmate_core import DH5
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.backends import MirrorDirectoryBackend
from labmate_core.backends.survey import survey


@pytest.mark.parametrize("writes", [1, 3])
def test_a_hard_linked_file_rewritten_in_its_delivery_second_is_stale(
    coarse_fs: Path, tmp_path: Path, writes: int
) -> None:
    data, mirror, backup = coarse_fs / "data", tmp_path / "mirror", coarse_fs / "backup"
    backup.mkdir()
    aqm = AcquisitionAnalysisManager(data, shell=None, backend=MirrorDirectoryBackend(mirror))
    try:
        for attempt in range(5):
            while time.time() % 1 > 0.3:  # early in a second: everything below fits in it
                time.sleep(0.02)
            with aqm.acquisition(f"run{attempt}"):
                aqm.save_acquisition(x=np.array([1.0, 2.0, 3.0]))
            assert aqm.wait_backends(60)
            prefix = Path(os.fspath(aqm.current_filepath))
            h5 = prefix.with_name(prefix.name + ".h5")
            delivered = h5.stat()
            os.link(h5, backup / h5.name)
            for value in range(writes):
                DH5(h5, "a=")["x"] = np.array([7.0 + value, 8.0, 9.0])
            now = h5.stat()
            state = survey(data).acquisitions[-1].backends
            assert [s.state for s in state.values()] == ["stale"], (
                "a write after a hard link was made is not seen"
            )
            if (delivered.st_size, delivered.st_mtime_ns) == (now.st_size, now.st_mtime_ns):
                return  # the write kept size and mtime: what the test is about
        pytest.fail("never a write within the delivery's second: the test proved nothing")
    finally:
        aqm.close()
