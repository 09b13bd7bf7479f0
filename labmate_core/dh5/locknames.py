"""Which lock (and journal) file a file has: one per file, whatever name it is reached by.

The lock is the hidden ``.<name>.lock`` next to the real file: a symlink to the file is
resolved, while symlinked directories and ``..`` need nothing (the kernel resolves them to the
same lock file). A file with several hard links has no one directory all its names agree on,
so its lock is keyed on (device, inode) in the machine-wide :data:`LINK_LOCK_DIR`. When a hard
link is made or removed, the lock moves; a journal a dead writer left under the other one is
still found (:func:`recover_other`) through the name it was written by.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from pathlib import Path

from .journal import has_journal, rollback

#: Where the locks of hard-linked files live (see :func:`lock_path`).
LINK_LOCK_DIR = Path(tempfile.gettempdir()) / "labmate-locks"


def lock_path(path: str | os.PathLike) -> Path:
    """The lock (and journal) file of ``path``: one per file, whatever name it is reached by.

    The lock is the hidden ``.<name>.lock`` next to the real file (never matched by
    ``glob(prefix*)``): a symlink to the file is resolved, while symlinked directories and
    ``..`` need nothing (the kernel resolves them to the same lock file). A file with several
    hard links has no one directory all its names agree on, so its lock is keyed on (device,
    inode) in the machine-wide :data:`LINK_LOCK_DIR` (shared by every user of this machine; not
    on a network share, so two machines writing one hard-linked file are not kept apart).
    """
    return lock_paths(path)[0]


def lock_paths(path: str | os.PathLike) -> tuple[Path, Path | None]:
    """The lock file of ``path`` (:func:`lock_path`), and the one it has under the other naming
    (by inode, or beside it; None if the file does not exist), where a writer may have died
    before a hard link was made or removed."""
    real, st = real_path(path)
    beside = real.with_name(f".{real.name}.lock")
    if st is None:
        return beside, None
    by_inode = LINK_LOCK_DIR / f"{st.st_dev}-{st.st_ino}.lock"
    if st.st_nlink > 1 and stat.S_ISREG(st.st_mode):
        _make_link_lock_dir()
        return by_inode, beside
    return beside, by_inode


def real_path(path: str | os.PathLike) -> tuple[Path, os.stat_result | None]:
    """``path`` with a symlink to the file resolved, and the file's stat (None if missing)."""
    real = Path(path)
    try:
        st = os.lstat(real)
    except OSError:
        return real, None
    if stat.S_ISLNK(st.st_mode):
        real = Path(os.path.realpath(real))
        try:
            st = os.stat(real)
        except OSError:
            return real, None
    return real, st


def _make_link_lock_dir() -> None:
    if LINK_LOCK_DIR.is_dir():
        return
    with contextlib.suppress(FileExistsError):
        LINK_LOCK_DIR.mkdir()
        with contextlib.suppress(OSError):
            os.chmod(LINK_LOCK_DIR, 0o1777)  # every user's locks, none removable by others


def recover_other(path: Path, other: Path | None) -> bool:
    """Roll back a journal left under the file's ``other`` lock (skipped while somebody holds
    it)."""
    if other is None:
        return False
    try:
        fd = os.open(other, os.O_RDWR | os.O_NOFOLLOW)  # a planted symlink: not ours
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return rollback(path, fd, "died during a save (under another name)", journal_path=other)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def other_dirty(other: Path | None) -> bool:
    """Whether the file's ``other`` lock holds a journal."""
    if other is None:
        return False
    try:
        fd = os.open(other, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        return has_journal(fd)
    finally:
        os.close(fd)
