"""Acquisition lifecycle edge cases: reserved keys, steps after old data, restart duration,
acquisitions that end without a save, extra files from ``create_acquisition``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labmate_core import DH5
from labmate_core.acquisition import AcquisitionManager
from labmate_core.acquisition.acquisition_data import RESERVED_KEYS
from labmate_core.acquisition.endings import ORPHANED
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager


def _aqm(data_dir: Path, **kw) -> AcquisitionAnalysisManager:
    kw.setdefault("shell", None)
    return AcquisitionAnalysisManager(data_dir, **kw)


def _h5(prefix: str) -> bytes:
    return Path(prefix + ".h5").read_bytes()


@pytest.mark.parametrize("key", sorted(RESERVED_KEYS) + ["info/acquisition_duration"])
def test_reserved_keys_are_refused_before_anything_is_written(data_dir: Path, key: str) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("res", cell="c")
    prefix = aqm.current_filepath
    before = _h5(prefix)
    with pytest.raises(ValueError, match=repr(key).replace("/", ".")):
        aqm.save_acquisition(x=1, **{key: 1})
    with pytest.raises(ValueError, match="reserved"):
        aqm[key] = 1
    assert _h5(prefix) == before
    aqm.save_acquisition(x=2)  # the acquisition is intact and can still be saved
    aqm.acquisition_finished(None)
    d = DH5(prefix)
    assert d["x"] == 2 and bool(d["useful"]) is True and d["experiment_name"] == "res"
    assert d["info"]["status"] == "completed" and d["info"]["acquisition_duration"] >= 0


def test_reserved_keys_refused_by_the_plain_manager(data_dir: Path) -> None:
    aqm = AcquisitionManager(data_dir)
    aqm.new_acquisition("plain", cell="c")
    with pytest.raises(ValueError, match="'useful'"):
        aqm.save_acquisition(useful=False)
    with pytest.raises(ValueError, match="'experiment_name'"):
        aqm["experiment_name"] = "other"
    d = DH5(aqm.current_filepath)
    assert d["experiment_name"] == "plain" and bool(d["useful"]) is False


def test_step_after_analysis_of_old_data_continues(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("old", cell="c")
    aqm.save_acquisition(x=1)
    old = aqm.current_filepath
    aqm.acquisition_cell("multi", cell="step 1")
    aqm.save_acquisition(a=1)
    current = aqm.current_filepath
    aqm.analysis_cell(old)  # look at old data meanwhile (labmate allows the next step after)
    assert aqm.current_acquisition is None
    aqm.acquisition_cell("multi", cell="step 2", step=2)
    aqm.save_acquisition(b=2)
    assert aqm.current_filepath == current
    d = DH5(current)
    assert (d["a"], d["b"]) == (1, 2)
    assert d["acquisition_cell"]["2"] == "step 2"
    assert "b" not in DH5(old)


def test_duration_after_a_restart_counts_from_the_start(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("restart", cell="c")  # the acquisition is never saved in this kernel
    prefix = aqm.current_filepath
    del aqm
    again = _aqm(data_dir)  # a new kernel: temp.json gives the current acquisition
    again.save_acquisition(x=1)
    d = DH5(prefix)
    assert d["x"] == 1
    duration = d["info"]["acquisition_duration"]
    assert 0 <= duration < 3600, duration  # not time.time() - 0 (about 1.8e9 s)


def test_unsaved_acquisition_is_closed_when_the_next_one_starts(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("empty", cell="c")
    empty = aqm.current_filepath
    aqm.acquisition_cell("edited", cell="c")
    aqm["x"] = 5  # written with save_on_edit, save_acquisition never called
    edited = aqm.current_filepath
    aqm.acquisition_cell("next", cell="c")
    d = DH5(empty)
    assert d["info"]["status"] == "failed" and bool(d["useful"]) is False
    assert "never saved" in d["info"]["error"]
    d = DH5(edited)
    assert d["info"]["status"] == "completed" and bool(d["useful"]) is True and d["x"] == 5
    assert DH5(aqm.current_filepath)["info"]["status"] == "running"


def test_create_acquisition_files_end_with_their_cell(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("main", cell="c")
    saved = aqm.create_acquisition()
    saved.save_acquisition(v=1)
    assert DH5(saved.filepath)["info"]["status"] == "completed"  # its own save completes it
    written = aqm.create_acquisition()
    written["v"] = 2
    empty = aqm.create_acquisition()
    with pytest.raises(ValueError, match="'info'"):
        empty.save_acquisition(info={"status": "completed"})
    aqm.save_acquisition(x=1)
    aqm.acquisition_finished(None)  # the end of the acquisition cell
    assert DH5(saved.filepath)["info"]["status"] == "completed"
    d = DH5(written.filepath)
    assert d["info"]["status"] == "completed" and bool(d["useful"]) is True and d["v"] == 2
    d = DH5(empty.filepath)
    assert d["info"]["status"] == "failed" and bool(d["useful"]) is False

    aqm.acquisition_cell("crash", cell="c")
    extra = aqm.create_acquisition()
    aqm.acquisition_finished(RuntimeError("fridge"))
    d = DH5(extra.filepath)
    assert d["info"]["status"] == "failed" and "RuntimeError: fridge" in d["info"]["error"]


def test_saving_data_into_a_failed_acquisition_keeps_it_failed(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("main", cell="c")
    extra = aqm.create_acquisition()
    aqm.acquisition_finished(None)
    assert DH5(extra.filepath)["info"]["status"] == "failed"  # never saved
    extra.save_acquisition(v=1)  # the data is saved, the failure stays
    d = DH5(extra.filepath)
    assert d["info"]["status"] == "failed" and "never saved" in d["info"]["error"]
    assert d["v"] == 1 and extra.status == "failed"

    aqm.acquisition_cell("crash", cell="c")
    aqm.acquisition_finished(RuntimeError("probe broke"))
    assert DH5(aqm.current_filepath)["info"]["status"] == "failed"
    aqm.save_acquisition(z=1)  # a plain cell after the failed one
    d = DH5(aqm.current_filepath)
    assert d["info"]["status"] == "failed" and "RuntimeError: probe broke" in d["info"]["error"]
    assert d["z"] == 1


def test_a_run_that_fails_twice_keeps_both_errors(data_dir: Path) -> None:
    aqm = _aqm(data_dir)
    aqm.acquisition_cell("twice", cell="c")
    aqm.acquisition_finished(RuntimeError("first"))
    aqm.current_acquisition.set_status("failed", error="RuntimeError: second")
    aqm.current_acquisition.set_status("running")
    aqm.current_acquisition.set_status("completed")
    error = DH5(aqm.current_filepath)["info"]["error"]
    assert "RuntimeError: first" in error and "RuntimeError: second" in error
    assert error.index("first") < error.index("second")
    assert DH5(aqm.current_filepath)["info"]["status"] == "failed"


_KERNEL = """
import sys
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
aqm = AcquisitionAnalysisManager(sys.argv[1], shell=None)
aqm.acquisition_cell(sys.argv[2], cell="c")
if sys.argv[3] == "data":
    aqm["x"] = 5  # written without save_acquisition
if sys.argv[3] == "extra":
    sys.stdout.write(aqm.create_acquisition().filepath + "\\n")  # never saved either
sys.stdout.write(aqm.current_filepath + "\\n")
sys.stdout.flush()
if sys.argv[4] == "stay":
    sys.stdin.readline()  # a live kernel, until told to go
"""


def _kernel(data_dir: Path, name: str, data: bool | str, stay: bool) -> subprocess.Popen:
    what = data if isinstance(data, str) else "data" if data else "-"
    args = [str(data_dir), name, what, "stay" if stay else "-"]
    return subprocess.Popen(
        [sys.executable, "-c", _KERNEL, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("data", [False, True])
def test_acquisition_left_running_by_a_dead_kernel_is_failed_by_the_next_one(
    data_dir: Path, data: bool
) -> None:
    before = _kernel(data_dir, "cut", data, stay=False)  # a kernel killed mid-measurement
    prefix = before.stdout.readline().strip()
    assert before.wait(120) == 0
    assert DH5(prefix)["info"]["status"] == "running"
    after = _aqm(data_dir)  # the restarted kernel: nothing in memory, temp.json names "cut"
    after.acquisition_cell("next", cell="c")
    d = DH5(prefix)
    assert d["info"]["status"] == "failed" and ORPHANED in d["info"]["error"]
    assert ("x" in d) is data  # what was written stays


def test_extra_files_left_running_by_a_dead_kernel_end_with_its_acquisition(
    data_dir: Path,
) -> None:
    before = _kernel(data_dir, "cut", "extra", stay=False)
    extra = before.stdout.readline().strip()
    prefix = before.stdout.readline().strip()
    assert before.wait(120) == 0
    assert DH5(extra)["info"]["status"] == "running"
    after = _aqm(data_dir)  # the restarted kernel: temp.json's sidecar lists the extra file
    after.acquisition_cell("next", cell="c")
    for path in (prefix, extra):
        d = DH5(path)
        assert d["info"]["status"] == "failed" and ORPHANED in d["info"]["error"], path


def test_a_restarted_kernel_that_first_adds_an_extra_file_keeps_the_dead_kernels_list(
    data_dir: Path,
) -> None:
    before = _kernel(data_dir, "cut", "extra", stay=False)
    extra = before.stdout.readline().strip()
    assert before.wait(120) == 0
    after = _aqm(data_dir)
    mine = after.create_acquisition()  # labmate's pattern, before any new acquisition
    after.acquisition_cell("next", cell="c")
    d = DH5(extra)
    assert d["info"]["status"] == "failed" and ORPHANED in d["info"]["error"]
    assert DH5(mine.filepath)["info"]["status"] == "failed"  # never saved, ended as usual


def test_a_recreated_manager_ends_what_the_old_one_left_running(data_dir: Path) -> None:
    """`aqm = AcquisitionAnalysisManager(...)` run again, or %reload_ext: same process, the old
    manager possibly still referenced (IPython's Out[n] keeps what acquisition_cell returned).
    Nothing was cut short: the usual rules (data kept -> completed; empty -> never saved)."""
    first = _aqm(data_dir)
    kept = first.acquisition_cell("first", cell="c")  # as Out[n] would
    first["x"] = [1, 2, 3]  # written without a save
    with_data = first.current_filepath
    again = _aqm(data_dir)
    again.acquisition_cell("empty", cell="c")
    d = DH5(with_data)
    assert d["info"]["status"] == "completed" and bool(d["useful"]) and "error" not in d["info"]
    empty = again.current_filepath
    third = _aqm(data_dir)
    third.acquisition_cell("next", cell="c")
    d = DH5(empty)
    assert d["info"]["status"] == "failed" and "never saved" in d["info"]["error"]
    # the old manager saves after all: the data is saved, the run stays failed
    again.save_acquisition(y=1)
    d = DH5(empty)
    assert d["info"]["status"] == "failed" and "never saved" in d["info"]["error"]
    assert d["y"] == 1
    assert kept is first


def test_a_live_kernels_run_reopened_through_temp_json_is_never_ended(data_dir: Path) -> None:
    """Another kernel, alive, runs an acquisition on the same data directory; this one shows it
    (%labmate reopens temp.json's run) and then starts its own: the other run stays running."""
    live = _kernel(data_dir, "theirs", False, stay=True)
    try:
        assert live.stdout is not None
        prefix = live.stdout.readline().strip()
        mine = _aqm(data_dir)
        assert mine.current_acquisition.filepath == prefix  # reopened from temp.json
        mine.acquisition_cell("mine", cell="c")
        mine.acquisition_finished(None)
        d = DH5(prefix)
        assert d["info"]["status"] == "running" and "error" not in d["info"]
    finally:
        assert live.stdin is not None
        live.stdin.close()
        live.wait(120)


def test_reopening_the_current_run_after_a_restart_reads_no_array(data_dir: Path) -> None:
    import numpy as np

    first = _aqm(data_dir)
    first.acquisition_cell("big", cell="c")
    first.save_acquisition(x=np.arange(100_000))
    reopened = _aqm(data_dir).current_acquisition  # a new manager: from temp.json
    assert reopened._has_unloaded()  # values are read when used
    assert reopened["x"][-1] == 99_999
