"""Torn copies, kernel restarts and SIGKILL: real threads and real processes."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from labmate_core.backends import (
    AcquisitionSnapshot,
    BackendDispatcher,
    MirrorDirectoryBackend,
    State,
)


def test_no_torn_copies_while_the_file_is_rewritten(data_dir, tmp_path, dispatchers, lab):
    size = 200_000  # 1.6 MB per version: a save takes a while
    prefix = lab.write_acquisition(data_dir, version=0, size=size)
    recorder = lab.RecordingBackend("rec")
    mirror = MirrorDirectoryBackend(tmp_path / "mirror")
    errors = []

    def listener(status):
        if status.last_error:
            errors.append(status.last_error)

    dispatcher = dispatchers(data_dir, [recorder, mirror], max_attempts=1)
    dispatcher.add_listener(listener)
    stop = threading.Event()
    written = []

    def writer():
        version = 0
        while not stop.is_set():
            version += 1
            lab.rewrite_h5(prefix, version, size)
            written.append(version)
            time.sleep(0.002)  # a real kernel does not save back to back; let a reader in

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(15):
            dispatcher.submit(prefix)
            assert dispatcher.wait(30)
            assert lab.read_version(mirror.root / "sine" / f"{prefix.name}.h5") >= 0
    finally:
        stop.set()
        thread.join()
    dispatcher.submit(prefix)
    assert dispatcher.wait(30)
    assert errors == []
    assert len(written) > 3
    versions = [v for _, v, _ in recorder.seen]
    assert versions == sorted(versions) and len(set(versions)) > 1  # saw several versions
    assert lab.read_version(mirror.root / "sine" / f"{prefix.name}.h5") == written[-1]


HANGING_SCRIPT = """
import os, signal, sys, threading
from labmate_core.backends import AcquisitionBackend, BackendDispatcher

class Hang(AcquisitionBackend):
    def save_snapshot(self, acquisition):
        threading.Event().wait()

backend = Hang()
backend.name = "target"
dispatcher = BackendDispatcher(sys.argv[1], [backend], drain_timeout=0.3)
for prefix in sys.argv[3:]:
    dispatcher.submit(prefix)
sys.stdout.write("submitted\\n")
sys.stdout.flush()
if sys.argv[2] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("ending", ["exit", "kill"])
def test_pending_work_resumes_after_restart(data_dir, tmp_path, lab, ending):
    prefixes = [lab.write_acquisition(data_dir, stamp=f"2026_11_24__16_56_3{i}") for i in range(2)]
    result = subprocess.run(
        [sys.executable, "-c", HANGING_SCRIPT, str(data_dir), ending, *map(str, prefixes)],
        capture_output=True,
        text=True,
        timeout=120,  # a normal exit must not wait for the hanging backend (atexit is bounded)
    )
    assert result.stdout == "submitted\n"
    if ending == "exit":
        assert result.returncode == 0
        assert "stay journaled" in result.stderr  # the drain timeout is reported
    else:
        assert result.returncode == -signal.SIGKILL
    mirror = MirrorDirectoryBackend(tmp_path / "mirror")
    mirror.name = "target"
    with BackendDispatcher(data_dir, backoff=0.01) as dispatcher:
        assert len(dispatcher.journal.entries("target")) == 2
        dispatcher.add(mirror)  # same name: resumes the journaled snapshots
        assert dispatcher.wait(30)
        assert {s["target"].state for s in dispatcher.status().values()} == {State.DONE}
        assert dispatcher.journal.entries() == []
    for prefix in prefixes:
        assert lab.read_version(mirror.root / "sine" / f"{prefix.name}.h5") == 1


COPY_LOOP_SCRIPT = """
import os, sys
from labmate_core.backends import AcquisitionSnapshot, MirrorDirectoryBackend

mirror = MirrorDirectoryBackend(sys.argv[2])
snapshot = AcquisitionSnapshot.from_prefix(sys.argv[1])
source = sys.argv[1] + ".h5"
for i in range(1, 100000):
    os.utime(source, ns=(i * 10**9, i * 10**9))  # a new version each time: never skipped
    mirror.save_snapshot(snapshot)
"""


def _kill_during_copy(source_prefix, root):
    folder = root / source_prefix.parent.name
    process = subprocess.Popen(
        [sys.executable, "-c", COPY_LOOP_SCRIPT, str(source_prefix), str(root)]
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if folder.is_dir() and any(n.endswith(".labmate-tmp") for n in os.listdir(folder)):
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.0005)
    finally:
        process.kill()
        process.wait()
    return process.pid


def test_sigkill_during_mirror_copy_leaves_no_partial_file(tmp_path):
    size = 48 * 2**20
    prefix = tmp_path / "DATA" / "big" / "2026_11_24__16_56_38__big"
    prefix.parent.mkdir(parents=True)
    content = bytes(range(256)) * (size // 256)
    prefix.with_name(prefix.name + ".h5").write_bytes(content)
    root = tmp_path / "mirror"
    final = root / "big" / f"{prefix.name}.h5"
    for _ in range(10):
        _kill_during_copy(prefix, root)
        leftovers = [n for n in os.listdir(root / "big") if n.endswith(".labmate-tmp")]
        if final.exists():
            assert final.read_bytes() == content  # complete, never partial
        if leftovers:  # killed mid-copy indeed
            break
    else:
        pytest.fail("never managed to kill the process during a copy")
    assert len(leftovers) == 1
    # the next copy cleans the dead process's temporary up and completes
    MirrorDirectoryBackend(root).save_snapshot(AcquisitionSnapshot.from_prefix(prefix))
    assert sorted(os.listdir(root / "big")) == [final.name]
    assert final.read_bytes() == content


def test_staging_is_cleaned_when_a_backend_raises(data_dir, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir)
    dispatcher = dispatchers(data_dir, [lab.RecordingBackend("rec", fail=5)], max_attempts=2)
    dispatcher.submit(prefix)
    assert dispatcher.wait(30)
    staging = data_dir / ".labmate" / "staging"
    assert [p for p in staging.rglob("*") if p.is_file()] == []


def test_snapshot_of_a_vanished_acquisition_fails_at_once(data_dir, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir)
    gate = threading.Event()
    blocker = lab.RecordingBackend("rec", gate=gate)
    dispatcher = dispatchers(data_dir, [blocker], gates_to_open=[gate])
    other = lab.write_acquisition(data_dir, stamp="2026_11_24__17_00_00")
    dispatcher.submit(other)
    assert blocker.started.wait(10)
    dispatcher.submit(prefix)
    for path in prefix.parent.glob(f"{prefix.name}*"):
        path.unlink()
    gate.set()
    assert dispatcher.wait(30)
    status = dispatcher.status(prefix)["rec"]
    assert status.state == State.FAILED and status.attempts == 1
    assert "does not exist" in status.last_error
