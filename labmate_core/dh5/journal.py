"""Rollback journal: the old bytes of a file, saved before they are overwritten.

A :class:`JournaledFile` is a binary file object (the kind h5py's ``fileobj`` driver takes) that,
before writing over any byte that existed when it was opened, appends the old page to a journal.
:func:`rollback` puts those pages back and restores the old length, so a process that dies in the
middle of a save leaves, once rolled back, exactly the file of the last save that returned.

The journal lives in the file's lock file (the writer holds it exclusively, so nobody else reads it
meanwhile), after the 8-byte write generation (see ``storage``): a header
``magic (8) | original size (8) | writer (48)``, then records of
``offset (8) | length (4) | crc32 (4) | old bytes``. Nothing after the generation means "no journal";
original size ``NO_FILE`` means the writer was creating a new file (nothing to roll back). A torn
last record is ignored: its data write had not started, because the record is written first.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import zlib

logger = logging.getLogger(__name__)

MAGIC = b"LMJRNL01"
PAGE = 4096
NO_FILE = 2**64 - 1
_HEADER = struct.Struct("<8sQ48s")
#: Where the journal starts in the lock file (the write generation comes first).
JOURNAL_OFFSET = 8
_RECORD = struct.Struct("<QII")


def fsync_enabled() -> bool:
    """Whether to fsync for power-loss durability (env ``LABMATE_FSYNC=1``)."""
    return os.environ.get("LABMATE_FSYNC", "").lower() in ("1", "true", "yes")


def write_header(journal_fd: int, orig_size: int, writer: str) -> None:
    """Start a journal: who writes, and the size to restore."""
    os.pwrite(journal_fd, _HEADER.pack(MAGIC, orig_size, writer.encode()[:48]), JOURNAL_OFFSET)


def read_header(blob: bytes) -> tuple[int, str] | None:
    """(original size, writer) of a journal, or None if it holds no valid header."""
    if len(blob) < _HEADER.size or blob[:8] != MAGIC:
        return None
    _, size, writer = _HEADER.unpack_from(blob)
    return size, writer.rstrip(b"\0").decode(errors="replace")


class JournaledFile(io.FileIO):
    """Read/write access to ``path`` that journals old bytes before overwriting them.

    A ``FileIO`` (reads and seeks stay in C); only ``write`` and ``truncate`` are intercepted.
    """

    def __init__(self, path: str | os.PathLike, journal_fd: int) -> None:
        super().__init__(path, "r+")
        self._orig_size = os.fstat(self.fileno()).st_size
        self._journal_fd = journal_fd
        self._journal_end = JOURNAL_OFFSET + _HEADER.size
        self._saved_pages: set[int] = set()
        self._fsync = fsync_enabled()
        self.discard = False

    def restart(self, journal_fd: int, writer: str) -> None:
        """Begin a new transaction on the still open file: today's content is what to restore."""
        self._orig_size = os.fstat(self.fileno()).st_size
        self._journal_fd = journal_fd
        self._journal_end = JOURNAL_OFFSET + _HEADER.size
        self._saved_pages.clear()
        write_header(journal_fd, self._orig_size, writer)

    @property
    def original_size(self) -> int:
        return self._orig_size

    def _save_old(self, start: int, stop: int) -> None:
        """Journal every not yet saved page of the old file that [start, stop) touches."""
        stop = min(stop, self._orig_size)
        if start >= stop:
            return
        records = []
        fd = self.fileno()
        for page in range(start // PAGE, (stop - 1) // PAGE + 1):
            if page in self._saved_pages:
                continue
            self._saved_pages.add(page)
            offset = page * PAGE
            old = os.pread(fd, min(PAGE, self._orig_size - offset), offset)
            records.append(_RECORD.pack(offset, len(old), zlib.crc32(old)) + old)
        if records:
            blob = b"".join(records)
            os.pwrite(self._journal_fd, blob, self._journal_end)
            self._journal_end += len(blob)
            if self._fsync:
                os.fsync(self._journal_fd)

    def write(self, data) -> int:  # type: ignore[override]
        if self.discard:  # a stale handle being closed: it must not touch the file
            return memoryview(data).nbytes
        pos = self.tell()
        if pos < self._orig_size:
            self._save_old(pos, pos + memoryview(data).nbytes)
        view = memoryview(data).cast("B")
        n, written = len(view), 0
        while written < n:
            written += super().write(view[written:]) or 0
        return n

    def truncate(self, size: int | None = None) -> int:
        size = self.tell() if size is None else size
        if self.discard:
            return size
        self._save_old(size, self._orig_size)
        return super().truncate(size)

    def sync(self) -> None:
        """fsync the data file when power-loss durability is asked for."""
        if self._fsync:
            os.fsync(self.fileno())


def rollback(path: str | os.PathLike, journal_fd: int, reason: str = "died during a save") -> bool:
    """Restore ``path`` from the journal in ``journal_fd``, then empty the journal.

    Returns True if a journal was applied. Idempotent: if interrupted, running it again gives the
    same result. The caller holds the exclusive lock.
    """
    size = os.fstat(journal_fd).st_size
    if size <= JOURNAL_OFFSET:
        return False
    blob = os.pread(journal_fd, size - JOURNAL_OFFSET, JOURNAL_OFFSET)
    header = read_header(blob)
    if header is None:
        logger.warning("Discarding an unreadable journal of %s", path)
    else:
        orig_size, writer = header
        logger.warning("Recovering %s: the writer (%s) %s", path, writer, reason)
        if orig_size != NO_FILE and os.path.exists(path):
            restored = _restore(path, blob, orig_size)
            logger.info("Rolled back %s to its last complete save (%d pages)", path, restored)
    os.ftruncate(journal_fd, JOURNAL_OFFSET)
    os.fsync(journal_fd)
    return True


def _restore(path: str | os.PathLike, blob: bytes, orig_size: int) -> int:
    pos = _HEADER.size
    restored = 0
    fd = os.open(path, os.O_RDWR)
    try:
        while pos + _RECORD.size <= len(blob):
            offset, length, crc = _RECORD.unpack_from(blob, pos)
            old = blob[pos + _RECORD.size : pos + _RECORD.size + length]
            if len(old) != length or zlib.crc32(old) != crc:
                break  # torn last record: its page was never overwritten
            os.pwrite(fd, old, offset)
            restored += 1
            pos += _RECORD.size + length
        os.ftruncate(fd, orig_size)
        os.fsync(fd)
    finally:
        os.close(fd)
    return restored
