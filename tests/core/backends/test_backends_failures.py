import logging
import os
import shutil
import subprocess
import threading
import time

import pytest

from labmate_core.backends import AcquisitionBackend, MirrorDirectoryBackend, State


class TimedFailures(AcquisitionBackend):
    """Fails ``fail`` times, recording when each call happened."""

    def __init__(self, fail):
        self.fail = fail
        self.times = []

    def save_snapshot(self, acquisition):
        self.times.append(time.monotonic())
        if len(self.times) <= self.fail:
            raise ConnectionError(f"server unreachable (call {len(self.times)})")


def test_retries_with_backoff_then_succeeds(data_dir, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir)
    backend = TimedFailures(fail=2)
    dispatcher = dispatchers(data_dir, [backend], max_attempts=5, backoff=0.05, max_backoff=1)
    dispatcher.submit(prefix)
    assert dispatcher.wait(30)
    status = dispatcher.status(prefix)["TimedFailures"]
    assert (status.state, status.attempts, status.last_error) == (State.DONE, 3, None)
    gaps = [b - a for a, b in zip(backend.times, backend.times[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.10  # exponential backoff (lower bounds only)
    assert dispatcher.journal.entries() == []


def test_gives_up_visibly(data_dir, dispatchers, lab, caplog):
    caplog.set_level(logging.DEBUG, logger="labmate_core.backends")
    prefix = lab.write_acquisition(data_dir)
    other = lab.RecordingBackend("ok")
    dispatcher = dispatchers(data_dir, [TimedFailures(fail=100), other], max_attempts=3)
    dispatcher.submit(prefix)
    assert dispatcher.wait(30)  # finished: done or failed
    status = dispatcher.status(prefix)["TimedFailures"]
    assert status.state == State.FAILED and status.attempts == 3
    assert "Traceback" in status.last_error
    assert "ConnectionError: server unreachable (call 3)" in status.last_error
    assert dispatcher.status(prefix)["ok"].state == State.DONE
    # logged: each failed attempt before the last as ONE warning line (error, attempt n/max,
    # next retry), the final give-up as an error with the traceback
    messages = [r for r in caplog.records if "failed on" in r.getMessage()]
    failures = [r for r in messages if r.levelno >= logging.WARNING]
    assert [r.levelno for r in failures] == [logging.WARNING] * 2
    # the full traceback of every attempt only at DEBUG
    debug = [r for r in messages if r.levelno == logging.DEBUG]
    assert len(debug) == 3 and all(r.exc_info for r in debug)
    for n, record in enumerate(failures, start=1):
        message = record.getMessage()
        assert "\n" not in message and record.exc_info is None
        assert f"ConnectionError: server unreachable (call {n})" in message
        assert f"attempt {n}/3" in message and "next retry in" in message
    (gave_up,) = [r for r in caplog.records if "gave up" in r.getMessage()]
    assert gave_up.levelno == logging.ERROR
    message = gave_up.getMessage()
    assert "\n" not in message and "ConnectionError: server unreachable (call 3)" in message
    # kept in the journal with its error, for `labmate status` / `labmate sync`
    (entry,) = dispatcher.journal.entries()
    assert (entry.backend, entry.state, entry.attempts) == ("TimedFailures", "failed", 3)
    assert "server unreachable" in entry.last_error and "Traceback" in entry.last_error


def test_hanging_backend_never_deadlocks(data_dir, dispatchers, lab):
    hang = threading.Event()
    hanging = lab.RecordingBackend("hang", gate=hang)
    ok = lab.RecordingBackend("ok")
    prefixes = [lab.write_acquisition(data_dir, stamp=f"2026_11_24__16_56_3{i}") for i in range(2)]
    dispatcher = dispatchers(data_dir, [hanging, ok], gates_to_open=[hang])
    for prefix in prefixes:
        dispatcher.submit(prefix)
    assert dispatcher.wait(0.5) is False
    assert hanging.started.is_set()
    assert dispatcher.status(prefixes[0])["hang"].state == State.COPYING
    assert dispatcher.status(prefixes[1])["hang"].state == State.PENDING
    # the other backend completed meanwhile
    assert {dispatcher.status(p)["ok"].state for p in prefixes} == {State.DONE}
    assert dispatcher.close(0.2) is False  # bounded, the work stays journaled
    assert {e.backend for e in dispatcher.journal.entries()} == {"hang"}


def _make_read_only(path):
    """chmod; as root (which ignores modes) also the immutable attribute. Returns an undo."""
    os.chmod(path, 0o555)
    immutable = False
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            os.chmod(path, 0o755)
            pytest.skip("running as root without chattr: cannot make a directory read-only")
        immutable = subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
        if not immutable:
            os.chmod(path, 0o755)
            pytest.skip("running as root and chattr +i is not permitted here")

    def undo():
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        os.chmod(path, 0o755)

    return undo


def test_read_only_mirror_fails_clearly_and_loses_nothing(data_dir, tmp_path, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir)
    before = {p.name: p.read_bytes() for p in prefix.parent.iterdir() if not p.name.startswith(".")}
    root = tmp_path / "mirror"
    (root / "sine").mkdir(parents=True)
    undo = _make_read_only(root / "sine")
    try:
        dispatcher = dispatchers(data_dir, [MirrorDirectoryBackend(root)], max_attempts=2)
        dispatcher.submit(prefix)
        assert dispatcher.wait(30)
        status = dispatcher.status(prefix)[f"mirror:{root}"]
        assert status.state == State.FAILED
        assert "PermissionError" in status.last_error
        assert list((root / "sine").iterdir()) == []
    finally:
        undo()
    after = {p.name: p.read_bytes() for p in prefix.parent.iterdir() if not p.name.startswith(".")}
    assert after == before  # nothing lost locally
    assert dispatcher.journal.entries()[0].state == "failed"
    # once writable again, the next submit delivers
    dispatcher.submit(prefix)
    assert dispatcher.wait(30)
    assert dispatcher.status(prefix)[f"mirror:{root}"].state == State.DONE
    assert (root / "sine" / f"{prefix.name}.h5").exists()
    assert dispatcher.journal.entries() == []


def test_mirror_that_disappears_and_comes_back(data_dir, tmp_path, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir)
    root = tmp_path / "usb"
    mirror = MirrorDirectoryBackend(root)
    root.rename(tmp_path / "unplugged")

    def replug(status):
        if status.state == State.PENDING and status.attempts == 1:  # first attempt failed
            (tmp_path / "unplugged").rename(root)

    dispatcher = dispatchers(data_dir, [mirror], max_attempts=5, backoff=0.05)
    dispatcher.add_listener(replug)
    dispatcher.submit(prefix)
    assert dispatcher.wait(30)
    status = dispatcher.status(prefix)[mirror.name]
    assert status.state == State.DONE and status.attempts >= 2
    assert lab.read_version(root / "sine" / f"{prefix.name}.h5") == 1
    # the mirror never recreated the missing root on the local disk by itself
    assert not (tmp_path / "unplugged").exists()
