"""%%analysis on a real InteractiveShell: current data, old files, figures carry the cell."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
from ext_helpers import h5_files, only_h5, run
from IPython.core.error import UsageError

from labmate_core import DH5

matplotlib.use("Agg")


@pytest.fixture
def acquired(shell, tmp_path: Path) -> Path:
    assert run(
        shell,
        "%%acquisition sine --save x y\nimport numpy as np\nx = np.linspace(0, 6, 50)\ny = np.sin(x)",
    ).success
    return h5_files(tmp_path / "data")[0]


def test_analysis_of_current_acquisition_and_figure(shell, acquired: Path, capsys) -> None:
    body = "import matplotlib.pyplot as plt\nfig = plt.figure()\nplt.plot(aqm.d.x, aqm.d.y)\nprint('peak', float(aqm.d.y.max()) > 0.9)\naqm.save_fig()\n"
    result = run(shell, "%%analysis\n" + body)
    assert result.success
    assert "peak True" in capsys.readouterr().out
    prefix = str(acquired)[: -len(".h5")]
    assert Path(prefix + "_FIG1.pdf").is_file()
    d = DH5(acquired)
    assert d["analysis_cells"]["default"] == "# %%analysis\n" + body
    assert Path(prefix + "_ANALYSIS_CELL_default.py").read_text() == "# %%analysis\n" + body
    named = "plt.figure()\nplt.plot(aqm.d.y)\naqm.save_fig(name='peak')\n"
    assert run(shell, "%%analysis --name sine\n" + named).success
    assert Path(prefix + "_FIG_peak.pdf").is_file()
    assert DH5(acquired)["analysis_cells"]["peak"] == "# %%analysis --name sine\n" + named


def test_analysis_results_can_be_added_but_data_is_locked(shell, acquired: Path) -> None:
    assert run(shell, "%%analysis\naqm.d['fit'] = 2.5").success
    assert DH5(acquired)["fit"] == 2.5
    result = run(shell, "%%analysis\naqm.d['x'] = 0")
    assert isinstance(result.error_in_exec, KeyError)  # ReadOnlyKeyError: raw data is safe
    assert len(DH5(acquired)["x"]) == 50


def test_analysis_of_an_older_file_by_name(shell, acquired: Path, tmp_path: Path) -> None:
    assert run(shell, "%%acquisition other --save z\nz = 1").success
    name = acquired.name[: -len(".h5")]
    assert run(shell, f"%%analysis {name}\nassert len(aqm.d.x) == 50").success
    assert run(shell, f"%%analysis '{acquired}'\nassert len(aqm.d.x) == 50").success
    assert run(shell, "%%analysis\nassert aqm.d.z == 1").success


def test_name_check(shell, acquired: Path) -> None:
    assert run(shell, "%%analysis --name sine\npass").success
    assert run(shell, "%%analysis --name ^si\npass").success
    result = run(shell, "%%analysis --name cosine\nran = True")
    assert isinstance(result.error_in_exec, UsageError)
    assert "cosine" in str(result.error_in_exec)
    assert "ran" not in shell.user_ns


def test_missing_file_is_one_line(shell, acquired: Path, capsys) -> None:
    result = run(shell, "%%analysis 2001_01_01__00_00_00__nothing\nran = True")
    assert isinstance(result.error_in_exec, UsageError)
    assert "nothing" in str(result.error_in_exec)
    assert "Traceback" not in capsys.readouterr().out
    assert "ran" not in shell.user_ns


def test_analysis_without_any_acquisition(shell, tmp_path: Path) -> None:
    result = run(shell, "%%analysis\nran = True")
    assert isinstance(result.error_in_exec, UsageError)
    assert "ran" not in shell.user_ns
    assert h5_files(tmp_path) == []


def test_error_in_analysis_body_fails_the_cell(shell, acquired: Path, capsys) -> None:
    result = run(shell, "%%analysis\naqm.d.nonexistent")
    assert not result.success
    assert capsys.readouterr().out.count("Traceback (most recent call last)") == 1
    # an analysis failure does not block the next analysis
    assert run(shell, "%%analysis\npass").success
    assert only_h5(acquired.parent)["useful"]


@pytest.mark.parametrize(
    "line", ["sine --step two", "sine --step 1 --save info", "sine --step 0", "sine --bad"]
)
def test_a_refused_acquisition_line_does_not_block_the_analysis(
    shell, acquired: Path, line: str
) -> None:
    result = run(shell, f"%%acquisition {line}\nx = 2")
    assert isinstance(result.error_in_exec, UsageError)
    assert run(shell, "%%analysis\nassert aqm.d.x[0] == 0").success
    assert len(h5_files(acquired.parent)) == 1


def test_a_failed_acquisition_still_blocks_the_analysis(shell, acquired: Path) -> None:
    assert not run(shell, "%%acquisition sine\nraise RuntimeError('boom')").success
    result = run(shell, "%%analysis\npass")
    assert isinstance(result.error_in_exec, UsageError)
    assert "failed" in str(result.error_in_exec)


def test_a_trailing_semicolon_hides_the_value_as_in_a_normal_cell(
    shell, acquired: Path, capsys
) -> None:
    interactivity = shell.ast_node_interactivity
    capsys.readouterr()
    assert run(shell, "%%analysis\nplt_value = 40\nplt_value + 2;").success
    assert "42" not in capsys.readouterr().out
    assert run(shell, "%%analysis\naqm.save_analysis_cell();  # as in the quickstart").success
    assert "AcquisitionAnalysisManager" not in capsys.readouterr().out
    assert run(shell, "%%acquisition quiet --save x\nx = 1\nx + 122;").success
    assert "123" not in capsys.readouterr().out
    assert shell.ast_node_interactivity == interactivity
    # without it the value is shown; a ';' in a string or a comment does not count
    assert run(shell, "%%analysis\n40 + 3").success
    assert "43" in capsys.readouterr().out
    assert run(shell, "%%analysis\n'4;4'  # ;").success
    assert "4;4" in capsys.readouterr().out
