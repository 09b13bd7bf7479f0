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
import io
import logging
import os
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import h5py

from .. import runtime
from . import compaction
from .errors import FileAppearedError, FileBusyError, LockTimeout, SaveFailedError
from .journal import (
    NO_FILE,
    JournaledFile,
    clear,
    fsync_enabled,
    has_journal,
    pwrite_all,
    rollback,
    write_header,
)
from .locknames import (
    LINK_LOCK_DIR,
    lock_path,
    lock_paths,
    other_dirty,
    real_path,
    recover_other,
)

logger = logging.getLogger(__name__)

#: Options for every file we create: a persistent free-space manager so that rewriting keys
#: reuses the space of what was deleted instead of growing the file without bound.
CREATE_OPTIONS = {"fs_strategy": "fsm", "fs_persist": True, "fs_threshold": 1}
#: Objects in the HDF5 1.8 format (compact/dense link storage): deleting and re-adding keys does
#: not leak the root group's local heap as the 1.6 format does. Any HDF5 since 2008 reads it.
LIBVER = ("v108", "latest")

T = TypeVar("T")

_WAIT_WARNING_S = 5.0
_READ_ONLY_ERRNOS = (errno.EACCES, errno.EROFS, errno.EPERM)
_NO_ROOM_ERRNOS = (errno.ENOSPC, errno.EDQUOT)  # a full disk: no lock file can be created


_HOST = socket.gethostname()


def _writer_id() -> str:
    """Who writes, as recorded in the journal (shown if that writer dies mid-save)."""
    return f"{_HOST}:{os.getpid()}:{threading.get_ident() % 100000}"


def _check_target(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not an HDF5 file")


_GENERATION = struct.Struct("<Q")


def _read_generation(fd: int) -> int:
    raw = os.pread(fd, _GENERATION.size, 0)
    return _GENERATION.unpack(raw)[0] if len(raw) == _GENERATION.size else 0


def _path_generation(lock: Path | None) -> int:
    """The generation held by the lock file ``lock`` (0 when there is none)."""
    if lock is None:
        return 0
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return 0
    try:
        return _read_generation(fd)
    except OSError:
        return 0
    finally:
        os.close(fd)


def generation(path: str | os.PathLike) -> int:
    """The write generation of ``path``: odd while a write is under way, +2 per finished write.

    Readers that do not want to block writers copy optimistically and compare the generation
    before and after (a seqlock): see :func:`read_consistently`.
    """
    try:
        fd = os.open(lock_path(path), os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return 0
    try:
        return _read_generation(fd)
    finally:
        os.close(fd)


class FileLock:
    """A reader/writer lock on a file: ``flock`` of its hidden lock file.

    The kernel drops a dead process's ``flock``, so a crash never blocks later writers. The lock
    file holds the write generation (8 bytes), then the writer's journal while a write is under
    way. An odd generation or a journal found by the next holder means the writer died:
    :func:`open_write` / :func:`open_read` roll back and log it.
    """

    def __init__(
        self, path: str | os.PathLike, shared: bool = False, keep_open: bool = False
    ) -> None:
        self.path, self.other = lock_paths(path)
        self.shared = shared
        self.fd: int | None = None
        #: Set when a rollback failed: the journal stays for the next holder to apply.
        self.keep_journal = False
        self._keep_open = keep_open  # reuse the descriptor across acquire/release (sessions)
        self._shared_dir = self.path.parent == LINK_LOCK_DIR
        self._kept: int | None = None

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the lock. False (shared only) when no lock file can exist here (read-only dir)."""
        fd, self._kept = self._kept, None
        if fd is None:
            try:
                # 0666 as for the file itself: the umask decides (002: a group's shared folder);
                # never through a symlink (a lock folder others may write: it would truncate
                # and chmod whatever file the link points at)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
            except OSError as exc:
                if not self.shared or exc.errno not in _READ_ONLY_ERRNOS + _NO_ROOM_ERRNOS:
                    raise
                try:  # another user's lock file (0644): a shared flock needs no write access
                    fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
                except OSError:
                    # no lock file can be made: no writer of ours can be under way either
                    logger.debug("No lock for %s (%s): reading unlocked", self.path, exc.strerror)
                    return False
            if self._shared_dir:  # every user's writers of that hard-linked file use it
                with contextlib.suppress(OSError):
                    os.fchmod(fd, 0o666)
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
                    self._close(fd)
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
            if self._keep_open:
                fcntl.flock(fd, fcntl.LOCK_UN)
                self._kept = fd
            else:
                os.close(fd)  # closing drops the flock

    def _close(self, fd: int) -> None:
        if self._keep_open:
            self._kept = fd
        else:
            os.close(fd)

    def close(self) -> None:
        """Release, and close a descriptor kept open for reuse."""
        self.release()
        if self._kept is not None:
            os.close(self._kept)
            self._kept = None

    @property
    def generation(self) -> int:
        assert self.fd is not None
        return _read_generation(self.fd)

    @property
    def dirty(self) -> bool:
        """True when a writer died mid-save (odd generation or a journal left behind)."""
        if self.fd is None:
            return False
        return self.generation % 2 == 1 or has_journal(self.fd)

    def begin_write(self) -> None:
        """Make the generation odd: optimistic readers will know a write is under way.

        The generation never goes back for the file: when its other lock (see ``lock_paths``:
        the one used before a hard link was made or removed) is ahead, it continues from there,
        so a generation seen once never stands for two contents (``identity``'s keys)."""
        assert self.fd is not None and not self.shared
        gen = self.generation
        floor = _path_generation(self.other)
        if floor > gen:
            pwrite_all(self.fd, _GENERATION.pack(floor + floor % 2 + 1), 0)
        elif gen % 2 == 0:
            pwrite_all(self.fd, _GENERATION.pack(gen + 1), 0)

    def end_write(self) -> int:
        """Drop the journal (the commit point) and make the generation even again (unless a
        rollback failed: the journal then stays, the generation odd, for the next holder)."""
        assert self.fd is not None and not self.shared
        gen = self.generation
        if self.keep_journal:
            self.keep_journal = False
            return gen
        clear(self.fd)
        if gen % 2 == 1:
            gen += 1
            pwrite_all(self.fd, _GENERATION.pack(gen), 0)
        return gen

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def _exclusive(
    path: Path, timeout: float | None, keys: list[str] | None = None
) -> Iterator[FileLock]:
    """The exclusive lock with any dead writer's half save rolled back, write generation odd.

    A disk error on the way (no space or inode for the lock file or its generation) raises
    :class:`SaveFailedError` naming ``path`` and ``keys``: nothing of the save was written."""
    lock = FileLock(path, shared=False)
    with _disk_errors(path, keys):
        lock.acquire(timeout)
    try:
        with _disk_errors(path, keys):
            _recover(path, lock)
            lock.begin_write()
        try:
            yield lock
        finally:
            lock.end_write()
    finally:
        lock.release()


@contextlib.contextmanager
def _disk_errors(path: Path, keys: list[str] | None) -> Iterator[None]:
    """Raise a disk error (no space, I/O error) met in the block as :class:`SaveFailedError`."""
    try:
        yield
    except OSError as exc:
        error = _io_error(exc)
        if error is None:
            raise
        raise SaveFailedError(error, path, keys) from exc


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike, shared: bool = True, timeout: float | None = None
) -> Iterator[None]:
    """Hold the lock of ``path`` (shared: no writer meanwhile; exclusive: nobody else).

    A shared holder never sees a half-written file: a dead writer's save is rolled back first.
    """
    if not shared:
        with _exclusive(Path(path), timeout):
            yield
        return
    lock = _shared_clean_lock(Path(path), timeout)
    try:
        yield
    finally:
        lock.release()


def _recover(
    path: Path,
    lock: FileLock,
    reason: str = "died during a save",
    own: bool = False,
    other: bool = True,
) -> bool:
    """Roll back what a dead writer (or, ``own``, our failed save) left; with ``other``, also a
    journal left under the file's other lock (:func:`lock_path`). The caller holds the exclusive
    lock. If the rollback itself fails, the journal is kept for the next holder."""
    assert lock.fd is not None
    try:
        if rollback(path, lock.fd, reason, own=own, journal_path=lock.path):
            return _dead_writer_cleaned(path, own)
    except BaseException:
        lock.keep_journal = True
        raise
    if not own and other and recover_other(path, lock.other):
        return _dead_writer_cleaned(path, own)
    if lock.generation % 2 == 1:
        logger.warning("Recovered the lock of %s: its writer died before changing the file", path)
        return _dead_writer_cleaned(path, own)
    return False


def _dead_writer_cleaned(path: Path, own: bool) -> bool:
    """Remove what a dead writer was writing aside (``.<name>.<hex>.tmp``, up to the file's
    size): under the exclusive lock nobody else writes one. Returns True (recovered)."""
    if own:
        return True  # our own failed save removed its own
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{12}}\.tmp")
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if pattern.fullmatch(entry.name):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    logger.warning("Removed %s, left by a writer that died", entry.path)
    return True


def _shared_clean_lock(path: Path, timeout: float | None) -> FileLock:
    """A shared lock on ``path`` with any dead writer's half save rolled back first."""
    lock = FileLock(path, shared=True)
    locked = lock.acquire(timeout)
    if locked and (lock.dirty or other_dirty(lock.other)):
        lock.release()
        try:
            with _exclusive(path, timeout):
                pass  # rolls back
        except OSError as exc:  # another user's file, a read-only disk: no rollback here
            if exc.errno not in _READ_ONLY_ERRNOS:
                raise
            logger.warning(
                "%s holds a save left unfinished by a writer that died; it cannot be rolled "
                "back without write access (%s): reading it as it was left",
                path,
                exc,
            )
        lock.acquire(timeout)
    return lock


def read_consistently(
    path: str | os.PathLike,
    read: Callable[[], T],
    attempts: int = 3,
    locked_read: Callable[[], T] | None = None,
) -> T:
    """Run ``read()`` (which reads ``path`` and its companions) without blocking writers.

    ``read`` runs optimistically and is run again if a write happened meanwhile (the write
    generation changed; an error ``read`` raised meanwhile, e.g. h5py parsing a half-written
    file, is such a torn read too); after ``attempts`` ``locked_read`` (default: ``read``) runs under the
    shared lock instead. Writers wait for that one: it must be a fast local copy, never I/O to
    a slow or remote destination (copy to a local staging file, ship it after this returns).
    """
    for attempt in range(attempts):
        before = generation(path)
        if before % 2 == 0:
            try:
                result = read()
            except Exception:
                if generation(path) == before:
                    raise  # not a torn read: the file was not written meanwhile
            else:
                if generation(path) == before:
                    return result
        time.sleep(min(0.005 * 2**attempt, 0.1))
    with file_lock(path, shared=True):
        return (read if locked_read is None else locked_read)()


@contextlib.contextmanager
def open_read(path: str | os.PathLike, timeout: float | None = None) -> Iterator[h5py.File]:
    """Open ``path`` read-only while no writer is active."""
    path = real_path(path)[0]  # a symlink: its target is what is written
    _check_target(path)
    if not path.exists():
        raise FileNotFoundError(f"No such HDF5 file: {path}")
    with runtime.hdf5_use():
        lock = _shared_clean_lock(path, timeout)
        try:
            with _h5_open_read(path) as file:
                yield file
        finally:
            lock.release()


def _h5_open_read(path: Path) -> h5py.File:
    """``h5py.File(path, 'r')`` with HDF5's default locking flags: HDF5 refuses to open a file
    already open in this process with other flags, so a background reader of ours (index,
    panel) opened with ``locking=False`` would make a user's plain ``h5py.File(path)`` (labmate,
    dh5) fail meanwhile. Our own lock file does the real work; when HDF5's lock is refused (a
    filesystem without locks, a foreign writer) or the file is already open here without
    locking, the file is opened without HDF5 locking."""
    try:
        return h5py.File(path, "r")
    except OSError as error:
        if "lock" not in str(error):
            raise
        return h5py.File(path, "r", locking=False)


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def _sync_path(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_HDF5_ERRNO = re.compile(r"errno = (\d+)")
#: Errors of the disk itself: a save they interrupt raises :class:`SaveFailedError`.
_IO_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def _io_error(exc: BaseException) -> OSError | None:
    """The disk error (no space, I/O error) ``exc`` is, or that HDF5 reports in its message."""
    if not isinstance(exc, OSError) or isinstance(exc, SaveFailedError):
        return None
    code = exc.errno
    if code is None:
        match = _HDF5_ERRNO.search(str(exc))
        code = int(match.group(1)) if match else None
    if code not in _IO_ERRNOS:
        return None
    return OSError(code, os.strerror(code))  # HDF5's message is many lines long


class _AsideFile(io.FileIO):
    """A new file written aside, given to h5py as a file object rather than by name: HDF5's own
    (sec2) driver crashes the process (SIGSEGV, HDF5 2.0) when it closes a new file whose writes
    failed for lack of space; through a file object the failure is an exception. The first
    write error is kept in :attr:`error` (h5py's file-object driver does not pass it on)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "w+")
        self.error: OSError | None = None

    def write(self, data) -> int:  # type: ignore[override]
        if self.error is not None:
            raise self.error
        view = memoryview(data).cast("B")
        written = 0
        try:
            while written < len(view):
                done = super().write(view[written:])
                if not done:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                written += done
        except OSError as exc:
            self.error = exc
            raise
        return written

    def truncate(self, size: int | None = None) -> int:
        try:
            return super().truncate(size)
        except OSError as exc:
            if self.error is None:
                self.error = exc
            raise


@contextlib.contextmanager
def _write_new(
    path: Path, sync: bool, replace: bool = True, keys: list[str] | None = None
) -> Iterator[h5py.File]:
    """Write a whole new file aside and rename it to ``path`` only if the block succeeds.

    With ``replace=False`` an existing ``path`` is never replaced: the file is linked into
    place, and :class:`FileAppearedError` is raised if ``path`` exists by then. A disk error
    (no space) raises :class:`SaveFailedError`; ``path`` is untouched.
    """
    tmp = _temporary_sibling(path)
    try:
        with _AsideFile(tmp) as raw:
            try:
                with h5py.File(raw, "w", locking=False, libver=LIBVER, **CREATE_OPTIONS) as file:
                    file.aside_path = str(tmp)  # the name it is written under (compaction)
                    yield file
                if sync:
                    os.fsync(raw.fileno())
            except BaseException:
                if raw.error is None:
                    raise
                raise raw.error from None  # h5py's own error does not name it (or is another)
            if raw.error is not None:  # h5py may have gone on after a failed write
                raise raw.error
        if replace:
            os.replace(tmp, path)
        else:
            _publish_new(tmp, path)
        if sync:
            _sync_path(path.parent)
    except OSError as exc:
        error = _io_error(exc)
        if error is None:
            raise
        raise SaveFailedError(error, path, keys) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def _write_first(path: Path, lock: FileLock, keys: list[str] | None = None) -> Iterator[h5py.File]:
    """Under the exclusive ``lock``, the file that does not exist yet: written aside, linked
    into place (never over one made meanwhile: :class:`FileAppearedError`)."""
    assert lock.fd is not None
    try:
        write_header(lock.fd, NO_FILE, _writer_id())
    except OSError as exc:
        raise SaveFailedError(exc, path, keys) from exc
    with _write_new(path, sync=fsync_enabled(), replace=False, keys=keys) as file:
        yield file


def _open_journaled(path: Path, lock: FileLock, keys: list[str] | None) -> JournaledFile:
    """The file opened for an in-place change, its journal started (first page's checksum, space
    reserved): running out of space here raises before the file is touched."""
    assert lock.fd is not None
    try:
        return JournaledFile(path, lock.fd, _writer_id())
    except OSError as exc:
        raise SaveFailedError(exc, path, keys) from exc


def _failed(
    raw: JournaledFile, path: Path, lock: FileLock, keys: list[str] | None
) -> SaveFailedError | None:
    """After a failed in-place change: roll it back (the handle may no longer write); the
    disk error to raise instead of h5py's (which does not name it), if that was the cause."""
    raw.discard = True
    error = raw.error
    _recover(path, lock, "failed; nothing of that save was kept", own=True)
    return SaveFailedError(error, path, keys) if error is not None else None


def _check_no_hdf5_writer(path: Path) -> None:
    """Raise :class:`FileBusyError` when HDF5 holds its writer's lock on ``path`` (a plain
    ``h5py.File`` open for writing, here or in another process: it would overwrite what we
    write in place when it flushes). Our own writes do not take that lock."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # let the write itself report it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise FileBusyError(
            errno.EWOULDBLOCK,
            "the file is open for writing elsewhere (a plain h5py.File in mode 'a'/'w', or "
            "another program): close it, then save again; nothing was written",
            str(path),
        ) from None
    except OSError:
        pass  # a filesystem without locks: nothing to tell
    finally:
        os.close(fd)  # closing drops our shared lock


def _publish_new(tmp: Path, path: Path) -> None:
    """Put ``tmp`` in place as ``path`` unless ``path`` exists (a hard link cannot replace a
    file; where links are not supported, a check then a rename)."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        pass
    except OSError:  # no hard links here (FAT, some FUSE and network filesystems)
        if not path.exists():
            os.replace(tmp, path)
            return
    raise FileAppearedError(
        errno.EEXIST, "created meanwhile by a writer that does not take our lock", str(path)
    )


@contextlib.contextmanager
def open_write(
    path: str | os.PathLike, timeout: float | None = None, keys: list[str] | None = None
) -> Iterator[h5py.File]:
    """Open ``path`` for writing under the exclusive lock; all or nothing of the block's changes.

    If the block raises, or the process dies, the file keeps the content it had before. A disk
    error (no space, I/O error) raises :class:`SaveFailedError` naming ``keys`` (what is saved).
    """
    path = real_path(path)[0]  # a symlink: its target is what is written
    _check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with runtime.hdf5_use(), _exclusive(path, timeout, keys) as lock:
        assert lock.fd is not None
        if not path.exists():
            with _write_first(path, lock, keys) as file:
                yield file
            return
        _check_no_hdf5_writer(path)
        with _open_journaled(path, lock, keys) as raw:
            try:
                with h5py.File(raw, "r+", locking=False, libver=LIBVER) as file:
                    yield file
                    free = file.id.get_freespace()
                raw.sync()
                if raw.error is not None:  # h5py may have gone on after a failed write
                    raise raw.error
            except BaseException as exc:
                error = _failed(raw, path, lock, keys)
                if error is not None:
                    raise error from exc
                raise
        clear(lock.fd)  # commit: the journal is no longer needed
        if path.stat().st_nlink == 1:  # a hard-linked file is not compacted: the rename splits it
            try:  # written aside, renamed
                compaction.compact(path, free, _write_new, fsync_enabled())
            except Exception as exc:  # the save is complete: only the free space stays
                # (on a full disk HDF5's object copy raises RuntimeError, not OSError)
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                logger.warning("Could not compact %s (%s); its free space stays", path, reason)


@contextlib.contextmanager
def replace_atomically(
    path: str | os.PathLike, timeout: float | None = None
) -> Iterator[h5py.File]:
    """Write a brand-new ``path``: the old content stays until the new one is complete and synced."""
    path = real_path(path)[0]  # a symlink: its target is what is written
    _check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with runtime.hdf5_use(), _exclusive(path, timeout):
        with _write_new(path, sync=True) as file:
            yield file


def exists(path: str | os.PathLike) -> bool:
    """``os.path.exists(path)``."""
    return os.path.exists(path)


class WriteSession:
    """An ``.h5`` file kept open across many small all-or-nothing commits (loop appends).

    Each :meth:`transaction` takes the exclusive lock, journals, flushes and commits like
    :func:`open_write`, but keeps the HDF5 handle between transactions so an append costs a flush,
    not an open and a close. The lock is released in between, so readers and other writers get
    their turn; if anybody else wrote meanwhile (the write generation moved), the stale handle is
    closed without writing anything and the file is opened afresh.
    """

    def __init__(self, path: str | os.PathLike, timeout: float | None = None) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._raw: JournaledFile | None = None
        self._file: h5py.File | None = None
        self._generation = -1
        self._lock = FileLock(self.path, shared=False, keep_open=True)
        #: Changes whenever the HDF5 handle is reopened: objects (datasets) taken from an older
        #: handle must be looked up again.
        self.epoch = 0

    def _same_file(self) -> bool:
        """Whether the open handle is still the file's, under the same lock (a hard link made
        or removed since moves the lock: :func:`lock_path`; the lock is then taken afresh)."""
        assert self._raw is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        if (st.st_nlink > 1) != (self._lock.path.parent == LINK_LOCK_DIR):
            self._lock.close()
            self._lock = FileLock(self.path, shared=False, keep_open=True)
            return False
        return os.path.samestat(os.fstat(self._raw.fileno()), st)

    def _drop(self) -> None:
        """Forget the open handle without letting it write (its view of the file is stale)."""
        if self._raw is not None:
            self._raw.discard = True
            with contextlib.suppress(Exception):
                if self._file is not None:
                    self._file.close()
            self._raw.close()
        self._raw = self._file = None

    @contextlib.contextmanager
    def _commit(self, open_file: bool, keys: list[str] | None = None) -> Iterator[h5py.File | None]:
        """Lock, drop a stale handle, journal; yield the handle; commit, or roll back if it raises.

        Yields None (and writes nothing) when there is no handle and ``open_file`` is False.
        """
        lock = self._lock
        lock.acquire(self.timeout)
        assert lock.fd is not None
        try:
            recovered = _recover(self.path, lock, other=self._file is None)
            if recovered or lock.generation != self._generation:
                self._drop()
            if self._file is None and not open_file:
                yield None
                return
            try:
                lock.begin_write()
            except OSError as exc:
                raise SaveFailedError(exc, self.path, keys) from exc
            if self._file is None:
                self._raw = _open_journaled(self.path, lock, keys)
                try:
                    self._file = h5py.File(self._raw, "r+", locking=False, libver=LIBVER)
                except BaseException as exc:
                    error = _failed(self._raw, self.path, lock, keys)
                    self._drop()
                    if error is not None:
                        raise error from exc
                    raise
                self.epoch += 1
            else:
                assert self._raw is not None
                try:
                    self._raw.restart(lock.fd, _writer_id())
                except OSError as exc:
                    self._drop()  # its journal is incomplete: the handle is not to be trusted
                    raise SaveFailedError(exc, self.path, keys) from exc
            raw = self._raw
            try:
                yield self._file
                raw.sync()
                if raw.error is not None:
                    raise raw.error
            except BaseException as exc:
                error = _failed(raw, self.path, lock, keys)
                self._drop()
                if error is not None:
                    raise error from exc
                raise
        finally:
            self._generation = lock.end_write()
            lock.release()

    @contextlib.contextmanager
    def transaction(self, keys: list[str] | None = None) -> Iterator[h5py.File]:
        """A write to the session's file: committed when the block ends, rolled back if it raises
        (:class:`SaveFailedError` naming ``keys`` on a disk error)."""
        with runtime.hdf5_use():
            if self._raw is not None and not self._same_file():
                self._drop()  # deleted or replaced behind our back: never write into a lost inode
            if self._file is None and not self.path.exists():
                with open_write(self.path, self.timeout, keys) as file:  # created aside
                    yield file
                return
            with self._commit(open_file=True, keys=keys) as file:
                assert file is not None
                yield file
                file.flush()

    def close(self) -> None:
        """Close the file (its final metadata written in a last transaction)."""
        try:
            if self._file is not None:
                with runtime.hdf5_use(), self._commit(open_file=False) as file:
                    if file is not None:
                        file.close()
                if self._raw is not None:
                    self._raw.close()
                self._raw = self._file = None
        finally:
            self._lock.close()

    def __enter__(self) -> WriteSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
