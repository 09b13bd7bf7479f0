"""Rollback journal: the old bytes of a file, saved before they are overwritten.

A :class:`JournaledFile` is a binary file object (the kind h5py's ``fileobj`` driver takes) that,
before writing over any byte that existed when it was opened, appends the old page to a journal.
:func:`rollback` puts those pages back and restores the old length, so a process that dies in the
middle of a save leaves, once rolled back, exactly the file of the last save that returned.

The journal lives in the file's lock file (the writer holds it exclusively, so nobody else reads it
meanwhile), after the 8-byte write generation (see ``storage``): a header
``magic (8) | original size (8) | device (8) | inode (8) | nonce (8) | crc32 of page 0 (4) |
writer (48)``, then records
of ``kind (1) | offset (8) | length (4) | crc32 of the page (4) | crc32 of the record (4) | bytes``
(the record's checksum is seeded with the header's, so records of an earlier journal left in the
reserved space never count). A zeroed magic means "no journal": committing is zeroing it, and
the reserved space stays allocated for the next save (the lock file keeps about 64 KiB).

* ``OLD`` (with the page's old bytes): written, complete and checked (fsynced with
  ``LABMATE_FSYNC=1``), before the page is first overwritten.
* ``NEW`` (no bytes): the checksum the page will hold after the next write, recorded before it.

Recovery (:func:`rollback` of a journal left by a dead writer) restores the pages only when the
file is still the writer's: same device and inode, every saved page holding its old content or one
the writer recorded. Otherwise (the file was replaced, rewritten or edited since) the file is not
touched and the journal is moved aside. Every write is checked: a short write or an error
(``ENOSPC``, ``EIO``) raises before the page it protects is touched. A torn last record (all
zeros, or a bad checksum) ends the journal: its page write had not started.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import struct
import time
import zlib

logger = logging.getLogger(__name__)

MAGIC = b"LMJRNL02"
PAGE = 4096
NO_FILE = 2**64 - 1
_HEADER = struct.Struct("<8sQQQQI48s")
#: Where the journal starts in the lock file (the write generation comes first).
JOURNAL_OFFSET = 8
_RECORD = struct.Struct("<BQII")
_CHECK = struct.Struct("<I")
_OLD, _NEW = 1, 2
#: Journal space reserved (allocated) before a save touches its file: a save's journal is
#: usually a few metadata pages, so running out of space happens before the file is changed.
RESERVE = 64 * 1024


def fsync_enabled() -> bool:
    """Whether to fsync for power-loss durability (env ``LABMATE_FSYNC=1``)."""
    return os.environ.get("LABMATE_FSYNC", "").lower() in ("1", "true", "yes")


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """``os.pwrite`` of all of ``data``; a short write is continued, no progress raises ENOSPC."""
    done = os.pwrite(fd, data, offset)
    if done == len(data):  # bytes, or a view of bytes
        return
    if done <= 0:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    view = memoryview(data).cast("B")
    while done < len(view):
        n = os.pwrite(fd, view[done:], offset + done)
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        done += n


def _record(seed: int, kind: int, offset: int, payload: bytes | bytearray, crc: int) -> bytes:
    head = _RECORD.pack(kind, offset, len(payload), crc)
    return head + _CHECK.pack(zlib.crc32(payload, zlib.crc32(head, seed))) + payload


def has_journal(journal_fd: int) -> bool:
    """Whether the lock file holds a journal (a magic that is not zeroed)."""
    return any(os.pread(journal_fd, len(MAGIC), JOURNAL_OFFSET))


def clear(journal_fd: int) -> None:
    """Commit: zero the journal's magic (its space stays reserved for the next save)."""
    if os.fstat(journal_fd).st_size > JOURNAL_OFFSET:
        pwrite_all(journal_fd, bytes(len(MAGIC)), JOURNAL_OFFSET)


def _reserve(fd: int, size: int) -> None:
    """Allocate the lock file up to ``size`` bytes (zeros), so journal writes cannot run out."""
    if os.fstat(fd).st_size >= size:
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
        current = os.fstat(fd).st_size
        if current < size:
            pwrite_all(fd, bytes(size - current), current)


def write_header(
    journal_fd: int, orig_size: int, writer: str, data_fd: int | None = None
) -> tuple[int, int]:
    """Start a journal: who writes, which file, the size to restore. Returns where records go
    and the seed of their checksums.

    With ``data_fd`` (an existing file), the checksum of its first page (where HDF5 keeps the
    file's size: any rewrite changes it) is recorded and the journal's space is reserved; any
    error (no space) raises here, before the file is touched.
    """
    dev = ino = first = 0
    if data_fd is not None:
        st = os.fstat(data_fd)
        dev, ino = st.st_dev, st.st_ino
        if orig_size not in (0, NO_FILE):
            first = zlib.crc32(_pread_all(data_fd, min(PAGE, orig_size), 0))
            _reserve(journal_fd, JOURNAL_OFFSET + _HEADER.size + RESERVE)
    nonce = time.time_ns() ^ (os.getpid() << 40)
    header = _HEADER.pack(MAGIC, orig_size, dev, ino, nonce, first, writer.encode()[:48])
    seed = zlib.crc32(header)
    blob = header
    # one write within the lock file's first page: a process dies before or after it
    pwrite_all(journal_fd, blob + bytes(_RECORD.size), JOURNAL_OFFSET)
    if data_fd is not None and fsync_enabled():
        os.fsync(journal_fd)
    return JOURNAL_OFFSET + len(blob), seed


def read_header(blob: bytes) -> tuple[int, str] | None:
    """(original size, writer) of a journal, or None if it holds no valid header."""
    if len(blob) < _HEADER.size or blob[:8] != MAGIC:
        return None
    _, size, _, _, _, _, writer = _HEADER.unpack_from(blob)
    return size, writer.rstrip(b"\0").decode(errors="replace")


def _pread_all(fd: int, size: int, offset: int) -> bytes:
    parts = []
    while size > 0:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            break
        parts.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(parts)


class JournaledFile(io.FileIO):
    """Read/write access to ``path`` that journals old bytes before overwriting them.

    A ``FileIO`` (reads and seeks stay in C); only ``write`` and ``truncate`` are intercepted.
    The first I/O error is kept in :attr:`error` and every later write raises it again (h5py's
    file-object driver does not pass the original error on): the caller must check it.
    """

    def __init__(self, path: str | os.PathLike, journal_fd: int, writer: str = "") -> None:
        super().__init__(path, "r+")
        self._fsync = fsync_enabled()
        self.discard = False
        self.error: OSError | None = None
        try:
            self.restart(journal_fd, writer)
        except BaseException:
            self.close()
            raise

    def restart(self, journal_fd: int, writer: str) -> None:
        """Begin a new transaction on the open file: today's content is what to restore."""
        self._orig_size = os.fstat(self.fileno()).st_size
        self._journal_fd = journal_fd
        self._saved_pages: set[int] = set()
        #: Today's content of pages partly written in this transaction (no re-read per write).
        self._partial: dict[int, bytearray] = {}
        self.error = None
        self._journal_end, self._seed = write_header(
            journal_fd, self._orig_size, writer, self.fileno()
        )

    @property
    def original_size(self) -> int:
        return self._orig_size

    def _page_bytes(self, page: int) -> bytes:
        offset = page * PAGE
        return _pread_all(self.fileno(), min(PAGE, self._orig_size - offset), offset)

    def _journal(self, start: int, data: memoryview | None, stop: int) -> None:
        """Before [start, stop) of the old file is overwritten with ``data`` (None: cut off by a
        truncate): journal the old pages not yet saved, and the checksum each page will hold."""
        limit = min(stop, self._orig_size)
        if start >= limit:
            return
        records = []
        cache = self._partial
        for page in range(start // PAGE, (limit - 1) // PAGE + 1):
            offset = page * PAGE
            end = min(offset + PAGE, self._orig_size)
            covered = data is not None and start <= offset and stop >= end
            saved = page in self._saved_pages
            current = cache.get(page)
            if current is None and not (covered and saved):
                current = bytearray(self._page_bytes(page))
            if not saved:
                self._saved_pages.add(page)
                assert current is not None
                records.append(_record(self._seed, _OLD, offset, current, zlib.crc32(current)))
            if data is None:  # truncate to ``start``
                cache.clear()
                assert current is not None
                crc = zlib.crc32(current[: max(0, start - offset)])
            elif covered:
                cache.pop(page, None)
                crc = zlib.crc32(data[offset - start : end - start])
            else:  # a part of the page: its content is kept to checksum the next write
                assert current is not None
                lo, hi = max(start, offset), min(stop, end)
                if len(current) < lo - offset:  # written past a truncation: a hole of zeros
                    current.extend(bytes(lo - offset - len(current)))
                current[lo - offset : hi - offset] = data[lo - start : hi - start]
                cache[page] = current
                crc = zlib.crc32(current)
            records.append(_record(self._seed, _NEW, offset, b"", crc))
        blob = b"".join(records)
        pwrite_all(self._journal_fd, blob, self._journal_end)
        self._journal_end += len(blob)
        if self._fsync:
            os.fsync(self._journal_fd)

    def _fail(self, exc: OSError) -> OSError:
        if self.error is None:
            self.error = exc
        return exc

    def write(self, data) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        n = len(view)
        if self.discard:  # a stale handle being closed: it must not touch the file
            return n
        if self.error is not None:
            raise self.error
        pos = self.tell()
        try:
            if pos < self._orig_size:
                self._journal(pos, view, pos + n)
            written = 0
            while written < n:
                done = super().write(view[written:])
                if not done:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                written += done
        except OSError as exc:
            raise self._fail(exc) from None
        return n

    def truncate(self, size: int | None = None) -> int:
        size = self.tell() if size is None else size
        if self.discard:
            return size
        if self.error is not None:
            raise self.error
        try:
            self._journal(size, None, self._orig_size)
            return super().truncate(size)
        except OSError as exc:
            raise self._fail(exc) from None

    def sync(self) -> None:
        """fsync the data file when power-loss durability is asked for."""
        if self._fsync:
            try:
                os.fsync(self.fileno())
            except OSError as exc:
                raise self._fail(exc) from None


class JournalMismatch(Exception):
    """The file is not the one (or not in the state) the journal was written for."""


def rollback(
    path: str | os.PathLike,
    journal_fd: int,
    reason: str = "died during a save",
    own: bool = False,
    journal_path: str | os.PathLike | None = None,
) -> bool:
    """Restore ``path`` from the journal in ``journal_fd``, then empty the journal.

    Returns True if a journal was found. ``own``: the caller wrote the journal and held the file
    all along (a failed save), so the file is not checked against it. A journal that does not
    match the file is moved aside (see :func:`set_aside`), never applied. Idempotent: if
    interrupted, running it again gives the same result. The caller holds the exclusive lock. An
    error while restoring raises, the journal left in place for the next attempt.
    """
    size = os.fstat(journal_fd).st_size
    if size <= JOURNAL_OFFSET or not has_journal(journal_fd):
        return False
    blob = _pread_all(journal_fd, size - JOURNAL_OFFSET, JOURNAL_OFFSET)
    header = read_header(blob)
    if header is None:  # torn, or another version's: kept, never applied blindly
        aside = set_aside(journal_fd, blob, journal_path)
        logger.warning("Did not apply an unreadable journal of %s; it was kept as %s", path, aside)
    else:
        orig_size, writer = header
        if orig_size != NO_FILE and os.path.exists(path):
            if not own:
                logger.warning("Recovering %s: the writer (%s) %s", path, writer, reason)
            try:
                restored = _restore(path, blob, own)
            except JournalMismatch as exc:
                aside = set_aside(journal_fd, blob, journal_path)
                logger.warning(
                    "Did not roll back %s: %s since its writer (%s) died; its journal was kept "
                    "as %s, not applied",
                    path,
                    exc,
                    writer,
                    aside,
                )
            else:
                logger.info("Rolled back %s to its last complete save (%d pages)", path, restored)
        elif orig_size == NO_FILE and not own:
            logger.warning("Recovering %s: the writer (%s) %s", path, writer, reason)
    os.ftruncate(journal_fd, JOURNAL_OFFSET)
    os.fsync(journal_fd)
    return True


def set_aside(journal_fd: int, blob: bytes, journal_path: str | os.PathLike | None = None) -> str:
    """Copy a journal that must not be applied next to its lock file; return the copy's path."""
    lock = os.fspath(journal_path or os.readlink(f"/proc/self/fd/{journal_fd}"))
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = f"{lock}.{stamp}-{os.urandom(3).hex()}.stale-journal"
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # old pages: private
    try:
        pwrite_all(fd, blob, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    return aside


def _parse(blob: bytes) -> list[tuple[int, int, bytes, int]]:
    """The complete records of a journal: (kind, offset, old bytes, crc)."""
    records = []
    seed = zlib.crc32(blob[: _HEADER.size])
    pos = _HEADER.size
    while pos + _RECORD.size + _CHECK.size <= len(blob):
        kind, offset, length, crc = _RECORD.unpack_from(blob, pos)
        body = pos + _RECORD.size + _CHECK.size
        payload = blob[body : body + length]
        (check,) = _CHECK.unpack_from(blob, pos + _RECORD.size)
        head = blob[pos : pos + _RECORD.size]
        if kind not in (_OLD, _NEW) or len(payload) != length:
            break
        if zlib.crc32(payload, zlib.crc32(head, seed)) != check:
            break  # torn last record: its page write had not started
        records.append((kind, offset, payload, crc))
        pos = body + length
    return records


def _restore(path: str | os.PathLike, blob: bytes, own: bool) -> int:
    _, orig_size, dev, ino, _, first, _ = _HEADER.unpack_from(blob)
    records = _parse(blob)
    old = {offset: data for kind, offset, data, _ in records if kind == _OLD}
    fd = os.open(path, os.O_RDWR)
    try:
        if not own:
            _check_matches(fd, orig_size, dev, ino, first, records, old)
        os.ftruncate(fd, orig_size)  # first: frees what the save added (a full disk)
        for offset, data in old.items():
            if _pread_all(fd, len(data), offset) == data:
                # never overwritten (its journal record went first): writing it back could need
                # space the disk lacks, where the page is a hole (allocated, never written)
                continue
            pwrite_all(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(old)


def _check_matches(
    fd: int,
    orig_size: int,
    dev: int,
    ino: int,
    first: int,
    records: list[tuple[int, int, bytes, int]],
    old: dict[int, bytes],
) -> None:
    """Raise :class:`JournalMismatch` unless the first page and every journaled page of the file
    still hold their old content or one the writer recorded (the file is the writer's, as the
    writer left it)."""
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != (dev, ino):
        raise JournalMismatch("the file was replaced")
    if not orig_size:
        if st.st_size:
            raise JournalMismatch("the file was written")
        return
    allowed: dict[int, set[int]] = {0: {first}}
    for _, offset, _, crc in records:
        allowed.setdefault(offset, set()).add(crc)
    for offset in {0, *old}:
        current = _pread_all(fd, min(PAGE, orig_size - offset), offset)
        if zlib.crc32(current) not in allowed[offset]:
            raise JournalMismatch(f"the file was changed (at byte {offset})")
