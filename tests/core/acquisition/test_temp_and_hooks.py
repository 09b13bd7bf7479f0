"""temp.json round trip, the suffix sidecar, hooks registry, capture, config snapshots."""

from __future__ import annotations

import json
import logging
import sys
import threading
import types
from pathlib import Path

import pytest

from labmate_core.acquisition.capture import OutputCapture
from labmate_core.acquisition.configs import take_snapshot
from labmate_core.acquisition.hooks import LifecycleHooks, run_functions
from labmate_core.acquisition.temp_data import AcquisitionTmpData, read_temp_data, write_temp_data


def test_temp_json_round_trip_and_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "temp.json"
    assert read_temp_data(path) is None
    data = AcquisitionTmpData(
        "s", "2026_01_01__00_00_00", {"c.py": "a = 1"}, str(tmp_path), "2026_01_01__00_00_00__s__2"
    )
    write_temp_data(path, data)
    assert set(json.loads(path.read_text())) == {
        "experiment_name",
        "time_stamp",
        "configs",
        "directory",
    }
    back = read_temp_data(path)
    assert back == data
    assert back.prefix(tmp_path).endswith("s/2026_01_01__00_00_00__s__2")
    plain = AcquisitionTmpData("t", "2026_01_01__00_00_01", {}, None)
    write_temp_data(path, plain)
    assert read_temp_data(path).file_name is None
    # a sidecar about another acquisition is left as it is (never removed, ignored by readers)
    sidecar = json.loads((tmp_path / ".temp_filepath.json").read_text())
    assert sidecar["file_name"] == "2026_01_01__00_00_00__s__2"
    # one about this acquisition is rewritten in place
    write_temp_data(path, data)
    same = AcquisitionTmpData("s", "2026_01_01__00_00_00", {}, None)
    write_temp_data(path, same)
    assert read_temp_data(path).file_name is None
    sidecar = json.loads((tmp_path / ".temp_filepath.json").read_text())
    assert sidecar["file_name"] == "2026_01_01__00_00_00__s"


def test_corrupt_temp_json_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "temp.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="temp file"):
        read_temp_data(path)


def test_hooks_registry() -> None:
    hooks = LifecycleHooks()
    seen: list = []
    hooks.add_acquisition_saved(lambda acq: seen.append(("plain", acq)))
    hooks.add_acquisition_saved(lambda acq, **kw: seen.append(("kw", acq, kw)))
    hooks.dispatch_acquisition_saved("A", extra=1)
    assert seen == [("plain", "A"), ("kw", "A", {"extra": 1})]
    with pytest.raises(ValueError):
        hooks.add("nope", print)
    with pytest.raises(TypeError):
        hooks.set_analysis_cell_ready([1])  # type: ignore[list-item]
    calls: list = []
    run_functions([lambda: calls.append(1), lambda: calls.append(2)])
    run_functions(None)
    assert calls == [1, 2]


def test_capture_tees_stdout_and_restores() -> None:
    capture = OutputCapture()
    original = sys.stdout
    capture.start()
    print("seen")
    capture.stop()
    print("not seen")
    assert sys.stdout is original and capture.prints() == "seen\n"


def test_capture_keeps_the_cell_s_logs_not_the_background_work_s() -> None:
    """Logs of the user's threads are the acquisition's (as in labmate); the index writer's and
    the backend workers' are not."""
    capture = OutputCapture()
    capture.start()
    try:
        logging.getLogger("labmate_core.test_capture").info("from the cell")
        worker = threading.Thread(
            target=logging.getLogger("labmate_core.test_capture").info,
            args=("from a measurement thread",),
        )
        worker.start()
        worker.join()
        logging.getLogger("labmate_core.index.store").info("reindexed 3 files")
        logging.getLogger("labmate_core.backends.worker").warning("backend failed")
        ours = threading.Thread(  # a background thread of ours, logging through the store
            target=logging.getLogger("labmate_core.dh5.storage").warning,
            args=("waiting for the lock",),
            name="labmate-backend[mirror]",
        )
        ours.start()
        ours.join()
    finally:
        capture.stop()
    logs = capture.logs()
    assert "from the cell" in logs and "from a measurement thread" in logs
    assert "reindexed" not in logs and "backend failed" not in logs
    assert "waiting for the lock" not in logs


def test_snapshot_with_evaluation_module(tmp_path: Path) -> None:
    cfg = tmp_path / "c.py"
    cfg.write_text("a = 2\nb = a + 1\n")
    snap = take_snapshot([cfg], {"c.py": types.SimpleNamespace(a=2, b=3)})
    assert snap == {"c.py": "a = 2\nb = a + 1  # value: 3\n"}
    with pytest.raises(ValueError):
        take_snapshot([cfg, tmp_path / "missing.py"])


def test_temp_json_is_written_whatever_another_kernel_did(tmp_path: Path) -> None:
    path = tmp_path / "temp.json"
    data = AcquisitionTmpData("s", "2026_01_01__00_00_00", {}, str(tmp_path))
    write_temp_data(path, data)
    write_temp_data(path, data)
    assert read_temp_data(path) == data
    other = AcquisitionTmpData("other", "2026_01_01__00_00_01", {}, str(tmp_path))
    path.write_text(json.dumps(other.asdict()))  # another kernel wrote it meanwhile
    write_temp_data(path, data)
    assert read_temp_data(path) == data
    path.unlink()
    write_temp_data(path, data)
    assert read_temp_data(path) == data
