"""Every transition of the acquisition lifecycle (docs/architecture.md, "The lifecycle of an
acquisition"), through a real manager and the file it writes; refused moves raise."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from labmate_core import DH5
from labmate_core.acquisition.lifecycle import TRANSITIONS, Event, Lifecycle, Phase
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager


def _status(aqm: AcquisitionAnalysisManager) -> str:
    return DH5(aqm.current_filepath)["info"]["status"]


@pytest.fixture
def plain(data_dir: Path) -> AcquisitionAnalysisManager:
    return AcquisitionAnalysisManager(data_dir, shell=None)


@pytest.fixture
def shell():
    sh = InteractiveShell.instance()
    yield sh
    sh.reset()


@pytest.fixture
def in_shell(shell, data_dir: Path) -> AcquisitionAnalysisManager:
    manager = AcquisitionAnalysisManager(data_dir, shell=True)
    shell.user_ns["aqm"] = manager
    yield manager
    manager.detach_shell()


def test_idle_start_reported_by_the_caller_is_running(plain) -> None:
    assert plain.lifecycle.phase is Phase.IDLE
    plain.acquisition_started("a", cell="c")
    assert plain.lifecycle.phase is Phase.RUNNING and _status(plain) == "running"


def test_start_reported_by_nobody_is_open(plain) -> None:
    plain.acquisition_cell("a", cell="c")
    assert plain.lifecycle.phase is Phase.OPEN and _status(plain) == "running"


def test_save_while_running_keeps_the_file_running(plain) -> None:
    plain.acquisition_started("a", cell="c")
    plain.save_acquisition(x=1)
    assert plain.lifecycle.phase is Phase.RUNNING and _status(plain) == "running"
    assert DH5(plain.current_filepath)["x"] == 1


def test_running_completes_at_its_end(plain) -> None:
    plain.acquisition_started("a", cell="c")
    plain.save_acquisition(x=1)
    plain.acquisition_finished(None)
    assert plain.lifecycle.phase is Phase.COMPLETED and _status(plain) == "completed"


def test_running_fails_with_an_error(plain) -> None:
    plain.acquisition_started("a", cell="c")
    plain.acquisition_finished(RuntimeError("probe broke"))
    assert plain.lifecycle.phase is Phase.FAILED and _status(plain) == "failed"
    assert plain.last_acquisition_failed


def test_body_done_then_save_completes_in_the_same_write(plain) -> None:
    plain.acquisition_started("a", cell="c")
    plain.acquisition_body_done()
    assert plain.lifecycle.phase is Phase.OPEN and _status(plain) == "running"
    plain.save_acquisition(x=1)
    assert _status(plain) == "completed"
    plain.acquisition_finished(None)
    assert plain.lifecycle.phase is Phase.COMPLETED


def test_save_in_open_completes_the_file_and_stays_open(plain) -> None:
    plain.acquisition_cell("a", cell="c")
    plain.save_acquisition(x=1)
    assert plain.lifecycle.phase is Phase.OPEN and _status(plain) == "completed"
    plain.acquisition_finished(None)
    assert plain.lifecycle.phase is Phase.COMPLETED


def test_a_cell_that_only_started_it_keeps_it_open_until_a_save(shell, in_shell) -> None:
    assert shell.run_cell("aqm.acquisition_cell('a')", store_history=True).success
    assert in_shell.lifecycle.phase is Phase.KEPT_OPEN and _status(in_shell) == "running"
    assert shell.run_cell("aqm.save_acquisition(x=1)", store_history=True).success
    assert in_shell.lifecycle.phase is Phase.OPEN and _status(in_shell) == "completed"


def test_the_cell_end_reports_a_cell_that_saved(shell, in_shell) -> None:
    code = "aqm.acquisition_cell('a')\naqm.save_acquisition(x=1)"
    assert shell.run_cell(code, store_history=True).success
    assert in_shell.lifecycle.phase is Phase.COMPLETED and _status(in_shell) == "completed"


def test_failed_stays_failed_whatever_is_saved(plain) -> None:
    plain.acquisition_started("a", cell="c")
    plain.acquisition_finished(RuntimeError("probe broke"))
    plain.save_acquisition(z=1)
    assert plain.lifecycle.phase is Phase.FAILED
    d = DH5(plain.current_filepath)
    assert d["info"]["status"] == "failed" and "probe broke" in d["info"]["error"] and d["z"] == 1


def test_continue_a_completed_step_runs_again_a_failed_one_stays_failed(plain) -> None:
    plain.acquisition_cell("a", cell="c")
    plain.save_acquisition(x=1)
    plain.acquisition_finished(None)
    plain.acquisition_cell("a", cell="c2", step=2)
    assert plain.lifecycle.phase is Phase.OPEN and _status(plain) == "running"
    plain.acquisition_finished(RuntimeError("step 2 broke"))
    plain.acquisition_cell("a", cell="c3", step=3)
    assert plain.lifecycle.phase is Phase.FAILED and _status(plain) == "failed"


def test_the_next_start_ends_what_was_running(plain) -> None:
    plain.acquisition_started("a", cell="c")
    first = plain.current_filepath
    plain.acquisition_started("b", cell="c")
    assert DH5(first)["info"]["status"] == "failed"  # never saved, never said it ended
    assert plain.lifecycle.phase is Phase.RUNNING


def test_every_move_is_logged_at_debug_level(plain, caplog) -> None:
    with caplog.at_level(logging.DEBUG, logger="labmate_core.acquisition.lifecycle"):
        plain.acquisition_started("a", cell="c")
        plain.acquisition_finished(None)
    moves = [r.getMessage() for r in caplog.records if r.name.endswith("lifecycle")]
    assert moves == [
        "acquisition start: idle -> running",
        "acquisition complete: running -> completed",
    ]


@pytest.mark.parametrize("event", list(Event))
@pytest.mark.parametrize("phase", list(Phase))
def test_only_the_moves_in_the_table_are_allowed(event: Event, phase: Phase) -> None:
    allowed = TRANSITIONS.get((event, phase), ())
    for target in Phase:
        lifecycle = Lifecycle()
        lifecycle.phase = phase
        if target in allowed:
            assert lifecycle.move(event, target) is target
        else:
            with pytest.raises(RuntimeError, match="not allowed"):
                lifecycle.move(event, target)
            assert lifecycle.phase is phase
