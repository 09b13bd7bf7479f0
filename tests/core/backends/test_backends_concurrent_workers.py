"""Two workers of one backend name (re-added here, or in another process) never deliver one
acquisition at the same time, and a removed worker's late statuses are ignored."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py

from labmate_core.backends import AcquisitionBackend, State


class Store(AcquisitionBackend):
    """Lands the version of each snapshot in ``landed`` (shared: one destination)."""

    def __init__(self, landed: list[int], gate: threading.Event | None = None, fail=False):
        self.name = "store"
        self.landed = landed
        self.gate = gate
        self.fail = fail
        self.started = threading.Event()
        self.finished = threading.Event()

    def save_snapshot(self, acquisition) -> None:
        prefix = Path(acquisition.filepath)
        with h5py.File(prefix.with_name(prefix.name + ".h5"), "r") as f:  # the staged copy
            version = int(f.attrs["version"])
        self.started.set()
        try:
            if self.gate is not None:
                self.gate.wait()
            if self.fail:
                raise OSError("the old destination is gone")
            self.landed.append(version)
        finally:
            self.finished.set()


def test_a_removed_worker_still_copying_never_lands_last(data_dir, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir, version=1)
    other = lab.write_acquisition(data_dir, stamp="2026_11_24__16_56_39")
    landed: list[int] = []
    gate = threading.Event()
    old = Store(landed, gate)
    dispatcher = dispatchers(data_dir, [old], gates_to_open=[gate], max_attempts=1)
    dispatcher.submit(prefix)
    assert old.started.wait(60)  # copying version 1
    dispatcher.remove("store")
    lab.rewrite_h5(prefix, 2)
    dispatcher.add(Store(landed))  # resumes the journaled snapshot: not while the old one copies
    dispatcher.submit(other)  # queued after it: done once the resumed one was looked at
    _wait_done(dispatcher, other)
    assert landed == [1]  # only `other` so far
    gate.set()
    assert old.finished.wait(60)
    assert dispatcher.wait(60)
    assert landed == [1, 1, 2]  # the newest version is the one that stays at the destination
    assert dispatcher.status(prefix)["store"].state == State.DONE
    assert dispatcher.journal.entries() == []


def _wait_done(dispatcher, prefix: Path) -> None:
    for _ in range(6000):  # a bound only (2 min), never a timing assertion
        status = dispatcher.status(prefix).get("store")
        if status is not None and status.finished:
            break
        time.sleep(0.02)
    assert dispatcher.status(prefix)["store"].state == State.DONE


def test_statuses_of_a_removed_worker_are_ignored(data_dir, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir, version=1)
    landed: list[int] = []
    gate = threading.Event()
    old = Store(landed, gate, fail=True)
    dispatcher = dispatchers(data_dir, [old], gates_to_open=[gate], max_attempts=1)
    dispatcher.submit(prefix)
    assert old.started.wait(60)
    dispatcher.remove("store")
    new = Store(landed)
    dispatcher.add(new)
    lab.rewrite_h5(prefix, 2)
    dispatcher.submit(prefix)
    seen = []
    dispatcher.add_listener(seen.append)
    gate.set()  # the old worker fails now, after its removal
    assert old.finished.wait(60)
    assert dispatcher.wait(60)
    assert landed == [2]
    assert dispatcher.status(prefix)["store"].state == State.DONE
    assert [s for s in seen if s.state == State.FAILED] == []
    assert dispatcher.journal.entries() == []  # the old worker's failure is not journaled


CHILD = """
import os, sys, time
from pathlib import Path
from labmate_core.backends import AcquisitionBackend, BackendDispatcher

data, marker, go, prefix = sys.argv[1:5]

class SlowStore(AcquisitionBackend):
    def save_snapshot(self, acquisition):
        Path(marker).write_text("copying")
        while not Path(go).exists():  # until the parent lets it finish
            time.sleep(0.02)
        os.unlink(marker)

store = SlowStore()
store.name = "store"
dispatcher = BackendDispatcher(data, [store], drain_timeout=120)
dispatcher.submit(prefix)
dispatcher.wait(120)
dispatcher.close()
"""


class OverlapStore(AcquisitionBackend):
    """Records, per delivered acquisition, whether the other process was copying it too."""

    def __init__(self, marker: Path):
        self.name = "store"
        self.marker = marker
        self.deliveries: list[tuple[str, bool]] = []

    def save_snapshot(self, acquisition) -> None:
        self.deliveries.append((Path(acquisition.filepath).name, self.marker.exists()))


def _wait_for(path: Path, process: subprocess.Popen) -> None:
    for _ in range(6000):  # a bound only (2 min), never a timing assertion
        if path.exists() or process.poll() is not None:
            return
        time.sleep(0.02)


def test_another_process_copying_an_entry_is_not_resumed_concurrently(
    data_dir, tmp_path, dispatchers, lab
):
    busy = lab.write_acquisition(data_dir, stamp="2026_11_24__16_56_31")
    other = lab.write_acquisition(data_dir, stamp="2026_11_24__16_56_32")
    marker, go = tmp_path / "child-copying", tmp_path / "go"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), str(marker), str(go), str(busy)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(marker, child)
        assert marker.exists(), child.stderr.read() if child.poll() is not None else ""
        store = OverlapStore(marker)
        dispatcher = dispatchers(data_dir, [store], backoff=0.01)  # resumes `busy`...
        assert [e.prefix for e in dispatcher.journal.entries("store")] == [
            busy.relative_to(data_dir).as_posix()
        ]
        dispatcher.submit(other)  # ...queued after it: done once `busy` was looked at
        _wait_done(dispatcher, other)
        assert store.deliveries == [(other.name, True)]  # `busy` waited for the child
        go.write_text("go")
        assert child.wait(120) == 0
    finally:
        go.write_text("go")
        if child.poll() is None:
            child.kill()
        child.wait()
    assert dispatcher.wait(60)
    assert [name for name, _ in store.deliveries] == [other.name, busy.name]
    assert not any(overlap for name, overlap in store.deliveries if name == busy.name)
    assert dispatcher.journal.entries() == []


def _record_of(dispatcher, prefix: Path):
    relative = prefix.relative_to(dispatcher.data_directory).as_posix()
    return [e for e in dispatcher.journal.entries("store") if e.prefix == relative]


def test_a_removed_worker_finishing_late_keeps_the_newer_snapshots_record(
    data_dir, dispatchers, lab
):
    prefix = lab.write_acquisition(data_dir, version=1)
    landed: list[int] = []
    old_gate, new_gate = threading.Event(), threading.Event()
    old = Store(landed, old_gate)
    dispatcher = dispatchers(data_dir, [old], gates_to_open=[old_gate, new_gate], max_attempts=1)
    dispatcher.submit(prefix)  # T1
    assert old.started.wait(60)
    dispatcher.remove("store")  # keeps copying T1
    new = Store(landed, new_gate)
    dispatcher.add(new)  # resumes T1: waits for the old worker's lease
    lab.rewrite_h5(prefix, 2)
    dispatcher.submit(prefix)  # T2, for the new worker only
    old_gate.set()
    assert new.started.wait(60)  # the old worker delivered T1 and released its lease
    assert len(_record_of(dispatcher, prefix)) == 1  # T2 is still undelivered: journaled
    new_gate.set()
    assert dispatcher.wait(60)
    assert landed == [1, 2]
    assert dispatcher.journal.entries() == []


def test_another_dispatcher_delivering_an_older_snapshot_keeps_the_newer_record(
    data_dir, dispatchers, lab
):
    """= a kernel and `labmate sync` in another process, on one data directory."""
    busy = lab.write_acquisition(data_dir, stamp="2026_11_24__16_56_30")
    prefix = lab.write_acquisition(data_dir, stamp="2026_11_24__16_56_31", version=1)
    landed: list[int] = []
    kernel_gate, sync_gate = threading.Event(), threading.Event()
    kernel_store = Store(landed, kernel_gate)
    kernel = dispatchers(data_dir, [kernel_store], gates_to_open=[kernel_gate, sync_gate])
    kernel.submit(busy)
    assert kernel_store.started.wait(60)  # the kernel's worker is busy on `busy`
    kernel.submit(prefix)  # T1: journaled, queued
    sync_store = Store(landed, sync_gate)
    sync = dispatchers(data_dir, gates_to_open=[sync_gate])
    sync.add(sync_store)  # resumes both; `busy` is leased by the kernel: copies `prefix`
    for _ in range(6000):  # a bound only (2 min), never a timing assertion
        if sync.status(prefix)["store"].state == State.COPYING:
            break
        time.sleep(0.02)
    assert sync.status(prefix)["store"].state == State.COPYING
    lab.rewrite_h5(prefix, 2)
    kernel.submit(prefix)  # T2 in the kernel
    sync_gate.set()
    _wait_done(sync, prefix)  # sync delivered T1 (version 1)
    assert len(_record_of(kernel, prefix)) == 1  # T2 is still undelivered: journaled
    kernel_gate.set()
    assert kernel.wait(60)
    assert landed[-1] == 2
    assert _record_of(kernel, prefix) == []


def test_a_removed_worker_failing_logs_one_warning(data_dir, dispatchers, lab, caplog):
    prefix = lab.write_acquisition(data_dir)
    gate = threading.Event()
    old = Store([], gate, fail=True)
    dispatcher = dispatchers(data_dir, [old], gates_to_open=[gate], max_attempts=1)
    dispatcher.submit(prefix)
    assert old.started.wait(60)
    dispatcher.remove("store")
    with caplog.at_level(logging.WARNING, logger="labmate_core.backends.worker"):
        gate.set()  # fails after its removal
        assert old.finished.wait(60)
        assert old_worker_done(dispatcher, prefix)
    (record,) = [r for r in caplog.records if "the backend was stopped" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "the old destination is gone" in record.getMessage()
    assert len(dispatcher.journal.entries("store")) == 1  # it stays journaled


def old_worker_done(dispatcher, prefix: Path) -> bool:
    """The removed worker settled: its lease on ``prefix`` is free again."""
    for _ in range(6000):  # a bound only (2 min), never a timing assertion
        lease = dispatcher.journal.lease("store", prefix)
        if lease is not None:
            lease.release()
            return True
        time.sleep(0.02)
    return False


def test_waiting_for_another_workers_lease_is_logged_once(data_dir, dispatchers, lab, caplog):
    prefix = lab.write_acquisition(data_dir, version=1)
    landed: list[int] = []
    gate = threading.Event()
    old = Store(landed, gate)
    dispatcher = dispatchers(data_dir, [old], gates_to_open=[gate], max_attempts=1)
    dispatcher.submit(prefix)
    assert old.started.wait(60)
    dispatcher.remove("store")
    with caplog.at_level(logging.INFO, logger="labmate_core.backends.worker"):
        dispatcher.add(Store(landed))  # resumes it: waits for the old worker's lease
        time.sleep(0.6)  # lets it look at the lease a few times (not a timing assertion)
        gate.set()
        assert dispatcher.wait(60)
    waits = [r for r in caplog.records if "being delivered by another worker" in r.getMessage()]
    assert len(waits) == 1 and waits[0].levelno == logging.INFO


def test_a_copy_of_files_that_changed_meanwhile_keeps_the_record_until_the_next(
    data_dir, dispatchers, lab
):
    """A delivery drops the pending record only when the files are still what it copied: a
    save during the copy (no submit yet, e.g. a loop's appends) keeps it for the next one."""
    prefix = lab.write_acquisition(data_dir, version=1)
    landed: list[int] = []
    gate = threading.Event()
    store = Store(landed, gate)
    dispatcher = dispatchers(data_dir, [store], gates_to_open=[gate])
    dispatcher.submit(prefix)
    assert store.started.wait(60)
    lab.rewrite_h5(prefix, 2)  # saved while being copied
    gate.set()
    assert dispatcher.wait(60) and landed == [1]
    assert len(_record_of(dispatcher, prefix)) == 1  # version 2 is not delivered: journaled
    dispatcher.submit(prefix)  # the submit that follows the save
    assert dispatcher.wait(60) and landed == [1, 2]
    assert dispatcher.journal.entries() == []


def test_a_record_another_worker_delivered_is_written_again_by_the_next_submit(
    data_dir, dispatchers, lab
):
    """`labmate sync` delivers the current files and drops the record while the kernel's worker
    still queues that acquisition; the kernel's next submit (newer files) must journal it."""
    busy = lab.write_acquisition(data_dir, stamp="2026_11_24__16_56_30")
    prefix = lab.write_acquisition(data_dir, stamp="2026_11_24__16_56_31", version=1)
    landed: list[int] = []
    kernel_gate = threading.Event()
    kernel_store = Store(landed, kernel_gate)
    kernel = dispatchers(data_dir, [kernel_store], gates_to_open=[kernel_gate])
    kernel.submit(busy)
    assert kernel_store.started.wait(60)  # the kernel's worker is busy on `busy`
    kernel.submit(prefix)  # journaled, queued behind `busy`
    sync = dispatchers(data_dir)
    sync.add(Store(landed))  # resumes `prefix` (`busy` is leased by the kernel)
    _wait_done(sync, prefix)
    assert _record_of(kernel, prefix) == []  # delivered as it is: dropped
    lab.rewrite_h5(prefix, 2)
    kernel.submit(prefix)  # newer files, while the kernel still queues the older submit
    assert len(_record_of(kernel, prefix)) == 1  # journaled again: a crash now loses nothing
    kernel_gate.set()
    assert kernel.wait(60) and landed[-1] == 2
    assert _record_of(kernel, prefix) == []


def test_workers_recording_their_first_deliveries_together_all_record(tmp_path: Path) -> None:
    """Several backends finishing the first delivery of a fresh data directory at once: each
    creates ``delivered.sqlite`` (switching it to WAL); SQLite answers one of them "database
    is locked" at once (no busy wait there), which must be retried, never lose a record."""
    from labmate_core.backends.delivered import DeliveryRecords
    from labmate_core.backends.identity import ContentIdentity

    identity = ContentIdentity({"a": {"key": [1, 2, 3, 4, 0], "sha256": "0"}}, "0")
    errors: list[BaseException] = []
    for trial in range(60):
        data = tmp_path / f"data{trial}"
        (data / "run").mkdir(parents=True)
        barrier = threading.Barrier(4)

        def deliver(name: str, data: Path = data, barrier: threading.Barrier = barrier) -> None:
            records = DeliveryRecords(data)  # each worker has its own connection
            barrier.wait()
            try:
                records.record(name, data / "run" / "p", identity)
            except OSError as error:
                errors.append(error)

        threads = [threading.Thread(target=deliver, args=(f"b{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if not errors:
            assert len(DeliveryRecords(data).all()) == 4
    assert not errors, errors[0]
