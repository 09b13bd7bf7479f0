"""The index follows the acquisitions of the magics: start, save, end and backend sync states;
``labmate ls`` lists them. A real InteractiveShell, real files, a real mirror backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from ext_helpers import run

from labmate_core import cli, index
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.backends import AcquisitionBackend


def _rows(data_dir: Path) -> dict[str, index.Acquisition]:
    assert index.flush(60)  # the records are written by the background writer
    return {row.name: row for row in index.open_index(data_dir).list()}


def test_magic_acquisitions_are_indexed_with_status_and_sync(shell, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    index.open_index(data_dir)  # built before the first record
    assert run(shell, "%labmate_backend mirror ./mirror").success

    assert run(shell, "%%acquisition good --save x\nx = 1").success
    rows = _rows(data_dir)
    assert rows["good"].status == "completed" and "x" in rows["good"].user_keys

    assert not run(shell, "%%acquisition bad --save y\ny = 2\nraise RuntimeError('probe')").success
    rows = _rows(data_dir)
    assert rows["bad"].status == "failed" and "probe" in (rows["bad"].error or "")
    assert "y" in rows["bad"].user_keys  # saved before the failure: kept and indexed
    assert rows["good"].status == "completed"

    assert run(shell, "%labmate_backend wait 60").success
    for row in _rows(data_dir).values():
        ((backend, state),) = row.sync.items()
        assert backend.startswith("mirror") and state.state == "done", row


def test_running_acquisition_is_indexed_as_running(shell, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    index.open_index(data_dir)
    manager = shell.user_ns["aqm"]
    manager.acquisition_started("live", cell="x = 1")
    assert _rows(data_dir)["live"].status == "running"
    manager.save_acquisition(x=1)  # saved while its code still runs: still running
    assert _rows(data_dir)["live"].status == "running"
    manager.acquisition_finished(None)
    assert _rows(data_dir)["live"].status == "completed"


def test_first_acquisition_of_a_process_reaches_the_index_and_ls(
    shell, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    assert not index.is_open(data_dir)
    assert run(shell, "%%acquisition first --save a\na = 1").success
    assert run(shell, "%%acquisition second --save b\nb = 1\n1 / 0").success is False
    assert index.flush(60)  # the first records were handed to the background writer
    rows = _rows(data_dir)
    assert (rows["first"].status, rows["second"].status) == ("completed", "failed")

    capsys.readouterr()
    assert cli.main(["ls", str(data_dir), "--no-reindex"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["TIME", "NAME", "STATUS"]
    listed = {line.split()[2]: line.split()[3] for line in lines[1:]}
    assert listed == {"first": "completed", "second": "failed"}

    assert cli.main(["ls", str(data_dir), "--status", "failed"]) == 0
    out = capsys.readouterr().out
    assert "second" in out and "first" not in out


class AlwaysFailing(AcquisitionBackend):
    def save_snapshot(self, acquisition) -> None:
        raise ConnectionError("unreachable")


def test_backend_options_and_configure_backends(tmp_path: Path) -> None:
    manager = AcquisitionAnalysisManager(
        tmp_path / "data", shell=None, backend_options={"max_attempts": 2, "backoff": 0}
    )
    assert manager.backend_options == {"max_attempts": 2, "backoff": 0}
    manager.add_backend(AlwaysFailing(), name="bad")
    assert (manager.dispatcher.max_attempts, manager.dispatcher.backoff) == (2, 0.0)
    manager.configure_backends(max_attempts=3)  # applies to the backend already added
    assert manager.backend_options == {"max_attempts": 3, "backoff": 0}
    with pytest.raises(ValueError, match="max_attempts"):
        manager.configure_backends(max_attempts=0)
    with pytest.raises(ValueError, match="backoff"):
        manager.configure_backends(backoff=-1)
    manager.acquisition_cell("retry", cell="x = 1")
    manager.save_acquisition(x=1)
    assert manager.wait_backends(60)
    status = manager.backend_status(manager.current_filepath)["bad"]
    assert (status.state.value, status.attempts) == ("failed", 3)
    assert "ConnectionError: unreachable" in status.last_error
    assert index.flush(60)  # statuses reach the index through its background writer
    row = index.open_index(tmp_path / "data").get(manager.current_filepath)
    assert row.sync["bad"].state == "failed" and row.sync["bad"].attempts == 3
    manager.dispatcher.close()


def test_save_files_property(tmp_path: Path) -> None:
    manager = AcquisitionAnalysisManager(tmp_path / "data", shell=None)
    assert manager.save_files is False
    manager.save_files = True
    manager.acquisition_cell("files", cell="x = 1")
    manager.save_acquisition(x=1)
    assert Path(manager.current_filepath + "_CELL.py").read_text() == "x = 1"


def test_magic_start_is_not_ended_by_a_nested_cell(shell) -> None:
    """``acquisition_started`` leaves the end to its caller: a cell run meanwhile (the magic's
    body) does not end the acquisition, ``acquisition_cell`` in a cell still ends with it."""
    manager = shell.user_ns["aqm"]
    manager.acquisition_started("outer", cell="x = 1")
    assert run(shell, "x = 1").success
    assert manager.current_acquisition.status == "running"
    manager.acquisition_finished(None)
    assert manager.current_acquisition.status == "completed"

    assert not run(shell, "aqm.acquisition_cell('plain')\nraise ValueError('v')").success
    assert manager.current_acquisition.status == "failed"
