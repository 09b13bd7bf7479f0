"""AcquisitionAnalysisManager without IPython (shell=None): layout, steps, analysis, figures."""

from __future__ import annotations

import json
import os
import types
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from labmate_core import DH5, index
from labmate_core.acquisition_notebook import (
    AcquisitionAnalysisManager,
    AcquisitionAnalysisManagerDataOnly,
    AcquisitionLoop,
    AcquisitionNotFoundError,
)
from labmate_core.dh5.errors import ReadOnlyKeyError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CELL = "aqm.acquisition_cell('sine')\nx = 1\n"


def _aqm(data_dir: Path, cfg_file: Path | None = None, **kw) -> AcquisitionAnalysisManager:
    kw.setdefault("shell", None)
    files = [str(cfg_file)] if cfg_file else None
    return AcquisitionAnalysisManager(data_dir, config_files=files, **kw)


def test_layout_on_disk(data_dir: Path, cfg_file: Path, tmp_path: Path) -> None:
    init = tmp_path / "init_analyse.py"
    init.write_text("import numpy as np\n")
    aqm = _aqm(data_dir, cfg_file, save_files=True)
    aqm.set_init_analyse_file(init)
    aqm.acquisition_cell("sine", cell=CELL)
    prefix = aqm.current_filepath
    name = os.path.basename(prefix)
    assert os.path.dirname(prefix) == str(data_dir / "sine")
    assert name.endswith("__sine") and len(name) == len("2026_11_24__16_56_38__sine")
    during = DH5(prefix)
    assert bool(during["useful"]) is False and during["info"]["status"] == "running"
    aqm.save_acquisition(x=np.arange(3), y=np.arange(3) ** 2)
    d = DH5(prefix)
    assert d["acquisition_cell"]["1"] == CELL
    assert d["configs"]["cfg1.py"] == cfg_file.read_text()
    assert d["experiment_name"] == "sine" and bool(d["useful"]) is True
    info = d["info"]
    assert info["status"] == "completed" and info["acquisition_duration"] >= 0
    assert "1:" + name in info["logs"]
    assert (data_dir / "sine" / "init_analyse.py").read_text() == "import numpy as np\n"
    assert Path(prefix + "_CELL.py").read_text() == CELL
    assert Path(prefix + "_cfg1.py").read_text() == cfg_file.read_text()
    temp = json.loads((data_dir / "temp.json").read_text())
    assert set(temp) == {"experiment_name", "time_stamp", "configs", "directory"}
    assert temp["experiment_name"] == "sine" and temp["configs"]["cfg1.py"] == cfg_file.read_text()


def test_prints_are_captured(data_dir: Path, capsys) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("p", cell="c")
    print("measured 42")
    aqm.save_acquisition(a=1)
    print("after save")
    assert "measured 42" in DH5(aqm.current_filepath)["info"]["prints"]
    assert "after save" not in DH5(aqm.current_filepath)["info"]["prints"]
    assert "measured 42" in capsys.readouterr().out


def test_analysis_of_current_acquisition_locks_old_keys(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("sine", cell=CELL)
    with pytest.raises(ValueError, match="No data set"):
        _ = aqm.d
    aqm.save_acquisition(x=np.arange(4.0))
    aqm.analysis_cell(cell="aqm.analysis_cell()\nfit")
    np.testing.assert_array_equal(aqm.d.x, np.arange(4.0))
    with pytest.raises(ReadOnlyKeyError):
        aqm.d["x"] = 5
    with pytest.raises(ValueError):
        aqm.d.x[0] = 3.0  # read-only view
    aqm.d["fit"] = np.array([1.0, 2.0])
    assert list(DH5(aqm.current_filepath)["fit"]) == [1.0, 2.0]
    assert DH5(aqm.current_filepath)["analysis_cells"]["default"] == "aqm.analysis_cell()\nfit"
    with pytest.raises(ValueError):
        aqm["y"] = 1  # acquisition data cannot be written from an analysis


def test_save_acquisition_update_false_keeps_existing(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("u", cell="c")
    aqm["a"] = 1
    aqm.save_acquisition(False, a=2, b=3)
    d = DH5(aqm.current_filepath)
    assert d["a"] == 1 and d["b"] == 3


def test_acquisition_name_check(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("rabi_2", cell="c")
    aqm.save_acquisition(x=1)
    aqm.analysis_cell(acquisition_name="rabi_2")
    aqm.analysis_cell(acquisition_name=r"^rabi_\d")
    with pytest.raises(ValueError, match="isn't the one expected"):
        aqm.analysis_cell(acquisition_name="rabi")
    with pytest.raises(ValueError):
        aqm.analysis_cell(acquisition_name=r"^ramsey")
    with pytest.raises(ValueError):
        aqm.analysis_cell(acquisition_name="")


def test_multi_step_acquisition(data_dir: Path, cfg_file: Path) -> None:
    aqm = _aqm(data_dir, cfg_file, save_files=True)
    aqm.acquisition_cell("steps", cell="step one")
    aqm.save_acquisition(a=1)
    first = aqm.current_filepath
    with pytest.raises(ValueError, match="isn't the one expected"):
        aqm.acquisition_cell("other", cell="x", step=2)
    aqm.acquisition_cell("steps", cell="step two", step=2)
    aqm.save_acquisition(b=2)
    assert aqm.current_filepath == first
    with pytest.raises(ValueError, match="already run"):
        aqm.acquisition_cell("steps", cell="x", step=2)
    d = DH5(first)
    assert d["acquisition_cell"]["1"] == "step one" and d["acquisition_cell"]["2"] == "step two"
    assert d["a"] == 1 and d["b"] == 2 and d["info"]["status"] == "completed"
    assert Path(first + "_CELL.py").read_text() == "step two"
    cfg_file.write_text(cfg_file.read_text() + "new = 1\n")
    os.utime(cfg_file, ns=(1, 1))
    with pytest.raises(ValueError, match="modified"):
        aqm.acquisition_cell("steps", cell="x", step=3)


def test_step_requires_step_one(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    with pytest.raises(ValueError, match="step 1"):
        aqm.acquisition_cell("s", cell="x", step=2)


def test_config_evaluation_module_annotates_snapshot(data_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "conf.py"
    cfg.write_text("a = 2\nb = a * 3\nname = 'x'\n")
    aqm = _aqm(data_dir, cfg)
    with pytest.raises(ValueError):
        aqm.set_config_evaluation_module(tmp_path / "other.py", types.SimpleNamespace())
    aqm.set_config_evaluation_module(str(cfg), types.SimpleNamespace(a=2, b=6, name="x"))
    aqm.acquisition_cell("e", cell="c")
    aqm.save_acquisition()
    saved = DH5(aqm.current_filepath)["configs"]["conf.py"]
    assert saved.split("\n")[1] == "b = a * 3  # value: 6"
    aqm.set_default_config_files("conf.py")
    aqm.analysis_cell()
    assert aqm.cfg.b == 6 and aqm.parse_config_file("conf").a == 2
    assert aqm.parse_config_str(["a", "b,V"]) == "a = 2; b = 6 (V)"


def test_missing_config_file_refused(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        _aqm(data_dir, tmp_path / "missing.py")


def test_env_fallbacks(monkeypatch, data_dir: Path, cfg_file: Path) -> None:
    monkeypatch.setenv("ACQUISITION_DIR", str(data_dir))
    monkeypatch.setenv("ACQUISITION_CONFIG_FILES", f"{cfg_file}")
    aqm = AcquisitionAnalysisManager(shell=None)
    assert aqm.data_directory == data_dir and aqm.config_files == [str(cfg_file)]
    monkeypatch.delenv("ACQUISITION_DIR")
    with pytest.raises(ValueError, match="data directory"):
        AcquisitionAnalysisManager(shell=None)


def test_restart_from_temp_json_does_not_rewrite(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("r", cell="c")
    aqm.save_acquisition(x=np.arange(3))
    prefix = aqm.current_filepath
    before = (os.stat(prefix + ".h5").st_mtime_ns, Path(prefix + ".h5").read_bytes())
    again = _aqm(data_dir)  # a new kernel
    assert again.current_filepath == prefix and again.current_experiment_name == "r"
    again.analysis_cell()
    np.testing.assert_array_equal(again.d.x, np.arange(3))
    assert again.aq.filepath == prefix and again.aq["experiment_name"] == "r"
    after = (os.stat(prefix + ".h5").st_mtime_ns, Path(prefix + ".h5").read_bytes())
    assert after == before
    assert bool(DH5(prefix)["useful"]) is True


def test_restart_keeps_a_suffixed_file(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    for attempt in range(20):  # two acquisitions in the same second (a second may tick between)
        prefixes = []
        for _ in range(2):  # a new name each attempt: the first of the pair has no suffix yet
            aqm.acquisition_cell(f"same{attempt}", cell="c")
            aqm.save_acquisition(v=len(prefixes))
            prefixes.append(aqm.current_filepath)
        if prefixes[1] == prefixes[0] + "__1":
            break
    assert prefixes[1] == prefixes[0] + "__1", prefixes
    again = _aqm(data_dir)
    assert again.current_filepath == prefixes[1]
    again.analysis_cell()
    assert again.d.v == 1


def test_old_data_by_bare_name_and_path(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("old", cell="c")
    aqm.save_acquisition(x=5)
    prefix = aqm.current_filepath
    aqm.acquisition_cell("newer", cell="c")
    aqm.save_acquisition(x=6)
    aqm.analysis_cell(os.path.basename(prefix))
    assert aqm.d.x == 5 and aqm.current_acquisition is None
    aqm.analysis_cell(prefix + ".h5")
    assert aqm.d.x == 5
    aqm.analysis_cell(filepath=prefix)
    assert aqm.d.x == 5
    with pytest.raises(AcquisitionNotFoundError):
        aqm.analysis_cell("2020_01_01__00_00_00__nothing")
    with pytest.raises(ValueError):  # labmate raised ValueError: still caught by such code
        aqm.analysis_cell("2020_01_01__00_00_00__nothing")
    aqm.analysis_cell()
    assert aqm.d.x == 6 and aqm.current_acquisition is not None


def test_old_data_warning_in_notebook(data_dir: Path, caplog) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    aqm = _aqm(data_dir, shell=InteractiveShell.instance())
    aqm.acquisition_cell("w", cell="c")
    aqm.save_acquisition(x=1)
    with caplog.at_level("WARNING"):
        aqm.analysis_cell(aqm.current_filepath)
    assert "Old data analysis" in caplog.text


def test_save_fig_names_cells_and_metadata(data_dir: Path) -> None:
    aqm = _aqm(data_dir, save_files=True)
    aqm.acquisition_cell("fig", cell="c")
    aqm.save_acquisition(x=np.arange(3))
    aqm.analysis_cell(cell="aqm.analysis_cell()\nplt.plot(aqm.d.x)")
    fig = plt.figure()
    plt.plot([1, 2])
    aqm.save_fig()
    aqm.save_fig()
    aqm.save_fig(123)
    aqm.save_fig("named", metadata={"Subject": {"freq": 1}, "Keywords": "k"})
    aqm.save_fig(fig, name="png_one.png")
    with pytest.raises(ValueError):
        aqm.save_fig("../escape")
    with pytest.raises(ValueError, match="pdf"):
        aqm.save_fig("x.png", metadata={"Subject": "s"})
    plt.close(fig)
    prefix = aqm.current_filepath
    for suffix in ("_FIG1.pdf", "_FIG2.pdf", "_FIG123.pdf", "_FIG_named.pdf", "_FIG_png_one.png"):
        assert os.path.exists(prefix + suffix), suffix
    assert b"freq" in Path(prefix + "_FIG_named.pdf").read_bytes()
    cells = DH5(prefix)["analysis_cells"]
    assert {"default", "123", "named", "png_one.png"} <= set(cells.keys())
    assert Path(prefix + "_ANALYSIS_CELL_named.py").read_text().startswith("aqm.analysis_cell()")
    code = aqm.get_analysis_code()
    assert code.startswith(f"aqm.analysis_cell('{prefix}')")


def test_get_analysis_code_sets_next_input(data_dir: Path) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    aqm = _aqm(data_dir, shell=shell)
    aqm.acquisition_cell("g", cell="c")
    aqm.save_acquisition(x=1)
    aqm.analysis_cell(cell="aqm.analysis_cell()\nprint(1)")
    captured = []
    shell.set_next_input = lambda text, replace=False: captured.append(text)  # type: ignore[method-assign]
    try:
        code = aqm.get_analysis_code()
    finally:
        del shell.set_next_input
    assert captured == [code]


def test_tight_layout_called_unless_disabled(data_dir: Path) -> None:
    class Fig:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def tight_layout(self) -> None:
            self.calls.append("tight")

        def savefig(self, fname, **kw) -> None:
            self.calls.append(os.path.basename(str(fname)))
            Path(fname).write_text("fig")

    aqm = _aqm(data_dir)
    aqm.acquisition_cell("t", cell="c")
    aqm.save_acquisition(x=1)
    aqm.analysis_cell(cell="a")
    fig = Fig()
    aqm.save_fig(fig)
    aqm.save_fig(fig, tight_layout=False)
    assert fig.calls[0] == "tight" and fig.calls[2] != "tight"


def test_hooks_and_prerun(data_dir: Path) -> None:
    calls: list[str] = []
    aqm = _aqm(data_dir)
    aqm.set_acquisition_cell_prerun_hook(lambda: calls.append("acq-hook"))
    aqm.set_analysis_cell_prerun_hook([lambda: calls.append("ana-hook")])
    aqm.hooks.add_acquisition_saved(lambda acq: calls.append("saved"))
    aqm.acquisition_cell("h", cell="c", prerun=lambda: calls.append("acq-prerun"))
    aqm.save_acquisition(x=1)
    aqm.analysis_cell(prerun=[lambda: calls.append("ana-prerun")])
    assert calls == ["acq-hook", "acq-prerun", "saved", "ana-hook", "ana-prerun"]


def test_linting_warns_about_external_variables(data_dir: Path, tmp_path: Path, caplog) -> None:
    init = tmp_path / "init.py"
    init.write_text("import numpy as np\n")
    aqm = _aqm(data_dir)
    aqm.linting(allowed_variables=["aqm", "plt"], init_file=str(init))
    aqm.acquisition_cell("l", cell="c")
    aqm.save_acquisition(x=1)
    with caplog.at_level("WARNING"):
        aqm.analysis_cell(cell="aqm.analysis_cell()\ny = np.sin(aqm.d.x) + secret\n")
    assert "secret" in caplog.text and "np" not in caplog.text.replace("numpy", "")


def test_create_acquisition_and_load_file(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("main", cell="c")
    extra = aqm.create_acquisition()
    extra["v"] = 3
    assert os.path.basename(os.path.dirname(extra.filepath)) == "main_item"
    assert aqm.load_file(extra.filepath).v == 3
    assert aqm.current_experiment_name == "main"


def test_status_and_context_manager(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    with pytest.raises(RuntimeError, match="boom"):
        with aqm.acquisition("ctx", cell="c"):
            aqm.save_acquisition(x=1)
            raise RuntimeError("boom")
    d = DH5(aqm.current_filepath)
    assert d["info"]["status"] == "failed" and "RuntimeError: boom" in d["info"]["error"]
    assert d["x"] == 1
    with pytest.raises(ChildProcessError):
        aqm.analysis_cell()
    aqm.analysis_cell(aqm.current_filepath)  # old-data path is allowed
    with aqm.acquisition("ok", cell="c") as aq:
        aq["y"] = 2
    d = DH5(aqm.current_filepath)
    assert d["info"]["status"] == "completed" and "error" not in d["info"]
    aqm.acquisition_started("api", cell="c")
    aqm.acquisition_finished(KeyError("k"))
    aqm.acquisition_finished(None)  # second call ignored
    assert DH5(aqm.current_filepath)["info"]["status"] == "failed"


def test_data_only(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("do", cell="c")
    aqm.save_acquisition(x=1)
    only = AcquisitionAnalysisManagerDataOnly(data_dir, shell=None)
    only.analysis_cell(aqm.current_filepath)
    assert only.d.x == 1 and only.current_acquisition is None and only.current_analysis is only.data


def test_acquisition_loop_in_acquisition(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("loop", cell="c")
    aqm.aq.loop = loop = AcquisitionLoop()
    for i in loop(3):
        for j in loop(2):
            loop.append(v=i * 10 + j)
    aqm.save_acquisition()
    aqm.analysis_cell()
    assert len(aqm.d.loop) == 3
    assert [p.v for p in list(aqm.d.loop)[1]] == [10.0, 11.0]
    np.testing.assert_array_equal(aqm.d.loop[::2].v, [[0, 1], [20, 21]])


def test_no_data_directory_side_effect_when_reading(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("ro", cell="c")
    aqm.save_acquisition(x=np.arange(3))
    prefix = aqm.current_filepath
    index.flush()  # the writer's index records (the first ones are written in the background)
    snapshot = {p: p.stat().st_mtime_ns for p in data_dir.rglob("*") if p.is_file()}
    reader = _aqm(data_dir)
    reader.analysis_cell(os.path.basename(prefix))
    _ = reader.d.x, reader.d.keys()
    reader.analysis_cell()
    after = {
        p: p.stat().st_mtime_ns
        for p in data_dir.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }
    assert after == {p: t for p, t in snapshot.items() if not p.name.startswith(".")}


def test_config_helpers_without_frontend(data_dir: Path, cfg_file: Path, caplog) -> None:
    aqm = _aqm(data_dir, cfg_file)
    aqm.set_default_config_files(["cfg1.py"])
    aqm.acquisition_cell("cfg", cell="c")
    aqm.save_acquisition(x=1)
    aqm.analysis_cell()
    assert aqm.find_param_in_config("power") == ("cfg1.py", 3)
    assert aqm.find_param_in_config("nothing") is None
    with caplog.at_level("INFO"):
        aqm.display_param_link(["freq", ("power", "dBm")], title="links")
        aqm.display_param_link("n_points", "after")
        aqm.display_cfg_link({"freq": 2e9, "unknown": 1}, update_button=True)
    assert "unknown" in caplog.text
    with pytest.raises(ValueError):
        aqm.display_param_link(["a", "b"], after_text="x")
    aqm.update_config_params_on_disk({"n_points": 51, "label": "new"})
    text = cfg_file.read_text()
    assert "n_points = 51" in text and "label = 'new'" in text and "power = -20  # dBm" in text
