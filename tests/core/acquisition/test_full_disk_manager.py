"""The manager on a real full disk (a small tmpfs). A figure: the error names the file, a figure
of that name saved before is kept whole, no truncated pdf is left, the save works once space is
freed. A new acquisition: the error is the store's one line naming its file, nothing is left
behind (no file, no run marker), and it starts once space is freed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from mounts import mount_tmpfs, unmount

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402

from labmate_core.acquisition_notebook import AcquisitionAnalysisManager  # noqa: E402
from labmate_core.dh5.errors import SaveFailedError  # noqa: E402


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB tmpfs, unmounted afterwards; skipped (with the reason) where mount fails."""
    mount = mount_tmpfs(tmp_path / "disk", "size=8m")
    try:
        yield mount
    finally:
        unmount(mount)


def fill(mount: Path, leave: int) -> Path:
    """Allocate a filler file so that only ``leave`` bytes stay free."""
    filler = mount / "filler"
    st = os.statvfs(mount)
    size = st.f_bavail * st.f_frsize - leave
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        while size > 0:  # another thread (the index) may take a few pages meanwhile
            try:
                os.posix_fallocate(fd, 0, size)
                break
            except OSError:
                size -= 16384
    finally:
        os.close(fd)
    return filler


def test_a_figure_on_a_full_disk_keeps_the_previous_one(small_disk: Path) -> None:
    aqm = AcquisitionAnalysisManager(small_disk / "data", shell=None)
    with aqm.acquisition("run"):
        aqm.save_acquisition(x=np.arange(10.0))
    aqm.analysis_cell(cell="plot")
    first = plt.figure()
    plt.plot([1, 2, 3])
    aqm.save_fig(first, name="fit")
    plt.close(first)
    (pdf,) = small_disk.glob("data/**/*_FIG_fit.pdf")
    good = pdf.read_bytes()
    folder = sorted(os.listdir(pdf.parent))
    rng = np.random.default_rng(3)
    failed = 0
    for leave in (0, 2_000, 6_000, 20_000):
        filler = fill(small_disk, leave)
        big = plt.figure()
        plt.imshow(rng.random((600, 600)))
        try:
            aqm.save_fig(big, name="fit")
        except SaveFailedError as error:
            failed += 1
            message = str(error)
            assert "\n" not in message and str(pdf) in message, message
            assert pdf.read_bytes() == good, f"leave={leave}: the saved figure was damaged"
            assert sorted(os.listdir(pdf.parent)) == folder, "a partial file was left"
            filler.unlink()
            aqm.save_fig(big, name="fit")  # space freed: the same save works
            assert pdf.read_bytes() != good and pdf.read_bytes().startswith(b"%PDF")
            good = pdf.read_bytes()
        else:
            filler.unlink()
            good = pdf.read_bytes()
        finally:
            plt.close(big)
    assert failed, "no fill level made the figure fail"


def test_an_acquisition_started_on_a_full_disk(small_disk: Path) -> None:
    data = small_disk / "data"
    aqm = AcquisitionAnalysisManager(data, shell=None)
    with aqm.acquisition("first"):
        aqm.save_acquisition(x=np.arange(10.0))
    listing = sorted(str(p.relative_to(data)) for p in data.rglob("*"))
    filler = fill(small_disk, 0)
    with pytest.raises(SaveFailedError) as caught:
        with aqm.acquisition("run"):
            aqm.save_acquisition(x=np.arange(10.0))
    message = str(caught.value)
    assert "\n" not in message and "_run.h5" in message, message
    left = sorted(str(p.relative_to(data)) for p in data.rglob("*") if "run" in p.name)
    assert [name for name in left if name not in listing and not name.endswith("run")] == []
    filler.unlink()
    with aqm.acquisition("run"):
        aqm.save_acquisition(x=np.arange(10.0))
    assert list(data.glob("run/*_run*.h5"))


def test_a_run_whose_save_met_a_full_disk_is_ended_by_the_next_one(small_disk: Path) -> None:
    """Its data and its end stay pending; the next acquisition (space freed) writes them: the
    file does not stay *running* while the kernel lives on."""
    import h5py

    data = small_disk / "data"
    aqm = AcquisitionAnalysisManager(data, shell=None)
    with aqm.acquisition("first"):
        aqm.save_acquisition(x=np.arange(10.0))
    filler = fill(small_disk, 100_000)
    x = np.random.default_rng(4).random(40_000)  # 320 kB: the file is created, the save fails
    with pytest.raises(SaveFailedError):
        with aqm.acquisition("run"):
            aqm.save_acquisition(x=x)
    (stuck,) = data.glob("run/*_run.h5")
    with h5py.File(stuck, "r") as file:
        assert file["info/status"][()] == b"running" and "x" not in file
    filler.unlink()
    with aqm.acquisition("next"):
        aqm.save_acquisition(y=1.0)
    with h5py.File(stuck, "r") as file:
        assert file["info/status"][()] == b"failed"
        assert "No space left on device" in file["info/error"][()].decode()
        np.testing.assert_array_equal(file["x"][()], x)
