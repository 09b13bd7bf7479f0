"""A reader of another user: the owner's lock file (0644) cannot be opened for writing, yet a
shared flock needs no write access: the reader waits for the owner's save instead of reading
a half-written file; after a writer died, the reader (who may not roll back) reads with a warning.
Each check runs in a child that drops to uid nobody after the imports (root only)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from labmate_core.dh5 import DH5, storage
from labmate_core.dh5.errors import LockTimeout

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to become another user"
)


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp())  # not under pytest's private (0700) folders
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def as_nobody(check: Callable[[], int], groups: list[int] | None = None) -> int:
    """Run ``check`` in a child running as uid/gid 65534 (in ``groups``); its return value is
    the exit code."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 70
        try:
            os.setgroups(groups or [])
            os.setgid(65534)
            os.setuid(65534)
            code = check()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_another_users_reader_waits_for_the_owners_save(shared_folder: Path) -> None:
    path = shared_folder / "run.h5"
    d = DH5(path, "w")
    d["x"] = np.arange(10.0)
    d.save()
    assert not os.stat(storage.lock_path(path)).st_mode & 0o002  # nobody may not write it

    def read_during_the_save() -> int:
        try:
            with storage.open_read(path, timeout=0.3):
                return 1  # read while the owner was writing
        except LockTimeout:
            return 0

    with storage.open_write(path) as file:  # the owner is in the middle of a save
        file["y"] = np.arange(5.0)
        assert as_nobody(read_during_the_save) == 0
    assert as_nobody(lambda: 0 if sorted(DH5(path).keys()) == ["x", "y"] else 1) == 0


def test_another_users_reader_of_a_dead_writers_file_reads_with_a_warning(
    shared_folder: Path,
) -> None:
    path = shared_folder / "run.h5"
    d = DH5(path, "w")
    d["x"] = np.arange(10.0)
    d.save()
    lock = storage.FileLock(path, shared=False)
    lock.acquire()
    lock.begin_write()  # a writer that dies here: the generation stays odd
    lock.release()

    def read() -> int:
        import logging

        seen = []
        handler = logging.Handler()
        handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
        logging.getLogger("labmate_core.dh5.storage").addHandler(handler)
        ok = np.array_equal(DH5(path)["x"], np.arange(10.0))
        return 0 if ok and any("cannot be rolled back" in m for m in seen) else 1

    assert as_nobody(read) == 0
    with storage.open_read(path):  # the owner's next use recovers it
        pass
    assert storage.generation(path) % 2 == 0


def test_a_group_member_saves_to_a_group_writable_file(shared_folder: Path) -> None:
    """A shared group folder and a umask of 002: the owner's new file is group-writable, and so
    is its lock file (made with the same umask), so another member of the group can save."""
    os.chown(shared_folder, 0, 65534)
    os.chmod(shared_folder, 0o2775)
    path = shared_folder / "run.h5"
    old = os.umask(0o002)
    try:
        d = DH5(path, "w")
        d["x"] = 1.0
        d.save()
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o020  # group-writable

    def save() -> int:
        member = DH5(path, "a")
        member["y"] = 2.0
        member.save()
        return 0

    assert as_nobody(save, groups=[65534]) == 0  # a member of the folder's group
    assert sorted(DH5(path).keys()) == ["x", "y"]


def test_a_symlink_planted_in_the_machine_wide_lock_folder_is_never_followed(
    shared_folder: Path,
) -> None:
    """The folder of hard-linked files' locks is world-writable, and every file's other lock is
    looked for there: a symlink another user put at a file's lock name must not lead the owner's
    recovery to truncate (or chmod) whatever it points at."""
    from labmate_core.dh5 import locknames

    path = shared_folder / "run.h5"
    d = DH5(path, "w")
    d["x"] = np.arange(10.0)
    d.save()
    precious = shared_folder / "precious.txt"
    precious.write_text("the owner's notes\n" * 100)
    os.chmod(precious, 0o600)
    st = os.stat(path)
    link = locknames.LINK_LOCK_DIR / f"{st.st_dev}-{st.st_ino}.lock"
    locknames._make_link_lock_dir()
    assert not os.path.lexists(link)

    def plant() -> int:
        os.symlink(precious, link)
        return 0

    assert as_nobody(plant) == 0
    try:
        assert np.array_equal(DH5(path)["x"], np.arange(10.0))  # the owner reads ...
        d = DH5(path, "a")
        d["y"] = 1.0
        d.save()  # ... and writes
        os.link(path, shared_folder / "other-name.h5")  # its lock is now the planted link
        with pytest.raises(OSError):
            d["z"] = 2.0
            d.save()
        assert precious.read_text() == "the owner's notes\n" * 100
        assert os.stat(precious).st_mode & 0o777 == 0o600
    finally:
        os.unlink(link)
