"""Whole-file copies that never leave a partial file under the final name."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)

_FICLONE = 0x40049409  # linux/fs.h: share the blocks of another file (btrfs, xfs, ...)
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]+\.labmate-tmp$")
_FSYNC = os.environ.get("LABMATE_FSYNC", "") not in ("", "0")


def clone_or_copy(source: Path, destination: Path) -> None:
    """Copy ``source`` to ``destination`` with metadata, as cheaply as the filesystem allows.

    Shares the blocks where supported (reflink), else copies inside the kernel
    (``copy_file_range``, like ``cp``), else through ``shutil``.
    """
    with open(source, "rb") as src, open(destination, "wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        except OSError as error:
            if error.errno not in _UNSUPPORTED:
                raise
            _kernel_copy(src.fileno(), dst.fileno(), os.fstat(src.fileno()).st_size)
    shutil.copystat(source, destination)


_UNSUPPORTED = (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.ENOSYS)


def _kernel_copy(src: int, dst: int, size: int) -> None:
    copied = 0
    try:
        while copied < size:
            n = os.copy_file_range(src, dst, min(size - copied, 1 << 30))
            if n == 0:
                break  # the source shrank: the caller's checks notice
            copied += n
        return
    except OSError as error:
        if error.errno not in _UNSUPPORTED or copied:
            raise
    os.lseek(src, 0, os.SEEK_SET)
    os.lseek(dst, 0, os.SEEK_SET)
    os.ftruncate(dst, 0)
    with open(src, "rb", closefd=False) as fsrc, open(dst, "wb", closefd=False) as fdst:
        shutil.copyfileobj(fsrc, fdst, 1 << 20)


def temporary_name(final: Path) -> Path:
    """A hidden name beside ``final`` that records this process's id."""
    return final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.labmate-tmp")


def remove_stale_temporaries(folder: Path) -> None:
    """Delete temporaries of copies whose process died (a SIGKILL during a copy)."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        match = _TMP_RE.match(entry.name)
        if match and not process_alive(int(match.group("pid"))):
            logger.info("removing the leftover of an interrupted copy: %s", entry.path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)


def process_alive(pid: int) -> bool:
    """Whether a process with id ``pid`` is running (this one counts as alive); a killed one
    its parent has not yet waited for (a zombie) is dead."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(0) is the answer
    return state not in (b"Z", b"X")


def atomic_copy(source: Path, destination: Path) -> None:
    """Copy ``source`` to ``destination`` via a temporary name, size-checked, then renamed.

    A copy that is interrupted leaves only a hidden temporary, never a partial ``destination``.
    """
    tmp = temporary_name(destination)
    try:
        clone_or_copy(source, tmp)
        expected, got = source.stat().st_size, tmp.stat().st_size
        if expected != got:
            raise OSError(f"copy of {source} is {got} bytes instead of {expected}")
        sync_file(tmp)
        os.replace(tmp, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def same_file_state(a: os.stat_result, b: os.stat_result) -> bool:
    """Whether two stats of one file show it untouched in between (size, mtime, ctime, inode).
    Never used to judge two different files equal: that is the content identity's job."""
    return (a.st_size, a.st_mtime_ns, a.st_ctime_ns, a.st_ino) == (
        b.st_size,
        b.st_mtime_ns,
        b.st_ctime_ns,
        b.st_ino,
    )


def sync_file(path: Path) -> None:
    """fsync ``path`` when ``LABMATE_FSYNC`` is set (durability against power loss)."""
    if _FSYNC:
        with open(path, "rb+") as handle:
            os.fsync(handle.fileno())


def sync_directory(path: Path) -> None:
    """fsync the folder ``path`` (its renames) when ``LABMATE_FSYNC`` is set."""
    if _FSYNC:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
