"""labmate 0.10.9 names that notebooks call, compared with what labmate itself does."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from labmate_core import DH5
from labmate_core.acquisition import AcquisitionLoop, AnalysisLoop
from labmate_core.acquisition.hooks import LifecycleHooks
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager

labmate_aqm = pytest.importorskip("labmate.acquisition_notebook")
labmate_acq = pytest.importorskip("labmate.acquisition")


def _fill(loop) -> None:
    for i in loop(3):
        for j in loop(2):
            loop.append(x=i * 10 + j)
        loop.append(y=i)


def test_current_filepath_has_labmates_path_helpers(tmp_path: Path) -> None:
    ours = AcquisitionAnalysisManager(tmp_path / "ours", shell=None)
    ours.acquisition_cell("sine", cell="c")
    theirs = labmate_aqm.AcquisitionAnalysisManager(str(tmp_path / "theirs"), shell=None)
    theirs.acquisition_cell("sine", cell="c")
    mine, lm = ours.current_filepath, theirs.current_filepath
    assert isinstance(mine, str) and os.fspath(mine) == mine
    assert mine.basename.endswith("__sine") and str(lm.basename).endswith("__sine")
    assert os.path.basename(mine.dirname) == os.path.basename(lm.dirname) == "sine"
    assert mine.basename == os.path.basename(mine) and mine.dirname == os.path.dirname(mine)
    assert (mine + ".h5").exists() and (lm + ".h5").exists()
    assert (mine + ".h5").basename == mine.basename + ".h5"
    assert mine.name == mine.basename and mine.parent == mine.dirname and mine.str == mine


def test_temp_data_and_paths_like_labmate(tmp_path: Path) -> None:
    aqm = AcquisitionAnalysisManager(tmp_path / "ours", shell=None)
    assert aqm.get_temp_data(aqm.temp_file_path) is None
    aqm.acquisition_cell("sine", cell="c")
    tmp = aqm.get_temp_data(aqm.temp_file_path)
    assert tmp.experiment_name == "sine"
    # labmate's own AcquisitionManager reads our temp.json and builds the same default path
    theirs = labmate_aqm.AcquisitionAnalysisManager(str(tmp_path / "ours"), shell=None)
    lm_tmp = theirs.get_temp_data(theirs.temp_file_path)
    assert (lm_tmp.experiment_name, lm_tmp.time_stamp) == (tmp.experiment_name, tmp.time_stamp)
    expected = str(theirs.create_path_from_tmp_data(lm_tmp, ignore_existence=True))
    assert aqm.create_path_from_tmp_data(tmp, ignore_existence=True) == expected
    assert aqm.create_path_from_tmp_data(lm_tmp, ignore_existence=True) == expected
    # the file exists: the next free name gets labmate's __1 (so does labmate's)
    assert aqm.create_path_from_tmp_data(tmp) == expected + "__1"
    assert str(theirs.create_path_from_tmp_data(lm_tmp)) == expected + "__1"


def test_get_acquisition_reopens_without_writing(data_dir: Path) -> None:
    aqm = AcquisitionAnalysisManager(data_dir, shell=None)
    aqm.acquisition_cell("g", cell="c")
    aqm.save_acquisition(x=1)
    before = Path(aqm.current_filepath + ".h5").read_bytes()
    other = aqm.get_acquisition()
    assert other is not aqm.aq and other.filepath == aqm.current_filepath
    assert other["x"] == 1
    assert Path(aqm.current_filepath + ".h5").read_bytes() == before
    with pytest.raises(ValueError, match="overwrite"):
        aqm.get_acquisition(replace=True)
    assert DH5(aqm.current_filepath)["x"] == 1


def test_save_cells_like_labmate(data_dir: Path) -> None:
    aqm = AcquisitionAnalysisManager(data_dir, shell=None)
    aqm.acquisition_cell("cells", cell="one")
    aqm.aq.save_cells({1: "one", 2: "two"})
    stored = DH5(aqm.current_filepath)["acquisition_cell"]
    assert (stored["1"], stored["2"]) == ("one", "two")
    # labmate's file outside our data directory: our index may be reading that one meanwhile
    theirs = str(data_dir.parent / "lm")
    lm = labmate_acq.NotebookAcquisitionData(theirs, cell="one", save_files=False)
    lm.save_cells({1: "one", 2: "two"})
    assert dict(DH5(theirs)["acquisition_cell"].items()) == {"1": "one", "2": "two"}


def test_loops_items_values_update_save_like_labmate(data_dir: Path) -> None:
    theirs = labmate_acq.AcquisitionLoop()
    _fill(theirs)
    aqm = AcquisitionAnalysisManager(data_dir, shell=None)
    aqm.acquisition_cell("loops", cell="c")
    aqm.aq.loop = ours = AcquisitionLoop()
    _fill(ours)
    assert {k for k, _ in ours.items()} == {k for k, _ in theirs.items()}
    for key, value in theirs.items():
        np.testing.assert_array_equal(dict(ours.items())[key], value)
    assert len(list(ours.values())) == len(list(theirs.values()))
    theirs.update(axis=np.arange(2))
    ours.update(axis=np.arange(2))
    ours["label"] = "sweep"
    np.testing.assert_array_equal(ours["axis"], theirs["axis"])
    assert ours.save() is ours
    d = DH5(aqm.current_filepath)["loop"]  # on disk as soon as set (save_on_edit)
    np.testing.assert_array_equal(d["axis"], [0, 1])
    assert d["label"] == "sweep"
    with pytest.raises(ValueError, match="appended"):
        ours.update(x=1)
    with pytest.raises(ValueError, match="appended"):
        ours["__loop_shape__"] = [1]

    analysis_theirs = labmate_acq.AnalysisLoop(dict(theirs.items()))
    aqm.save_acquisition()
    aqm.analysis_cell()
    analysis_ours = aqm.d.loop
    assert isinstance(analysis_ours, AnalysisLoop)
    assert {k for k, _ in analysis_ours.items()} == {k for k, _ in analysis_theirs.items()} | {
        "label"
    }
    assert dict(analysis_ours.items())["__loop_shape__"] == [3, 2]
    data, shape = analysis_ours.get_slice(slice(0, 2))
    lm_data, lm_shape = analysis_theirs.get_slice(slice(0, 2))
    assert shape == lm_shape == [2, 2]
    for key in ("x", "y"):
        np.testing.assert_array_equal(data[key], lm_data[key])
    full, full_shape = analysis_ours.get_slice()
    assert full_shape == analysis_theirs.get_slice()[1] == [3, 2]
    np.testing.assert_array_equal(full["y"], [0, 1, 2])


def test_hooks_take_labmates_keyword(data_dir: Path) -> None:
    calls: list[str] = []
    hooks = LifecycleHooks()
    hooks.set_acquisition_cell_ready(hook=lambda: calls.append("set"))
    hooks.add_acquisition_cell_ready(hook=lambda: calls.append("add"))
    hooks.set_analysis_cell_ready(hook=[lambda: calls.append("analysis")])
    hooks.add_analysis_cell_ready(hook=lambda: calls.append("analysis2"))
    aqm = AcquisitionAnalysisManager(data_dir, shell=None, hooks=hooks)
    aqm.acquisition_cell("h", cell="c")
    aqm.save_acquisition(x=1)
    aqm.analysis_cell()
    assert calls == ["set", "add", "analysis", "analysis2"]
    lm_hooks = labmate_acq.hooks.LifecycleHooks()
    lm_hooks.set_acquisition_cell_ready(hook=lambda **kw: None)  # the same keyword works in labmate
