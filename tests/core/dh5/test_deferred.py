"""A new acquisition's file created at its first save, by a reader, in the background, or never
(a setup that failed); one write for an acquisition that saves at once."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import h5py
import pytest

from labmate_core.acquisition import acquisition_data, naming
from labmate_core.acquisition.acquisition_data import NotebookAcquisitionData
from labmate_core.dh5 import deferred, storage


def _new(tmp_path: Path, name: str = "scan") -> NotebookAcquisitionData:
    prefix = naming.reserve_prefix(tmp_path, "2026_01_01__00_00_00", name)
    return NotebookAcquisitionData(
        prefix, cell="x = 1", overwrite=False, save_files=False, experiment_name=name, defer=True
    )


def _wait_for(path: Path, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return path.exists()


@pytest.fixture(autouse=True)
def _nothing_left_pending(monkeypatch):
    # the background creation is tested on its own: elsewhere it must not come first, however slow
    monkeypatch.setattr(acquisition_data, "RUNNING_FILE_DELAY", 3600)
    yield
    deferred.create_all()


def test_first_save_writes_the_whole_file_in_one_write(tmp_path: Path) -> None:
    acquisition = _new(tmp_path)
    h5 = Path(acquisition.h5_path)
    assert not h5.exists() and deferred.is_pending(h5)
    acquisition.save_data({"x": 1.5})
    assert not deferred.is_pending(h5)
    assert storage.generation(h5) == 2  # one finished write (+2 per write), not two
    with h5py.File(h5, "r") as file:
        assert file["x"][()] == 1.5
        assert file["info/status"][()].decode() == "completed"
        assert file["acquisition_cell/1"][()].decode() == "x = 1"
        assert file["experiment_name"][()].decode() == "scan"


def test_a_reader_creates_the_running_file_and_the_owner_completes_it(tmp_path: Path) -> None:
    acquisition = _new(tmp_path)
    h5 = Path(acquisition.h5_path)
    with storage.open_read(h5) as file:  # any labmate_core reader: the file is there
        assert file["info/status"][()].decode() == "running"
        assert file["useful"][()] == False  # noqa: E712 (a numpy bool)
    acquisition.save_data({"y": [1, 2]})
    with h5py.File(h5, "r") as file:
        assert list(file["y"][()]) == [1, 2]
        assert file["info/status"][()].decode() == "completed"
        assert file["acquisition_cell/1"][()].decode() == "x = 1"


def test_storage_exists_creates_a_pending_file(tmp_path: Path) -> None:
    h5 = Path(_new(tmp_path).h5_path)
    assert not os.path.exists(h5)
    assert storage.exists(h5)


def test_the_background_thread_creates_the_file_after_the_delay(tmp_path: Path) -> None:
    h5 = tmp_path / "later.h5"
    storage.defer_creation(h5, lambda file: file.create_dataset("v", data=3), delay=0.05)
    assert _wait_for(h5)  # nobody opened it: the background thread did
    assert not deferred.is_pending(h5)
    with h5py.File(h5, "r") as file:
        assert file["v"][()] == 3


def test_an_owner_write_that_fails_leaves_the_creation_pending(tmp_path: Path) -> None:
    h5 = tmp_path / "owner.h5"
    storage.defer_creation(h5, lambda file: file.create_dataset("v", data=1), delay=3600)
    with pytest.raises(RuntimeError), deferred.claimed(h5) as pending:
        assert pending
        raise RuntimeError("the owner's save failed")
    assert deferred.is_pending(h5)
    deferred.create_now(h5)
    with h5py.File(h5, "r") as file:
        assert file["v"][()] == 1


def test_a_creation_that_fails_is_a_warning_and_leaves_no_file(tmp_path: Path, caplog) -> None:
    h5 = tmp_path / "broken.h5"

    def write(file: h5py.File) -> None:
        raise OSError("disk full")

    storage.defer_creation(h5, write, delay=3600)
    with caplog.at_level(logging.WARNING, logger="labmate_core.dh5.deferred"):
        deferred.create_now(h5)
    assert "disk full" in caplog.text and str(h5) in caplog.text
    assert not h5.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_released_reservation_is_never_created(tmp_path: Path) -> None:
    acquisition = _new(tmp_path)
    naming.release_reservation(acquisition.filepath)
    deferred.create_all()
    assert not Path(acquisition.h5_path).exists()
    assert not storage.lock_path(acquisition.h5_path).exists()


def test_a_forked_child_does_not_create_its_parents_files(tmp_path: Path) -> None:
    h5 = Path(_new(tmp_path).h5_path)
    pid = os.fork()
    if pid == 0:  # the child: nothing pending, and its exit creates nothing
        os._exit(0 if not deferred.is_pending(h5) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not h5.exists() and deferred.is_pending(h5)


def test_a_loop_in_a_pending_acquisition(tmp_path: Path) -> None:
    from labmate_core.acquisition.acquisition_loop import AcquisitionLoop

    acquisition = _new(tmp_path)
    loop = AcquisitionLoop()
    acquisition["sweep"] = loop
    for i in loop(3):
        loop.append(v=i)
    acquisition.save_data({})
    with h5py.File(acquisition.h5_path, "r") as file:
        assert list(file["sweep/v"][()]) == [0, 1, 2]
        assert file["info/status"][()].decode() == "completed"
        assert file["acquisition_cell/1"][()].decode() == "x = 1"


def test_a_file_made_meanwhile_by_plain_h5py_is_never_replaced(tmp_path: Path, caplog) -> None:
    """Code that writes the acquisition's file with plain h5py before its first save: the
    background creation leaves that file alone, the owner's save adds to it."""
    acquisition = _new(tmp_path)
    h5 = Path(acquisition.h5_path)
    with h5py.File(h5, "a") as file:  # no labmate lock, no deferral known
        file["raw"] = 7
    with caplog.at_level(logging.INFO, logger="labmate_core.dh5.storage"):
        deferred.create_now(h5)
    with h5py.File(h5, "r") as file:
        assert list(file) == ["raw"]  # left alone
    acquisition.save_data({"x": 1})
    with h5py.File(h5, "r") as file:
        assert file["raw"][()] == 7 and file["x"][()] == 1
        assert file["acquisition_cell/1"][()].decode() == "x = 1"


def test_a_new_file_is_never_linked_over_one_made_meanwhile(tmp_path: Path) -> None:
    from labmate_core.dh5 import storage as st

    h5 = tmp_path / "race.h5"
    calls = []

    def write_while_someone_creates_it(file: h5py.File) -> None:
        if not calls:  # the first attempt: another writer creates the file meanwhile
            with h5py.File(h5, "w") as other:
                other["theirs"] = 1
        calls.append(1)
        file["ours"] = 2

    with pytest.raises(st.FileAppearedError):
        with st.open_write(h5) as file:
            write_while_someone_creates_it(file)
    with h5py.File(h5, "r") as file:
        assert list(file) == ["theirs"]  # theirs was not replaced, ours not half-written


def test_whoever_needs_a_file_being_created_waits_for_it(tmp_path: Path) -> None:
    import threading

    h5 = tmp_path / "slow.h5"
    started = threading.Event()

    def slow(file: h5py.File) -> None:
        started.set()
        time.sleep(0.5)
        file["v"] = 1

    storage.defer_creation(h5, slow, delay=3600)
    creator = threading.Thread(target=deferred.create_now, args=(h5,))
    creator.start()
    assert started.wait(20)
    assert storage.exists(h5)  # waited for the creation under way, never "no such file"
    creator.join()


def test_an_interrupted_creation_stays_pending(tmp_path: Path) -> None:
    h5 = tmp_path / "interrupted.h5"
    attempts = []

    def write(file: h5py.File) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise KeyboardInterrupt
        file["v"] = 1

    storage.defer_creation(h5, write, delay=3600)
    with pytest.raises(KeyboardInterrupt):
        deferred.create_now(h5)
    assert not h5.exists() and deferred.is_pending(h5)
    deferred.create_now(h5)
    with h5py.File(h5, "r") as file:
        assert file["v"][()] == 1
