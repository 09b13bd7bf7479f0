"""The SQLite connection of an index: WAL, busy waits, schema, corruption and rebuild.

:class:`IndexConnection` opens ``<data>/.labmate/index.sqlite``; an unusable file (garbage,
truncated, another schema version) is moved aside to ``index.sqlite.corrupt`` and recreated, a
file replaced or deleted by another process is reopened, and a folder that cannot be written
gives an in-memory index. After a (re)creation :meth:`IndexConnection._on_fresh` refills it.

A database locked by another process is waited for (up to :data:`BUSY_TIMEOUT_MS`) in short
SQLite busy waits with this object's lock released in between, so a reader in another thread
(the panel, on the kernel's) is not queued behind a record waiting for that lock (a reindex,
which runs as one operation, still holds the lock while it waits).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
#: How long an operation waits, in all, for a database locked by another process.
BUSY_TIMEOUT_MS = 30_000
#: One SQLite busy wait; between two, this object's lock is released.
BUSY_STEP_MS = 100
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS acquisitions (
    prefix TEXT PRIMARY KEY, stem TEXT NOT NULL, name TEXT NOT NULL, time_stamp TEXT NOT NULL,
    seq INTEGER NOT NULL, status TEXT NOT NULL, duration REAL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, keys TEXT NOT NULL, error TEXT, first_seen REAL NOT NULL);
CREATE INDEX IF NOT EXISTS acquisitions_order
    ON acquisitions (time_stamp, seq, first_seen, prefix);
CREATE INDEX IF NOT EXISTS acquisitions_stem ON acquisitions (stem);
CREATE TABLE IF NOT EXISTS sync (
    prefix TEXT NOT NULL, backend TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER,
    last_error TEXT, time REAL, PRIMARY KEY (prefix, backend));
CREATE TABLE IF NOT EXISTS notes (stem TEXT PRIMARY KEY, text TEXT NOT NULL, time REAL);
"""
#: Newest first; within one second, the order in which the files appeared (hooks: when they
#: were recorded; reindex: their modification time).


class IndexConnection:
    """A thread-safe connection to the index file of ``data_directory``."""

    def __init__(self, data_directory: str | os.PathLike) -> None:
        self.data_directory = Path(data_directory).expanduser().absolute()
        if not self.data_directory.is_dir():
            raise NotADirectoryError(f"data directory {self.data_directory} is not a directory")
        self.folder = self.data_directory / ".labmate"
        self.path = self.folder / "index.sqlite"
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._inode: tuple[int, int] | None = None
        self._memory = False
        self._unfilled = False  # tables (re)created but not filled yet (a busy database)
        self._retrying_busy(self._connect)

    def _on_fresh(self) -> None:
        """Called after the tables were (re)created: fill them."""

    # --- connection, corruption, rebuild ------------------------------------------------------

    def _connect(self) -> None:
        """Open (creating or rebuilding when needed) the index file."""
        self._close_conn()  # a try that failed (busy) may have left one open
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._rebuild_lock():
                fresh = not self.path.exists() or self.path.stat().st_size == 0
                try:
                    self._open_file()
                    fresh = self._ensure_schema() or fresh
                except sqlite3.DatabaseError as error:
                    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                        raise
                    self._move_aside(error)
                    self._open_file()
                    self._ensure_schema()
                    fresh = True
        except (OSError, sqlite3.OperationalError) as error:
            if isinstance(error, sqlite3.OperationalError) and not self._unwritable(error):
                raise
            logger.warning(
                "cannot keep an index in %s (%s); using an in-memory index", self.folder, error
            )
            self._close_conn()
            self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            self._memory = True
            self._ensure_schema()
            fresh = True
        if fresh or self._unfilled:
            self._unfilled = True  # until the fill succeeds (a busy database: tried again)
            self._on_fresh()
            self._unfilled = False

    @staticmethod
    def _unwritable(error: Exception) -> bool:
        text = str(error).lower()
        return any(
            word in text for word in ("read-only", "readonly", "permission", "unable to open")
        )

    def _open_file(self) -> None:
        conn = sqlite3.connect(
            self.path, timeout=BUSY_STEP_MS / 1000, check_same_thread=False, isolation_level=None
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_STEP_MS}")
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        stat = self.path.stat()
        self._inode = (stat.st_dev, stat.st_ino)

    def _ensure_schema(self) -> bool:
        """Create the tables; True when they were (re)created, i.e. the index must be rebuilt."""
        conn = self._conn
        assert conn is not None
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if version == SCHEMA_VERSION:
            conn.execute("SELECT count(*) FROM acquisitions").fetchone()
            return False
        with self._transaction() as cur:
            if version != 0:
                logger.warning("index %s has schema %s; rebuilding it", self.path, version)
                for table in ("acquisitions", "sync", "notes"):
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    cur.execute(statement)
            cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return True

    @contextlib.contextmanager
    def _rebuild_lock(self) -> Iterator[None]:
        """An exclusive lock between processes while the index file is (re)created."""
        fd = os.open(self.folder / "index.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _move_aside(self, error: Exception) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        aside = self.path.with_name(self.path.name + ".corrupt")
        logger.warning(
            "index %s is unusable (%s); moved to %s and rebuilt", self.path, error, aside
        )
        for suffix in ("", "-wal", "-shm"):
            source = self.path.with_name(self.path.name + suffix)
            with contextlib.suppress(FileNotFoundError):
                os.replace(source, aside.with_name(aside.name + suffix))

    def _check_file(self) -> None:
        """Reconnect when another process replaced or deleted the index file."""
        if self._memory:
            return
        if self._current_inode() != self._inode:
            logger.info("index %s was replaced or removed; reopening it", self.path)
            self._close_conn()
            self._connect()

    def _current_inode(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_dev, stat.st_ino)

    def _close_conn(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None

    def _retrying_busy(self, operation: Callable[[], T]) -> T:
        """Run ``operation`` under this object's lock; while the database is locked by another
        process, wait with the lock released and try again, for up to BUSY_TIMEOUT_MS."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        delay = 0.005
        while True:
            try:
                with self._lock:
                    return operation()
            except sqlite3.OperationalError as error:
                text = str(error).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(2 * delay, 0.1)

    def _run(self, operation: Callable[[], T]) -> T:
        """Run ``operation``; on a corrupt index, rebuild once and run it again."""
        return self._retrying_busy(lambda: self._run_once(operation))

    def _run_once(self, operation: Callable[[], T]) -> T:
        with self._lock:
            if self._conn is None:
                self._connect()
            self._check_file()
            try:
                return operation()
            except sqlite3.DatabaseError as error:
                if isinstance(error, sqlite3.OperationalError) or self._memory:
                    raise
                with self._rebuild_lock():
                    if self._current_inode() == self._inode:  # nobody rebuilt it meanwhile
                        self._move_aside(error)
                self._close_conn()
                self._connect()
                return operation()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        conn = self._conn
        assert conn is not None
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            conn.rollback()
            raise
        else:
            cur.execute("COMMIT")

    # --- paths ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (the next call reopens it)."""
        with self._lock:
            self._close_conn()
