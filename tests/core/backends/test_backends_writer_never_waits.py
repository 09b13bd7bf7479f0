"""The kernel's writer never waits for a backend: slow destinations are written outside any lock."""

from __future__ import annotations

import fcntl
import os
import queue
import threading
from pathlib import Path

from labmate_core.backends import MirrorDirectoryBackend
from labmate_core.backends.status import State
from labmate_core.dh5 import storage

MAX_SAVES = 200  # a bound, never reached: saves go on until the copy is done


def _lock_free(h5: Path) -> bool:
    """Whether an exclusive lock of ``h5`` could be taken right now (nobody holds it)."""
    fd = os.open(storage.lock_path(h5), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


class SlowDestinationMirror(MirrorDirectoryBackend):
    """A mirror whose destination writes are slow: each one waits for a save of the kernel.

    Each write to the destination first checks that the source is not locked by this copy
    (the writer could take its lock now), then asks the main thread for a save and waits until
    it is done, so the source keeps changing under the copy: the optimistic copies never
    succeed and the copy has to fall back to the shared lock.
    """

    def __init__(self, root: Path, live_h5: Path):
        super().__init__(root)
        self.live_h5 = live_h5
        self.requests: queue.Queue[int | None] = queue.Queue()
        self.done: queue.Queue[int] = queue.Queue()
        self.saves = 0
        self.lock_free_during_write: list[bool] = []

    def copy_file(self, source: Path, target: Path) -> None:
        free = _lock_free(self.live_h5)
        self.lock_free_during_write.append(free)
        if free and self.saves < MAX_SAVES:
            self.saves += 1
            self.requests.put(self.saves)
            self.done.get(timeout=120)  # deadlock guard only: the save never waits on us
        super().copy_file(source, target)


def _save_on_request(mirror: SlowDestinationMirror, prefix: Path, lab) -> int:
    """The kernel thread: a real save each time the backend asks, until its copy ended."""
    version = 1
    while mirror.requests.get(timeout=120) is not None:
        version += 1
        lab.rewrite_h5(prefix, version)
        mirror.done.put(version)
    return version


def test_saves_never_wait_for_a_slow_mirror_destination(data_dir, tmp_path, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir)
    h5 = prefix.with_name(prefix.name + ".h5")
    mirror = SlowDestinationMirror(tmp_path / "mirror", h5)
    dispatcher = dispatchers(data_dir, [mirror], max_attempts=1)
    dispatcher.add_listener(lambda status: status.finished and mirror.requests.put(None))
    dispatcher.submit(prefix)
    version = _save_on_request(mirror, prefix, lab)
    assert dispatcher.wait(120)
    # no destination write ever happened while the source was locked by the backend...
    assert mirror.lock_free_during_write and all(mirror.lock_free_during_write)
    # ...though the copy had to fall back to the lock (every optimistic try was spoiled)
    assert mirror.saves > 3 * 4
    mirror.saves = MAX_SAVES  # no more saves: the next copy delivers the last version
    dispatcher.submit(prefix)
    assert dispatcher.wait(120)
    assert {s.state for s in dispatcher.status(prefix).values()} == {State.DONE}
    assert lab.read_version(tmp_path / "mirror" / "sine" / h5.name) == version
    staging = data_dir / ".labmate" / "staging"
    assert not any(p.is_file() for p in staging.rglob("*"))  # the local staging copy is gone


def test_a_mirror_called_directly_also_ships_outside_the_lock(data_dir, tmp_path, lab):
    prefix = lab.write_acquisition(data_dir)
    h5 = prefix.with_name(prefix.name + ".h5")
    mirror = SlowDestinationMirror(tmp_path / "mirror", h5)
    from labmate_core.backends import AcquisitionSnapshot

    def copy() -> None:
        try:
            mirror.save_snapshot(AcquisitionSnapshot.from_prefix(prefix))
        finally:
            mirror.requests.put(None)

    worker = threading.Thread(target=copy)
    worker.start()
    version = _save_on_request(mirror, prefix, lab)
    worker.join(120)
    assert not worker.is_alive()
    assert all(mirror.lock_free_during_write)
    assert mirror.saves > 3 * 4
    assert lab.read_version(tmp_path / "mirror" / "sine" / h5.name) <= version
