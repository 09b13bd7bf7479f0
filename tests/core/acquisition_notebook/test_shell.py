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


@pytest.fixture
def aqm(shell, data_dir: Path) -> AcquisitionAnalysisManager:
    """A manager on the real shell, bound to ``aqm`` for the cells."""
    manager = AcquisitionAnalysisManager(data_dir, shell=True)
    shell.user_ns["aqm"] = manager
    return manager


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


@pytest.mark.parametrize(
    "code",
    [
        "with aqm.acquisition('ctx'):\n    aqm['partial'] = 1\n    raise ValueError('oops')\n",
        "aqm.acquisition_started('api')\naqm['partial'] = 1\n"
        "try:\n    raise ValueError('oops')\nexcept ValueError as e:\n"
        "    aqm.acquisition_finished(e)\n    raise\n",
    ],
)
def test_failed_context_manager_acquisition_guards_analysis(
    shell, aqm: AcquisitionAnalysisManager, code: str
) -> None:
    result = _run(shell, code)
    assert isinstance(result.error_in_exec, ValueError)
    d = DH5(aqm.current_filepath)
    assert d["partial"] == 1 and d["info"]["status"] == "failed"
    failed = _run(shell, "aqm.analysis_cell()")
    assert isinstance(failed.error_in_exec, ChildProcessError)
    assert _run(shell, "aqm.analysis_cell()").success
    assert aqm.d.partial == 1


def test_caught_failure_of_a_context_manager_acquisition_still_guards(
    shell, aqm: AcquisitionAnalysisManager
) -> None:
    """The cell succeeds (the error is caught) but the acquisition failed: the flag survives
    the end of that cell, so the next analysis is refused."""
    code = "try:\n    with aqm.acquisition('ctx'):\n        1 / 0\nexcept ZeroDivisionError:\n    pass\n"
    assert _run(shell, code).success
    assert DH5(aqm.current_filepath)["info"]["status"] == "failed"
    assert isinstance(_run(shell, "aqm.analysis_cell()").error_in_exec, ChildProcessError)


def test_failed_analysis_cell_that_saves_is_not_a_failed_acquisition(shell, aqm: AcquisitionAnalysisManager) -> None:
    assert _run(shell, "aqm.acquisition_cell('ok')\naqm.save_acquisition(x=1)").success
    assert not _run(shell, "aqm.create_acquisition()\nraise ValueError('analysis bug')").success
    assert _run(shell, "aqm.analysis_cell()").success


def test_cell_with_only_acquisition_cell_stays_running_until_saved(shell, aqm: AcquisitionAnalysisManager) -> None:
    """labmate's pattern: ``acquisition_cell`` alone, the measurement and the save in the next
    cells: the end of the first cell does not claim the acquisition completed."""
    assert _run(shell, "aqm.acquisition_cell('split')").success
    prefix = aqm.current_filepath
    d = DH5(prefix)
    assert d["info"]["status"] == "running" and bool(d["useful"]) is False
    assert _run(shell, "print('measuring')\nx = [1, 2]").success
    assert _run(shell, "aqm.save_acquisition(x=x)").success
    d = DH5(prefix)
    assert d["info"]["status"] == "completed" and bool(d["useful"]) is True
    assert "measuring" in d["info"]["prints"]
    assert _run(shell, "aqm.analysis_cell()\ny = aqm.d.x").success
    # a cell that wrote data without save_acquisition ends completed (and useful)
    assert _run(shell, "aqm.acquisition_cell('edited')\naqm['v'] = 3").success
    d = DH5(aqm.current_filepath)
    assert d["info"]["status"] == "completed" and bool(d["useful"]) is True


def test_extra_file_of_a_kept_open_acquisition_stays_running_and_its_save_completes_it(
    shell, aqm: AcquisitionAnalysisManager
) -> None:
    assert _run(
        shell, "aqm.acquisition_cell('main')\nitem = aqm.create_acquisition('item')"
    ).success
    item = shell.user_ns["item"]
    info = DH5(item.filepath)["info"]
    assert info["status"] == "running" and "error" not in info
    assert _run(shell, "item.save_acquisition(y=2)\naqm.save_acquisition(x=1)").success
    d = DH5(item.filepath)
    assert d["info"]["status"] == "completed" and "error" not in d["info"]
    assert bool(d["useful"]) is True and d["y"] == 2
    assert DH5(aqm.current_filepath)["info"]["status"] == "completed"


def test_extras_of_a_kept_open_acquisition_end_when_it_is_saved(shell, aqm: AcquisitionAnalysisManager) -> None:
    """Not left running until some later acquisition (or forever, after a restart); one still
    empty at that save ends completed, not "never saved": data may follow."""
    cell = "aqm.acquisition_cell('main')\nitem = aqm.create_acquisition('item')\n"
    assert _run(shell, cell + "late = aqm.create_acquisition('late')").success
    item, late = shell.user_ns["item"], shell.user_ns["late"]
    assert _run(shell, "item['y'] = 2\naqm.save_acquisition(x=1)\nlate['w'] = 3").success
    d = DH5(item.filepath)
    assert d["info"]["status"] == "completed" and d["y"] == 2 and bool(d["useful"])
    d = DH5(late.filepath)
    assert d["info"]["status"] == "completed" and "error" not in d["info"] and d["w"] == 3


@pytest.mark.parametrize(
    "failing",
    [
        "data = {'k': 1}\nprint(data['missing'])  # plot the acquisition (x vs y)",
        "msg = 'call aqm.acquisition_cell(name) first'\nraise KeyError(msg)",
        "def acquisition(n):\n    raise KeyError(n)\nacquisition (1)",
        '"""aqm.acquisition("x")"""\nraise KeyError(1)',
    ],
)
def test_failed_cell_that_only_mentions_an_acquisition_does_not_guard_analysis(
    shell, aqm: AcquisitionAnalysisManager, failing: str
) -> None:
    assert _run(shell, "aqm.acquisition_cell('a')\naqm.save_acquisition(x=1)").success
    assert not _run(shell, failing).success
    assert _run(shell, "aqm.analysis_cell()\nassert aqm.d.x == 1").success


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("aqm.acquisition_cell('a')", True),
        ("%%acquisition a\nx = 1", True),
        ("x = 1\nwith aqm.acquisition('a'):\n    pass", True),
        ("%time aqm.acquisition_started ('a')", True),
        ("aqm.acquisition_cell('a'\n", True),  # does not parse: what came before counts
        ("aqm.save_acquisition(x=1)\naqm.create_acquisition()", False),
        ("acquisition_cell('a')  # not a method", False),
        ("print('aqm.acquisition(1)')  # aqm.acquisition_cell(", False),
    ],
)
def test_runs_acquisition_sees_only_real_calls(cell: str, expected: bool) -> None:
    from labmate_core.acquisition_notebook.shell import runs_acquisition

    assert runs_acquisition(cell) is expected


def test_the_shell_can_be_replaced_as_in_labmate(tmp_path):
    """``aqm.shell = other`` (labmate code does it): the new shell's cells are followed."""
    import gc

    from IPython.core.interactiveshell import InteractiveShell

    from labmate_core.acquisition_notebook import AcquisitionAnalysisManager

    shell = InteractiveShell.instance()
    gc.collect()
    shell.run_cell("pass")  # callbacks of managers of earlier tests, gone, unregister now
    before = len(shell.events.callbacks["pre_run_cell"])
    aqm = AcquisitionAnalysisManager(tmp_path / "data", shell=None)
    aqm.shell = shell
    assert aqm.shell is shell
    assert len(shell.events.callbacks["pre_run_cell"]) == before + 1  # followed
    shell.run_cell("x = 1  # a plain cell")
    aqm.shell = None
    assert aqm.shell is None
    assert len(shell.events.callbacks["pre_run_cell"]) == before  # no longer followed
