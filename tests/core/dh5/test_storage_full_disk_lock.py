"""A full disk met before the save itself: the file's lock file must be created (a file written
by plain h5py has none yet) and its write generation written. The error is the store's one line
naming the file and the keys, nothing is written, and the save works once space is freed."""

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


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MB tmpfs with few inodes, unmounted afterwards; skipped (with the reason) where
    mount fails."""
    mount = mount_tmpfs(tmp_path / "disk", "size=4m,nr_inodes=8")
    try:
        yield mount
    finally:
        unmount(mount)


def _fill(mount: Path) -> Path:
    filler = mount / "filler"
    st = os.statvfs(mount)
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.posix_fallocate(fd, 0, st.f_bavail * st.f_frsize)
    finally:
        os.close(fd)
    return filler


def _use_up_inodes(mount: Path) -> list[Path]:
    made = []
    for i in range(100):
        try:
            (mount / f"inode{i}").touch()
        except OSError:
            break
        made.append(mount / f"inode{i}")
    return made


@pytest.mark.parametrize("shortage", ["space", "inodes"])
def test_a_full_disk_before_the_save_names_the_file(tiny_disk: Path, shortage: str) -> None:
    path = tiny_disk / "plain.h5"
    with h5py.File(path, "w") as file:
        file["x"] = np.arange(10.0)
    before = path.read_bytes()
    made = _fill(tiny_disk) if shortage == "space" else None
    spare = _use_up_inodes(tiny_disk)
    if shortage == "space":
        for extra in spare:  # only space is short
            extra.unlink()
    d = DH5(path, "a=", open_on_init=False)
    with pytest.raises(SaveFailedError) as caught:
        d["y"] = 1.5
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "'y'" in message, message
    assert path.read_bytes() == before
    if made is not None:
        made.unlink()
    for extra in spare:
        extra.unlink(missing_ok=True)
    d.save()  # the change stayed pending: saved once space is freed
    with h5py.File(path, "r") as file:
        assert file["y"][()] == 1.5
        np.testing.assert_array_equal(file["x"][()], np.arange(10.0))
