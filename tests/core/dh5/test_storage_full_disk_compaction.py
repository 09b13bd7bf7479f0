"""A save whose compaction runs out of space: the save is complete and returns (the compaction
only logs), at every fill level where the save fits but the rewrite aside does not."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from mounts import mount_tmpfs, unmount

from labmate_core.dh5 import DH5
from labmate_core.dh5.errors import SaveFailedError


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = mount_tmpfs(tmp_path / "disk", "size=20m")
    try:
        yield mount
    finally:
        unmount(mount)


def fill(mount: Path, leave: int) -> Path:
    filler = mount / f"filler-{uuid.uuid4().hex[:6]}"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        st = os.statvfs(mount)
        size = st.f_bavail * st.f_frsize - leave
        if size > 0:
            os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)
    return filler


def test_compaction_out_of_space_only_logs(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Deleting a large key leaves free space worth a compaction; with too little room to write
    the file aside, the delete is still saved and the save returns."""
    path = small_disk / "f.h5"
    rng = np.random.default_rng(0)
    a = rng.random(5000)
    compaction_failed = 0
    for leave in range(60_000, 120_000, 4096):
        for entry in small_disk.iterdir():
            entry.unlink()
        d = DH5(path, "w")
        d["a"] = a
        d["b"] = np.zeros(20_000)
        for i in range(20):
            d[f"m{i}"] = np.arange(i + 1)
        d.save()
        d = DH5(path, "a")
        filler = fill(small_disk, leave)
        caplog.clear()
        del d["b"]
        try:
            with caplog.at_level(logging.WARNING):
                d.save()
        except SaveFailedError:  # too little room for the delete itself: nothing was written
            with h5py.File(path, "r") as file:
                assert "b" in file
            filler.unlink()
            continue
        if "Could not compact" in caplog.text:
            compaction_failed += 1
        filler.unlink()
        with h5py.File(path, "r") as file:
            assert "b" not in file
            assert np.array_equal(file["a"][()], a)
            assert sorted(file) == sorted(["a", *(f"m{i}" for i in range(20))])
        assert [p.name for p in small_disk.iterdir() if p.name.endswith(".tmp")] == []
    assert compaction_failed > 0
