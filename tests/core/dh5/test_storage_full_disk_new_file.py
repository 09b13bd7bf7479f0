"""A file written aside (a first save, ``overwrite=True``) on a nearly full disk: the save raises
``SaveFailedError``, never crashes the process. Through HDF5 2.0's own file driver, closing a new
file whose writes failed for lack of space is a segmentation fault: each level runs in its own
process so that a crash fails the test instead of killing pytest."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from mounts import mount_tmpfs, unmount

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from labmate_core import DH5
    from labmate_core.dh5.errors import SaveFailedError
    mount, leave, overwrite = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    for entry in os.listdir(mount):
        os.unlink(os.path.join(mount, entry))
    path = os.path.join(mount, "f.h5")
    big = np.random.default_rng(0).random(20000)
    if overwrite:
        d = DH5(path, "w"); d["b"] = big; d.save()
        before = open(path, "rb").read()
    st = os.statvfs(mount)
    fd = os.open(os.path.join(mount, "filler"), os.O_CREAT | os.O_WRONLY)
    os.posix_fallocate(fd, 0, st.f_bavail * st.f_frsize - leave)
    os.close(fd)
    d = DH5(path, "w", overwrite=True) if overwrite else DH5(path, "w")
    d["a"] = np.arange(5000.0); d["b"] = big; d["n"] = big
    try:
        d.save()
    except SaveFailedError as error:
        assert str(error).startswith("No space left on device while saving"), error
        assert open(path, "rb").read() == before if overwrite else not os.path.exists(path)
        print("failed")
    else:
        print("saved")
    os.unlink(os.path.join(mount, "filler"))
    d.save()  # still pending
    assert sorted(DH5(path).keys()) == ["a", "b", "n"]
    assert [e for e in os.listdir(mount) if e.endswith(".tmp")] == []
    """
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = mount_tmpfs(tmp_path / "disk", "size=20m")
    try:
        yield mount
    finally:
        unmount(mount)


@pytest.mark.parametrize("overwrite", [False, True])
def test_written_aside_on_a_full_disk_fails_cleanly(small_disk: Path, overwrite: bool) -> None:
    outcomes = []
    for leave in (8_000, 12_000, 20_000, 30_000, 40_000, 400_000):
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(small_disk), str(leave), str(int(overwrite))],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (leave, done.returncode, done.stderr[-2000:])
        outcomes.append(done.stdout.split()[-1])
    assert "failed" in outcomes and "saved" in outcomes, outcomes
