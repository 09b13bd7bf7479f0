"""Saves on a real full disk (a small tmpfs): all or nothing, the file always readable.

Each scenario runs at many fill levels around what the save needs: a save either completes or
raises ``SaveFailedError`` with the file byte for byte as before (plain h5py opens it), the
changes still pending; once space is freed the same save succeeds.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from mounts import mount_tmpfs, unmount

from labmate_core import index as acquisition_index
from labmate_core.acquisition import AcquisitionLoop, NotebookAcquisitionData
from labmate_core.acquisition.manager import AcquisitionManager
from labmate_core.dh5 import DH5, storage
from labmate_core.dh5.errors import SaveFailedError

MB = 2**20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 20 MB tmpfs, unmounted afterwards; skipped (with the reason) where mount fails."""
    mount = mount_tmpfs(tmp_path / "disk", "size=20m")
    try:
        yield mount
    finally:
        unmount(mount)


def free_bytes(mount: Path) -> int:
    st = os.statvfs(mount)
    return st.f_bavail * st.f_frsize


def fill(mount: Path, leave: int) -> Path:
    """Allocate a filler file so that only ``leave`` bytes stay free."""
    filler = mount / f"filler-{uuid.uuid4().hex[:6]}"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        size = free_bytes(mount) - leave
        if size > 0:
            os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)
    return filler


def h5_content(path: Path) -> dict[str, object]:
    """Every dataset of ``path`` read with plain h5py (raises if the file is unreadable)."""
    out: dict[str, object] = {}
    with h5py.File(path, "r") as file:
        file.visititems(
            lambda name, obj: (
                out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None
            )
        )
    return out


def same(a: object, b: object) -> bool:
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def levels(needed: int, count: int) -> list[int]:
    """Free-space levels from none to a little more than ``needed``, in ``count`` steps."""
    return [int(x) for x in np.linspace(0, needed * 1.3, count)]


def check_failed(error: SaveFailedError, path: Path, keys: list[str]) -> None:
    message = str(error)
    assert message.startswith("No space left on device while saving")
    assert message.endswith(f"to {path}; nothing was written")
    assert "\n" not in message
    for key in keys:
        assert repr(key) in message


def test_new_keys_at_many_fill_levels(small_disk: Path) -> None:
    path = small_disk / "run.h5"
    big = np.random.default_rng(1).random(200_000)
    outcomes = []
    for leave in levels(big.nbytes, 16):
        for entry in small_disk.iterdir():
            entry.unlink()
        d = DH5(path, "w")
        d["x"] = np.arange(1000.0)
        d["s"] = "kept"
        d.save()
        before = path.read_bytes()
        filler = fill(small_disk, leave)
        d.update({"y": np.ones(10), "z": big})
        try:
            d.save()
        except SaveFailedError as error:
            check_failed(error, path, ["y", "z"])
            assert path.read_bytes() == before
            assert set(h5_content(path)) == {"x", "s"}
            outcomes.append("failed")
            filler.unlink()
            d.save()  # still pending: written once there is space
        else:
            outcomes.append("saved")
            filler.unlink()
        content = h5_content(path)
        assert same(content["z"], big) and same(content["y"], np.ones(10))
        assert same(content["x"], np.arange(1000.0))
    assert "failed" in outcomes and "saved" in outcomes, outcomes


def test_overwritten_keys_at_many_fill_levels(small_disk: Path) -> None:
    path = small_disk / "run.h5"
    rng = np.random.default_rng(2)
    old_a, old_b = rng.random(100_000), rng.random(50_000)
    new_a, new_b = rng.random(150_000), rng.random(50_000)
    outcomes = []
    for leave in levels(new_a.nbytes + new_b.nbytes, 14):
        for entry in small_disk.iterdir():
            entry.unlink()
        d = DH5(path, "w")
        d.update({"a": old_a, "b": old_b, "c": "same"})
        d.save()
        before = path.read_bytes()
        filler = fill(small_disk, leave)
        d.update({"a": new_a, "b": new_b})
        try:
            d.save()
        except SaveFailedError as error:
            check_failed(error, path, ["a", "b"])
            assert path.read_bytes() == before
            content = h5_content(path)
            assert same(content["a"], old_a) and same(content["b"], old_b)
            assert same(d["a"], new_a)  # pending in memory
            outcomes.append("failed")
            filler.unlink()
            d.save()
        else:
            outcomes.append("saved")
            filler.unlink()
        content = h5_content(path)
        assert same(content["a"], new_a) and same(content["b"], new_b)
        assert content["c"] == b"same" or content["c"] == "same"
    assert "failed" in outcomes and "saved" in outcomes, outcomes


def test_loop_appends_at_many_fill_levels(small_disk: Path) -> None:
    """Points are appended until the disk is full: every point whose append returned is in the
    file, no part of a failed one; after freeing space the pending points are written."""
    point = np.random.default_rng(3).random(20_000)
    failures = 0
    for run, leave in enumerate(levels(4 * MB, 8)):
        for entry in small_disk.iterdir():
            entry.unlink()
        prefix = str(small_disk / f"loop{run}")
        aq = NotebookAcquisitionData(prefix, cell="c", experiment_name="loop")
        aq.loop = loop = AcquisitionLoop()
        filler = fill(small_disk, leave)
        appended = 0
        failed = None
        for i in loop(1000):
            try:
                loop.append(x=point + i, i=i + 1)
            except SaveFailedError as error:
                failed = error
                break
            appended = i + 1
        if failed is None:  # pragma: no cover - the disk is far smaller than 1000 points
            pytest.fail(f"1000 points of {point.nbytes} bytes fit with {leave} bytes free")
        failures += 1
        assert "No space left on device while saving" in str(failed)
        assert "nothing was written" in str(failed)
        assert on_disk_points(prefix, point) == appended  # none of the failed append
        filler.unlink()
        loop.save()  # the point that failed is pending: written now
        assert on_disk_points(prefix, point) == appended + 1
        del loop, aq
    assert failures == 8


def on_disk_points(prefix: str, point: np.ndarray) -> int:
    """How many points the loop's file holds, each checked whole (the file read by h5py)."""
    content = h5_content(Path(prefix + ".h5"))
    if "loop/i" not in content:
        return 0
    index = np.asarray(content["loop/i"])
    done = int(np.count_nonzero(index))
    assert list(index[:done]) == list(range(1, done + 1)) and not np.any(index[done:])
    x = np.asarray(content["loop/x"])
    for j in range(done):
        assert same(x[j], point + j)
    assert not np.any(x[done:])
    return done


def test_acquisition_manager_saves_at_many_fill_levels(small_disk: Path) -> None:
    big = np.random.default_rng(4).random(250_000)
    outcomes = []
    for run, leave in enumerate(levels(big.nbytes, 12)):
        # the index of the previous round is written in the background: wait, close, then wipe
        assert acquisition_index.flush(30)
        acquisition_index.reset()
        for entry in list(small_disk.rglob("*"))[::-1]:
            entry.unlink() if not entry.is_dir() else entry.rmdir()
        aqm = AcquisitionManager(small_disk / "DATA")
        aq = aqm.new_acquisition(f"run{run}", cell="c")
        path = Path(aq.filepath if aq.filepath.endswith(".h5") else aq.filepath + ".h5")
        aqm.save_acquisition(x=np.arange(100.0))
        before = path.read_bytes()
        filler = fill(small_disk, leave)
        try:
            aqm.save_acquisition(y=big)
        except SaveFailedError as error:
            assert str(error).startswith("No space left on device while saving")
            assert "nothing was written" in str(error)
            assert path.read_bytes() == before
            assert "y" not in h5_content(path)
            outcomes.append("failed")
            filler.unlink()
            aqm.save_acquisition(y=big)
        else:
            outcomes.append("saved")
            filler.unlink()
        content = h5_content(path)
        assert same(content["y"], big) and same(content["x"], np.arange(100.0))
        aqm.close()
    assert "failed" in outcomes and "saved" in outcomes, outcomes


@pytest.mark.parametrize("durable", [False, True], ids=["default", "LABMATE_FSYNC=1"])
def test_in_place_overwrite_whose_journal_outgrows_the_reserve(
    small_disk: Path, monkeypatch: pytest.MonkeyPatch, durable: bool
) -> None:
    """Overwriting 8 MB in place needs an 8 MB journal: the disk fills up in the middle of the
    overwrite, after pages were already overwritten; each had its record first."""
    if durable:
        monkeypatch.setenv("LABMATE_FSYNC", "1")
    path = small_disk / "run.h5"
    rng = np.random.default_rng(5)
    old, new = rng.random(1_000_000), rng.random(1_000_000)
    with storage.open_write(path) as f:
        f["a"] = old
    outcomes = []
    for leave in levels(new.nbytes, 8):
        before = path.read_bytes()
        filler = fill(small_disk, leave)
        try:
            with storage.open_write(path, keys=["a"]) as f:
                f["a"][:] = new
        except SaveFailedError as error:
            check_failed(error, path, ["a"])
            assert path.read_bytes() == before
            outcomes.append("failed")
        else:
            assert same(h5_content(path)["a"], new)
            outcomes.append("saved")
            with storage.open_write(path) as f:
                f["a"][:] = old
        filler.unlink()
        assert same(h5_content(path)["a"], old)
    assert outcomes.count("failed") >= 4 and "saved" in outcomes, outcomes


def test_a_new_file_on_a_full_disk(small_disk: Path) -> None:
    path = small_disk / "new.h5"
    big = np.random.default_rng(6).random(1_000_000)
    filler = fill(small_disk, big.nbytes // 2)
    d = DH5(path, "w")
    d["z"] = big
    with pytest.raises(SaveFailedError) as failed:
        d.save()
    check_failed(failed.value, path, ["z"])
    assert not path.exists()
    assert not list(small_disk.glob("*.tmp"))
    filler.unlink()
    d.save()
    assert same(h5_content(path)["z"], big)
