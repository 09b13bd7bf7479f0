"""With a real IPython InteractiveShell: cell capture, failed-acquisition guard, status."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from labmate_core import DH5
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager


@pytest.fixture
def shell():
    sh = InteractiveShell.instance()
    yield sh
    sh.reset()


def _run(shell: InteractiveShell, code: str):
    return shell.run_cell(code, store_history=True)


def test_cell_text_comes_from_the_shell(shell, data_dir: Path) -> None:
    shell.user_ns["DATA"] = str(data_dir)
    assert _run(
        shell,
        "from labmate_core.acquisition_notebook import AcquisitionAnalysisManager\n"
        "aqm = AcquisitionAnalysisManager(DATA)",
    ).success
    cell = "aqm.acquisition_cell('sh')\nimport numpy as np\naqm.save_acquisition(x=np.arange(3))\n"
    assert _run(shell, cell).success
    aqm = shell.user_ns["aqm"]
    assert aqm.shell is shell
    d = DH5(aqm.current_filepath)
    assert d["acquisition_cell"]["1"] == cell
    assert d["info"]["status"] == "completed"
    analysis = "aqm.analysis_cell()\ny = aqm.d.x * 2\naqm.save_analysis_cell()\n"
    assert _run(shell, analysis).success
    assert DH5(aqm.current_filepath)["analysis_cells"]["default"] == analysis


def test_failed_acquisition_cell_is_recorded_and_guards_analysis(shell, data_dir: Path) -> None:
    aqm = AcquisitionAnalysisManager(data_dir, shell=True)
    assert aqm.shell is shell
    shell.user_ns["aqm"] = aqm
    result = _run(
        shell, "aqm.acquisition_cell('bad')\naqm['partial'] = 1\nraise ValueError('oops')\n"
    )
    assert not result.success
    d = DH5(aqm.current_filepath)
    assert d["partial"] == 1 and d["info"]["status"] == "failed"
    assert "ValueError: oops" in d["info"]["error"]
    failed = _run(shell, "aqm.analysis_cell()")
    assert isinstance(failed.error_in_exec, ChildProcessError)
    # the cell after is no longer "right after a failed acquisition"
    assert _run(shell, "aqm.analysis_cell()").success
    assert aqm.d.partial == 1


def test_shell_none_ignores_running_ipython(shell, data_dir: Path) -> None:
    aqm = AcquisitionAnalysisManager(data_dir, shell=None)
    assert aqm.shell is None
    aqm.acquisition_cell("n", cell="explicit")
    aqm.save_acquisition(x=1)
    assert DH5(aqm.current_filepath)["acquisition_cell"]["1"] == "explicit"
