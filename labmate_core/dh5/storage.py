"""The only way DH5 (and everything else) opens an ``.h5`` file.

* :func:`open_read` — shared lock, recovery of a crashed writer, read-only ``h5py.File``.
* :func:`open_write` — exclusive lock; a new file is created under a temporary name and renamed
  into place, an existing one is changed in place through a rollback journal.
* :func:`replace_atomically` — new content written aside, synced, renamed over the old file.
* :func:`file_lock` — the same lock for readers that are not h5py (backends staging a copy).

See ``docs/architecture.md`` for the guarantees.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import h5py

from .journal import NO_FILE, JournaledFile, fsync_enabled, rollback, write_header

logger = logging.getLogger(__name__)

#: Options for every file we create: a persistent free-space manager so that rewriting keys
#: reuses the space of what was deleted instead of growing the file without bound.
CREATE_OPTIONS = {"fs_strategy": "fsm", "fs_persist": True, "fs_threshold": 1}
#: Objects in the HDF5 1.8 format (compact/dense link storage): deleting and re-adding keys does
#: not leak the root group's local heap as the 1.6 format does. Any HDF5 since 2008 reads it.
LIBVER = ("v108", "latest")
#: A file is compacted after a save when more than this fraction of it is free space ...
COMPACT_FRACTION = 1 / 3
#: ... and the free space is larger than this many bytes.
COMPACT_MIN_BYTES = 16 * 1024

_WAIT_WARNING_S = 5.0
_READ_ONLY_ERRNOS = (errno.EACCES, errno.EROFS, errno.EPERM)


class LockTimeout(TimeoutError):
    """The file's lock could not be taken in time."""


def lock_path(path: str | os.PathLike) -> Path:
    """The hidden lock (and journal) file of ``path``: never matched by ``glob(prefix*)``."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def _writer_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def _check_target(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not an HDF5 file")


class FileLock:
    """A reader/writer lock on a file: ``flock`` of its hidden lock file.

    The kernel drops a dead process's ``flock``, so a crash never blocks later writers. The lock
    file holds the writer's journal while a write is under way; a non-empty lock file found by the
    next holder means its writer died: :func:`open_write` / :func:`open_read` roll back and log it.
    """

    def __init__(self, path: str | os.PathLike, shared: bool = False) -> None:
        self.path = lock_path(path)
        self.shared = shared
        self.fd: int | None = None

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the lock. False (shared only) when no lock file can exist here (read-only dir)."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if self.shared and exc.errno in _READ_ONLY_ERRNOS:
                logger.debug("No lock for %s (read-only location): reading unlocked", self.path)
                return False
            raise
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        start = time.monotonic()
        delay, warned = 0.0002, False
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if timeout is not None and waited >= timeout:
                    os.close(fd)
                    raise LockTimeout(f"{self.path} is held by another writer") from None
                if not warned and waited > _WAIT_WARNING_S:
                    logger.warning("Waiting for the lock %s held by another user", self.path)
                    warned = True
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)  # closing drops the flock

    @property
    def dirty(self) -> bool:
        """True when the lock file holds a journal (its writer died mid-save)."""
        return self.fd is not None and os.fstat(self.fd).st_size > 0

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike, shared: bool = True, timeout: float | None = None
) -> Iterator[None]:
    """Hold the lock of ``path`` (shared: no writer meanwhile; exclusive: nobody else).

    A shared holder never sees a half-written file: a dead writer's save is rolled back first.
    """
    if shared:
        lock = _shared_clean_lock(Path(path), timeout)
    else:
        lock = FileLock(path, shared=False)
        lock.acquire(timeout)
        _recover(Path(path), lock)
    try:
        yield
    finally:
        lock.release()


def _recover(path: Path, lock: FileLock, reason: str = "died during a save") -> bool:
    """Roll back what a dead writer left. The caller holds the exclusive lock."""
    assert lock.fd is not None
    return rollback(path, lock.fd, reason)


def _shared_clean_lock(path: Path, timeout: float | None) -> FileLock:
    """A shared lock on ``path`` with any dead writer's half save rolled back first."""
    lock = FileLock(path, shared=True)
    locked = lock.acquire(timeout)
    if locked and lock.dirty:
        lock.release()
        with file_lock(path, shared=False, timeout=timeout):
            pass  # rolls back
        lock.acquire(timeout)
    return lock


@contextlib.contextmanager
def open_read(path: str | os.PathLike, timeout: float | None = None) -> Iterator[h5py.File]:
    """Open ``path`` read-only while no writer is active."""
    path = Path(path)
    _check_target(path)
    if not path.exists():
        raise FileNotFoundError(f"No such HDF5 file: {path}")
    lock = _shared_clean_lock(path, timeout)
    try:
        with h5py.File(path, "r", locking=False) as file:
            yield file
    finally:
        lock.release()


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def _sync_path(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _write_new(path: Path, sync: bool) -> Iterator[h5py.File]:
    """Write a whole new file aside and rename it to ``path`` only if the block succeeds."""
    tmp = _temporary_sibling(path)
    try:
        with h5py.File(tmp, "w", locking=False, libver=LIBVER, **CREATE_OPTIONS) as file:
            yield file
        if sync:
            _sync_path(tmp)
        os.replace(tmp, path)
        if sync:
            _sync_path(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _compact(path: Path) -> None:
    """Rewrite ``path`` without its free space (same objects, attributes and layouts)."""
    before = path.stat().st_size
    with h5py.File(path, "r", locking=False) as src, _write_new(path, fsync_enabled()) as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        for name in src:
            src.copy(src[name], dst, name=name)
    logger.debug("Compacted %s: %d -> %d bytes", path, before, path.stat().st_size)


@contextlib.contextmanager
def open_write(path: str | os.PathLike, timeout: float | None = None) -> Iterator[h5py.File]:
    """Open ``path`` for writing under the exclusive lock; all or nothing of the block's changes.

    If the block raises, or the process dies, the file keeps the content it had before.
    """
    path = Path(path)
    _check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, shared=False)
    lock.acquire(timeout)
    assert lock.fd is not None
    try:
        _recover(path, lock)
        if not path.exists():
            write_header(lock.fd, NO_FILE, _writer_id())
            with _write_new(path, sync=fsync_enabled()) as file:
                yield file
            return
        write_header(lock.fd, os.path.getsize(path), _writer_id())
        with JournaledFile(path, lock.fd) as raw:
            try:
                with h5py.File(raw, "r+", locking=False, libver=LIBVER) as file:
                    yield file
                    free = file.id.get_freespace()
            except BaseException:
                raw.close()
                _recover(path, lock, "failed; nothing of that save was kept")
                raise
            raw.sync()
        os.ftruncate(lock.fd, 0)  # commit: the journal is no longer needed
        if free > COMPACT_MIN_BYTES and free > COMPACT_FRACTION * path.stat().st_size:
            _compact(path)  # atomic by itself (written aside, renamed)
    finally:
        os.ftruncate(lock.fd, 0)
        lock.release()


@contextlib.contextmanager
def replace_atomically(
    path: str | os.PathLike, timeout: float | None = None
) -> Iterator[h5py.File]:
    """Write a brand-new ``path``: the old content stays until the new one is complete and synced."""
    path = Path(path)
    _check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path, shared=False, timeout=timeout):
        with _write_new(path, sync=True) as file:
            yield file
