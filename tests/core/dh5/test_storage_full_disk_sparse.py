"""A file with a hole (a dataset allocated early and never written, as plain h5py can make)
saved to on a nearly full disk: the failed save's rollback does not write back pages it never
overwrote (zeros into the hole would need the space the disk lacks), so the save raises
``SaveFailedError`` with the file as before, and succeeds once space is freed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from mounts import mount_tmpfs, unmount

from labmate_core.dh5 import DH5
from labmate_core.dh5.errors import SaveFailedError

MB = 2**20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = mount_tmpfs(tmp_path / "disk", "size=20m")
    try:
        yield mount
    finally:
        unmount(mount)


def sparse_file(path: Path) -> None:
    with h5py.File(path, "w") as file:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
        space = h5py.h5s.create_simple((1_000_000,))
        h5py.h5d.create(file.id, b"x", h5py.h5t.NATIVE_DOUBLE, space, dcpl=dcpl)
        file["y"] = np.arange(10)
    st = os.stat(path)
    assert st.st_blocks * 512 < st.st_size  # a hole


def test_failed_save_into_a_hole_rolls_back_on_a_full_disk(small_disk: Path) -> None:
    path = small_disk / "s.h5"
    for leave in (64 * 1024, 1 * MB, 3 * MB):
        for entry in small_disk.iterdir():
            entry.unlink()
        sparse_file(path)
        d = DH5(path, "a")
        d["y"] = np.arange(11)
        d.save()  # the lock file and its journal space exist
        before = path.read_bytes()
        filler = small_disk / "filler"
        fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o644)
        st = os.statvfs(small_disk)
        os.posix_fallocate(fd, 0, st.f_bavail * st.f_frsize - leave)
        os.close(fd)
        d = DH5(path, "a")
        del d["x"]
        d["z"] = np.ones(1_000_000)  # into x's space: the hole
        with pytest.raises(SaveFailedError, match="No space left on device while saving"):
            d.save()
        assert path.read_bytes() == before
        filler.unlink()
        d.save()  # still pending
        with h5py.File(path, "r") as file:
            assert sorted(file) == ["y", "z"]
            assert np.array_equal(file["z"][()], np.ones(1_000_000))
