"""Files are interchangeable with labmate 0.10.9 both ways; the fixtures open in ours."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from labmate_core.acquisition import AnalysisLoop
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager, AcquisitionLoop

labmate_aqm = pytest.importorskip("labmate.acquisition_notebook")


def test_labmate_reads_our_acquisition(data_dir: Path, cfg_file: Path) -> None:
    aqm = AcquisitionAnalysisManager(data_dir, config_files=[str(cfg_file)], shell=None)
    aqm.acquisition_cell("ours", cell="our cell\n")
    aqm.aq.loop = loop = AcquisitionLoop()
    for i in loop(3):
        for j in loop(2):
            loop.append(v=i + j, c=1j * i)
    values = {
        "x": np.linspace(0, 1, 11),
        "n": 7,
        "z": 1 + 2j,
        "s": "hello",
        "flag": True,
        "words": ["a", "bb"],
        "m": np.arange(6.0).reshape(2, 3),
        "nested": {"a": 1.0, "inner": {"b": np.arange(3)}},
    }
    aqm.save_acquisition(**values)
    aqm.analysis_cell(cell="aqm.analysis_cell()\nanalysis\n")
    aqm.d["fit"] = np.array([1.0, 2.0])
    prefix = aqm.current_filepath

    lm = labmate_aqm.AcquisitionAnalysisManager(str(data_dir / "elsewhere"), shell=None)
    lm.analysis_cell(prefix)
    d = lm.d
    np.testing.assert_array_equal(d.x, values["x"])
    assert d.n == 7 and d.z == 1 + 2j and d.s == "hello" and bool(d.flag)
    assert list(d.words) == ["a", "bb"]
    np.testing.assert_array_equal(d.m, values["m"])
    assert d.nested.a == 1.0 and list(d.nested.inner.b) == [0, 1, 2]
    np.testing.assert_array_equal(d.fit, [1.0, 2.0])
    assert d.acquisition_cell["1"] == "our cell\n"
    assert d.analysis_cells["default"] == "aqm.analysis_cell()\nanalysis\n"
    assert d.configs["cfg1.py"] == cfg_file.read_text()
    assert d.experiment_name == "ours" and bool(d.useful)
    assert len(d.loop) == 3
    assert [p.v for p in list(d.loop)[2]] == [2.0, 3.0]
    np.testing.assert_array_equal(d.loop.c[:, 0], [0, 1j, 2j])
    # labmate's temp.json reader accepts ours
    lm_here = labmate_aqm.AcquisitionAnalysisManager(str(data_dir), shell=None)
    assert lm_here.current_experiment_name == "ours"


def test_our_manager_reads_labmate_acquisition(data_dir: Path, cfg_file: Path) -> None:
    lm = labmate_aqm.AcquisitionAnalysisManager(
        str(data_dir), config_files=[str(cfg_file)], shell=None
    )
    lm.acquisition_cell("theirs", cell="their cell")
    lm.aq.loop = loop = labmate_aqm.AcquisitionLoop()
    for i in loop(4):
        loop.append(y=i * 1.5)
    lm.save_acquisition(x=np.arange(5.0), label="L")
    ours = AcquisitionAnalysisManager(data_dir, shell=None)
    assert ours.current_experiment_name == "theirs"
    ours.analysis_cell()
    np.testing.assert_array_equal(ours.d.x, np.arange(5.0))
    assert ours.d.label == "L" and ours.d.acquisition_cell["1"] == "their cell"
    assert isinstance(ours.d.loop, AnalysisLoop)
    assert [p.y for p in ours.d.loop] == [0.0, 1.5, 3.0, 4.5]


def _check_values(d, arrays) -> None:
    for key in arrays.files:
        np.testing.assert_array_equal(np.asarray(d[key]), arrays[key], err_msg=key)


def test_fixture_0_10_9_opens_with_same_content(fixture_copy: Path) -> None:
    base = fixture_copy / "labmate-0.10.9"
    expected = json.loads((base / "expected.json").read_text())
    arrays = np.load(base / "expected_arrays.npz")
    aqm = AcquisitionAnalysisManager(base / "data", shell=None)
    aqm.analysis_cell(os.path.basename(expected["sine"]))
    d = aqm.d
    assert d.filepath == str(base / expected["sine"])
    _check_values(d, arrays)
    assert d.acquisition_cell["1"] == expected["cell"]
    assert d.configs["cfg1.py"] == (base / "cfg1.py").read_text()
    assert (
        d.analysis_cells["named"]
        == (base / (expected["sine"] + "_ANALYSIS_CELL_named.py")).read_text()
    )
    assert d.s == "hello" and d.words == ["a", "bb", "ccc"] and d.mixed == [1, "two", 3.0]
    assert d.nested.a == 1.0 and list(d.nested.inner.b) == [0, 1, 2]
    loop = d.loop
    assert isinstance(loop, AnalysisLoop) and len(loop) == 5
    assert [p.v for p in list(loop)[1]] == [10.0, 11.0, 12.0]
    np.testing.assert_array_equal(loop[1:4:2].c[:, 1], [1 + 1j, 3 + 1j])
    assert d.experiment_name == "sine" and bool(d.useful)
    assert aqm.get_analysis_code().startswith(f"aqm.analysis_cell('{d.filepath}')")

    aqm.analysis_cell(os.path.basename(expected["steps"]))
    assert aqm.d.acquisition_cell["2"].endswith("step_two = 2\n")
    assert aqm.d.a == 1 and aqm.d.b == 2


@pytest.mark.parametrize("name", ["old_data_example", "old_data_example2"])
def test_old_format_fixtures_open(fixture_copy: Path, name: str) -> None:
    path = fixture_copy / "labmate-old" / name
    aqm = AcquisitionAnalysisManager(fixture_copy, shell=None)
    aqm.analysis_cell(str(path))
    d = aqm.d
    assert isinstance(d.analysis_cell, str) and len(d.x if "x" in d else d.x_loop.x) > 0
    assert aqm.get_analysis_code() == d.analysis_cell.replace(
        "aqm.analysis_cell()", f"aqm.analysis_cell('{d.filepath}')"
    )
    if name == "old_data_example2":
        assert isinstance(d.acquisition_cell, str)
        loop = d.x_loop
        assert len(loop) == 18 and [p.y for p in loop][:2] == [1.0, 2.25]
    else:
        assert "figures" in d
