"""Backends wired into the manager: a mirror gets every saved acquisition and hydrates."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
from acquisition_files import lost_acquisition

from labmate_core.acquisition import AcquisitionBackend, AcquisitionManager
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.backends.mirror import MirrorDirectoryBackend

matplotlib.use("Agg")


def test_mirror_receives_acquisition_figure_and_cells(data_dir: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    aqm = AcquisitionAnalysisManager(
        data_dir, shell=None, save_files=True, backend=MirrorDirectoryBackend(mirror)
    )
    assert len(aqm.backends) == 1
    aqm.acquisition_cell("m", cell="c")
    aqm.save_acquisition(x=np.arange(3))
    aqm.analysis_cell(cell="aqm.analysis_cell()")
    import matplotlib.pyplot as plt

    plt.plot([1, 2])
    aqm.save_fig()
    assert aqm.wait_backends(timeout=60)
    name = os.path.basename(aqm.current_filepath)
    copied = {p.name for p in (mirror / "m").iterdir()}
    assert {
        f"{name}.h5",
        f"{name}_CELL.py",
        f"{name}_FIG1.pdf",
        f"{name}_ANALYSIS_CELL_default.py",
    } <= copied
    assert aqm.backend_status() is not None


def test_analysis_results_saved_in_any_cell_reach_the_mirror(data_dir: Path, tmp_path: Path):
    """A fit saved with aqm.d[...] in a plain cell after the analysis cell is not lost."""
    from labmate_core import DH5

    mirror = tmp_path / "mirror"
    aqm = AcquisitionAnalysisManager(data_dir, shell=None, backend=MirrorDirectoryBackend(mirror))
    aqm.acquisition_cell("s", cell="c")
    aqm.save_acquisition(x=1)
    aqm.analysis_cell(cell="aqm.analysis_cell()")
    assert aqm.wait_backends(timeout=60)
    aqm.d["fit2"] = 43.0  # a later cell
    assert aqm.wait_backends(timeout=60)
    copy = mirror / "s" / (os.path.basename(aqm.current_filepath) + ".h5")
    assert DH5(copy)["fit2"] == 43.0
    (status,) = aqm.backend_status(aqm.current_filepath).values()
    assert status.state.value == "done"


def test_missing_file_is_loaded_from_backend(data_dir: Path, tmp_path: Path) -> None:
    aqm, prefix = lost_acquisition(data_dir, [MirrorDirectoryBackend(tmp_path / "mirror")], "gone")
    aqm.analysis_cell(os.path.basename(prefix))
    np.testing.assert_array_equal(aqm.d.x, np.arange(4))


class Recording(AcquisitionBackend):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def save_snapshot(self, acquisition) -> None:
        self.seen.append(os.fspath(acquisition.filepath))


def test_add_remove_backend_on_plain_manager(data_dir: Path) -> None:
    aqm = AcquisitionManager(data_dir)
    assert aqm.backends == {} and aqm.wait_backends(1)
    rec = Recording()
    name = aqm.add_backend(rec, name="rec")
    aqm.new_acquisition("p", cell="c")
    aqm.save_acquisition(x=1)
    assert aqm.wait_backends(timeout=60)
    assert rec.seen and rec.seen[-1].endswith(os.path.basename(aqm.current_filepath))
    aqm.remove_backend(name)
    assert aqm.backends == {}
