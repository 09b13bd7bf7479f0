"""Interpreter exit: the drain delivers what it can and journals the rest (real processes)."""

from __future__ import annotations

import json
import subprocess
import sys

from labmate_core import index
from labmate_core.backends import BackendDispatcher, MirrorDirectoryBackend, State

# The mirror's copies wait until the interpreter is exiting (an atexit hook registered last,
# so it runs first): every delivery happens during the dispatcher's exit drain.
EXIT_SCRIPT = """
import atexit, functools, os, sys, threading
from labmate_core.backends import BackendDispatcher, MirrorDirectoryBackend
from labmate_core.dh5 import storage
from labmate_core import index
import numpy as np

exiting = threading.Event()

class MirrorAfterExit(MirrorDirectoryBackend):
    def copy_file(self, source, target):
        exiting.wait()
        super().copy_file(source, target)

data, mirror_root, prefix = sys.argv[1:4]
mirror = MirrorAfterExit(mirror_root)
mirror.name = "mirror"
dispatcher = BackendDispatcher(data, [mirror], drain_timeout=60)
dispatcher.add_listener(functools.partial(index.on_backend_status, data_directory=data))

def journal_lock_still_open():  # runs after weakref's exit hooks, before the exit drain
    journal = dispatcher.journal
    try:
        same = os.path.samestat(os.fstat(journal._lock_fd), os.stat(journal.root / ".lock"))
    except OSError:
        same = False
    sys.stdout.write(f"journal lock open at the drain: {same}\\n")

atexit.register(journal_lock_still_open)
for version in range(2, 6):
    with storage.open_write(prefix + ".h5") as f:
        f["data"][...] = np.full(f["data"].shape, version)
        f.attrs["version"] = version
    dispatcher.submit(prefix)
atexit.register(exiting.set)
sys.stdout.write("saved\\n")
"""


def _pending_files(data_dir):
    pending = data_dir / ".labmate" / "pending"
    return sorted(p.name for p in pending.glob("*.json")) if pending.exists() else []


def test_normal_exit_delivers_the_last_version_and_empties_the_journal(data_dir, tmp_path, lab):
    prefix = lab.write_acquisition(data_dir)
    root = tmp_path / "mirror"
    result = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(data_dir), str(root), str(prefix)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "saved\njournal lock open at the drain: True\n"
    assert "Bad file descriptor" not in result.stderr
    assert "stay journaled" not in result.stderr
    assert lab.read_version(root / "sine" / f"{prefix.name}.h5") == 5
    assert _pending_files(data_dir) == []
    # the index heard of the delivery made during the drain
    assert index.open_index(data_dir).get(prefix).sync["mirror"].state == "done"


HANG_SCRIPT = """
import sys, threading
from labmate_core.backends import AcquisitionBackend, BackendDispatcher

class Hang(AcquisitionBackend):
    def save_snapshot(self, acquisition):
        threading.Event().wait()

hang = Hang()
hang.name = "hang"
dispatcher = BackendDispatcher(sys.argv[1], [hang], drain_timeout=0.5)
dispatcher.submit(sys.argv[2])
sys.stdout.write("submitted\\n")
"""


def test_exit_with_a_hanging_backend_ends_and_keeps_the_entry(data_dir, tmp_path, lab):
    prefix = lab.write_acquisition(data_dir)
    result = subprocess.run(
        [sys.executable, "-c", HANG_SCRIPT, str(data_dir), str(prefix)],
        capture_output=True,
        text=True,
        timeout=60,  # a hang would raise TimeoutExpired: the exit drain is bounded
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "submitted\n"
    assert "stay journaled" in result.stderr
    [record] = _pending_files(data_dir)
    content = json.loads((data_dir / ".labmate" / "pending" / record).read_text())
    assert list(content["backends"]) == ["hang"]
    assert content["backends"]["hang"]["state"] == "pending"
    mirror = MirrorDirectoryBackend(tmp_path / "mirror")
    with BackendDispatcher(data_dir, backoff=0.01) as dispatcher:
        dispatcher.add(mirror, name="hang")  # the next run resumes it
        assert dispatcher.wait(60)
        assert {s["hang"].state for s in dispatcher.status().values()} == {State.DONE}
    assert lab.read_version(mirror.root / "sine" / f"{prefix.name}.h5") == 1
    assert _pending_files(data_dir) == []
