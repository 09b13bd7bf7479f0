"""The journal of pending snapshots: one file per submitted acquisition, whatever the backends."""

import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from labmate_core.backends import BackendDispatcher, MirrorDirectoryBackend, State
from labmate_core.backends.journal import Journal, JournalEntry, safe_slug


def _journal_files(data_dir):
    root = data_dir / ".labmate" / "pending"
    return sorted(p for p in root.glob("*.json")) if root.exists() else []


def test_one_file_per_acquisition_until_the_last_backend_delivered(data_dir, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir)
    gates = {name: threading.Event() for name in ("a", "b", "c")}
    backends = [lab.RecordingBackend(name, gate=gate) for name, gate in gates.items()]
    dispatcher = dispatchers(data_dir, backends, gates_to_open=list(gates.values()))
    dispatcher.submit(prefix)
    dispatcher.submit(prefix)  # superseding pending work: the same file, with the new time
    (path,) = _journal_files(data_dir)
    record = json.loads(path.read_text())
    assert record["prefix"] == "sine/2026_11_24__16_56_38__sine"
    assert sorted(record["backends"]) == ["a", "b", "c"]
    gates["a"].set()
    gates["b"].set()
    while any(dispatcher.status(prefix)[n].state != State.DONE for n in ("a", "b")):
        dispatcher.wait(0.05)  # c is still busy: poll
    assert dispatcher.status(prefix)["c"].state in (State.PENDING, State.COPYING)
    assert [e.backend for e in dispatcher.journal.entries()] == ["c"]
    gates["c"].set()
    assert dispatcher.wait(30)
    assert _journal_files(data_dir) == []
    assert [p.name for p in (data_dir / ".labmate" / "pending").iterdir()] == [".lock"]


def test_failed_backend_stays_beside_delivered_ones(data_dir, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir)
    dispatcher = dispatchers(
        data_dir, [lab.RecordingBackend("ok"), lab.RecordingBackend("bad", fail=9)], max_attempts=2
    )
    dispatcher.submit(prefix)
    assert dispatcher.wait(30)
    (entry,) = Journal(data_dir).entries()  # read by another Journal, as `labmate status` does
    assert (entry.backend, entry.state, entry.attempts) == ("bad", "failed", 2)
    assert "simulated failure 2" in entry.last_error
    assert len(_journal_files(data_dir)) == 1


def test_records_of_the_first_layout_are_resumed_and_removed(data_dir, tmp_path, lab):
    prefix = lab.write_acquisition(data_dir)
    legacy = Journal(data_dir).legacy_path("old", prefix)
    assert legacy.parent.name == safe_slug("old")
    legacy.parent.mkdir(parents=True)
    record = {"version": 1, "backend": "old", "prefix": "sine/" + prefix.name, "submitted": 1.0}
    legacy.write_text(json.dumps(record))
    assert [(e.backend, e.state) for e in Journal(data_dir).entries()] == [("old", "pending")]
    mirror = MirrorDirectoryBackend(tmp_path / "m")
    mirror.name = "old"
    with BackendDispatcher(data_dir, [mirror]) as dispatcher:
        assert dispatcher.wait(30)
        assert dispatcher.status(prefix)["old"].state == State.DONE
    assert not legacy.exists() and Journal(data_dir).entries() == []
    assert (tmp_path / "m" / "sine" / f"{prefix.name}.h5").exists()


def test_concurrent_updates_from_two_journals_lose_nothing(data_dir, lab):
    prefix = lab.write_acquisition(data_dir)
    journals = [Journal(data_dir), Journal(data_dir)]  # two processes' views

    def churn(journal, names):
        for _ in range(30):
            journal.add_pending(prefix, names)
            for name in names[1:]:
                journal.remove(name, prefix)

    threads = [
        threading.Thread(target=churn, args=(journals[i], [f"keep{i}", f"tmp{i}"]))
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(e.backend for e in Journal(data_dir).entries()) == ["keep0", "keep1"]


KILLED_SCRIPT = """
import os, signal, sys, threading
from labmate_core.backends import AcquisitionBackend, BackendDispatcher

class Hang(AcquisitionBackend):
    def __init__(self, name):
        self.name = name

    def save_snapshot(self, acquisition):
        threading.Event().wait()

dispatcher = BackendDispatcher(sys.argv[1], [Hang("usb"), Hang("nas"), Hang("cloud")])
dispatcher.submit(sys.argv[2])
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_sigkill_right_after_submit_keeps_every_backend(data_dir, tmp_path, lab):
    prefix = lab.write_acquisition(data_dir)
    result = subprocess.run(
        [sys.executable, "-c", KILLED_SCRIPT, str(data_dir), str(prefix)], timeout=120
    )
    assert result.returncode == -signal.SIGKILL
    assert sorted(e.backend for e in Journal(data_dir).entries()) == ["cloud", "nas", "usb"]
    mirrors = {}
    for name in ("usb", "nas"):  # resumed one name at a time: the others stay journaled
        mirrors[name] = MirrorDirectoryBackend(tmp_path / name)
        mirrors[name].name = name
        with BackendDispatcher(data_dir, [mirrors[name]]) as dispatcher:
            assert dispatcher.wait(30)
    assert [e.backend for e in Journal(data_dir).entries()] == ["cloud"]
    for name in ("usb", "nas"):
        assert lab.read_version(tmp_path / name / "sine" / f"{prefix.name}.h5") == 1
    assert not [n for n in os.listdir(data_dir / ".labmate" / "pending") if n.endswith(".tmp")]


def test_a_delivered_older_snapshot_keeps_the_newer_record(data_dir, lab):
    prefix = lab.write_acquisition(data_dir)
    journal = Journal(data_dir)
    journal.add_pending(prefix, ["a"], submitted=1.0)
    journal.add_pending(prefix, ["a"], submitted=2.0)  # a newer snapshot
    journal.remove("a", prefix, submitted=1.0)
    assert [e.submitted for e in journal.entries()] == [2.0]
    journal.add_pending(prefix, ["a"], submitted=1.0)  # a stale resume: the later time stays
    assert [e.submitted for e in journal.entries()] == [2.0]
    journal.remove("a", prefix, submitted=2.0)
    assert journal.entries() == []


def test_the_status_of_an_older_snapshot_does_not_replace_a_newer_record(data_dir, lab):
    prefix = lab.write_acquisition(data_dir)
    journal = Journal(data_dir)
    journal.add_pending(prefix, ["a"], submitted=2.0)
    journal.write(JournalEntry("a", "", state="failed", attempts=5, submitted=1.0), prefix)
    (entry,) = journal.entries()
    assert (entry.state, entry.submitted) == ("pending", 2.0)
    journal.write(JournalEntry("a", "", state="failed", attempts=5, submitted=2.0), prefix)
    assert [e.state for e in journal.entries()] == ["failed"]


def test_a_submit_writes_its_own_spec_and_a_status_update_keeps_it(data_dir, lab):
    prefix = lab.write_acquisition(data_dir)
    journal = Journal(data_dir)
    spec = {"kind": "mirror", "args": ["/old"], "kwargs": {}}
    journal.add_pending(prefix, ["a"], submitted=1.0, specs={"a": spec})
    journal.write(JournalEntry("a", "", state="failed", submitted=1.0), prefix)
    assert journal.entries()[0].spec == spec
    journal.add_pending(prefix, ["a"], submitted=2.0)  # another backend named "a": no spec
    assert journal.entries()[0].spec is None


def test_a_backend_re_added_under_a_name_does_not_inherit_the_old_spec(
    data_dir, tmp_path, dispatchers, lab
):
    class FailingMirror(MirrorDirectoryBackend):
        def save_snapshot(self, acquisition):
            raise OSError("down")

    prefix = lab.write_acquisition(data_dir)
    dispatcher = dispatchers(data_dir, max_attempts=1)
    dispatcher.add(FailingMirror(tmp_path / "old-mirror"), name="archive")
    dispatcher.submit(prefix)
    assert dispatcher.wait(30)
    assert journal_spec(data_dir) is not None
    dispatcher.remove("archive")  # stays journaled (failed), with the mirror's spec
    dispatcher.add(lab.RecordingBackend(fail=9), name="archive")  # resumes it: no spec
    assert dispatcher.wait(30)
    assert journal_spec(data_dir) is None


def journal_spec(data_dir):
    (entry,) = Journal(data_dir).entries("archive")
    return entry.spec


def test_a_lease_that_cannot_be_locked_closes_its_file_and_warns_once(
    data_dir, lab, monkeypatch, caplog
):
    """flock failing with ENOLCK (NFS without a lock daemon): simulated, the only way here."""
    import errno
    import fcntl
    import logging

    real_flock = fcntl.flock
    locked: list[int] = []

    def flock(fd, operation):
        if operation & fcntl.LOCK_NB:
            locked.append(fd)
            raise OSError(errno.ENOLCK, "No locks available")
        return real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    journal = Journal(data_dir)
    with caplog.at_level(logging.WARNING, logger="labmate_core.backends.journal"):
        for i in range(5):
            lease = journal.lease("store", data_dir / "sine" / f"x{i}")
            assert (lease.path, lease.fd) == (None, None)  # delivering without a lease
            with pytest.raises(OSError):
                os.fstat(locked[-1])  # its file was closed
    assert len(locked) == 5
    warnings = [r for r in caplog.records if "cannot take delivery leases" in r.getMessage()]
    assert len(warnings) == 1
