"""Run markers (.labmate/running): every run named before its file exists; the runs of dead
processes end failed, a live process's are never touched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py

from labmate_core.acquisition import runs
from labmate_core.acquisition.endings import ORPHANED, end_dead_runs
from labmate_core.acquisition.owner import this_process
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.cli import main
from labmate_core.dh5.storage import lock_path

#: a process that names a run (and, with "file", creates its file) then dies or waits
_CHILD = """
import sys
from labmate_core.acquisition import runs
from labmate_core.acquisition.acquisition_data import NotebookAcquisitionData
data, prefix, what = sys.argv[1:4]
if what == "file":
    NotebookAcquisitionData(prefix, cell="c", overwrite=False, save_files=False,
                            experiment_name="x", runs_directory=data)
else:
    runs.mark_running(data, prefix)
    from labmate_core.dh5.storage import lock_path
    open(lock_path(prefix + ".h5"), "w").close()  # its name reservation
if what == "stay":
    print("ready", flush=True)
    sys.stdin.readline()
"""


def _child(data: Path, prefix: str, what: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data), prefix, what],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _status(prefix: str) -> tuple[str, str]:
    with h5py.File(prefix + ".h5", "r") as file:
        info = file["info"]
        return info["status"][()].decode(), info["error"][()].decode() if "error" in info else ""


def test_a_run_is_named_before_its_file_and_forgotten_when_it_ends(data_dir: Path) -> None:
    aqm = AcquisitionAnalysisManager(data_dir, shell=None)
    aqm.acquisition_started("named", cell="c")
    (marker,) = runs.running_directory(data_dir).iterdir()
    assert marker.name.endswith("=" + runs.quote(this_process(), safe=""))
    assert marker.read_text() == "named/" + Path(aqm.current_filepath).name
    aqm.acquisition_finished(None)
    assert not list(runs.running_directory(data_dir).iterdir())


def test_a_dead_processs_running_file_ends_failed(data_dir: Path) -> None:
    prefix = str(data_dir / "x" / "2026_01_01__00_00_00__x")
    assert _child(data_dir, prefix, "file").wait(60) == 0
    assert _status(prefix)[0] == "running"
    assert end_dead_runs(data_dir) == [prefix]
    status, error = _status(prefix)
    assert status == "failed" and ORPHANED in error
    assert not list(runs.running_directory(data_dir).iterdir())
    assert end_dead_runs(data_dir) == []


def test_a_process_dead_before_its_file_leaves_nothing_behind(data_dir: Path) -> None:
    prefix = str(data_dir / "x" / "2026_01_01__00_00_00__x")
    (data_dir / "x").mkdir(parents=True)
    assert _child(data_dir, prefix, "marker").wait(60) == 0
    assert end_dead_runs(data_dir) == []
    assert not list(runs.running_directory(data_dir).iterdir())
    assert not lock_path(prefix + ".h5").exists()  # the name reservation went too


def test_a_marker_left_empty_by_a_dead_process_is_dropped(data_dir: Path) -> None:
    dead = subprocess.run(
        [
            sys.executable,
            "-c",
            "from labmate_core.acquisition.owner import this_process as t;print(t())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    marker = runs.marker_path(data_dir, str(data_dir / "x" / "p"), owner=dead)
    marker.parent.mkdir(parents=True)
    marker.touch()
    assert end_dead_runs(data_dir) == [] and not marker.exists()


def test_a_live_processs_run_is_never_touched(data_dir: Path) -> None:
    prefix = str(data_dir / "x" / "2026_01_01__00_00_00__x")
    (data_dir / "x").mkdir(parents=True)
    child = _child(data_dir, prefix, "stay")
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        assert end_dead_runs(data_dir) == []
        AcquisitionAnalysisManager(data_dir, shell=None)  # an entry point
        assert len(list(runs.running_directory(data_dir).iterdir())) == 1
        assert lock_path(prefix + ".h5").exists()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(60)


def test_labmate_status_ends_a_dead_processs_run(data_dir: Path, capsys) -> None:
    prefix = str(data_dir / "x" / "2026_01_01__00_00_00__x")
    assert _child(data_dir, prefix, "file").wait(60) == 0
    main(["status", str(data_dir)])
    assert "the kernel running it died" in capsys.readouterr().out
    assert _status(prefix)[0] == "failed"


def test_long_unicode_names_fit(data_dir: Path) -> None:
    name = "é" * 60  # 120 bytes, the longest name allowed
    aqm = AcquisitionAnalysisManager(data_dir, shell=None)
    aqm.acquisition_started(name, cell="c")
    (marker,) = runs.running_directory(data_dir).iterdir()
    assert marker.read_text().startswith(name + "/")
    aqm.acquisition_finished(None)
