"""What each backend was last delivered, per acquisition: ``.labmate/delivered.sqlite``.

One row per (backend name, acquisition): the content identity of the files copied (see
:mod:`.identity`) and when. Written by a worker after a delivery whose files did not move while it
copied; read by ``labmate status`` (stale: the local content differs from the delivered one) and
``%labmate_backend``. SQLite (WAL) so threads and processes write it safely; a corrupt file is
moved aside (everything is then "never delivered", and ``labmate sync`` delivers it again).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .identity import ContentIdentity
from .journal import labmate_dir

logger = logging.getLogger(__name__)

_FSYNC = os.environ.get("LABMATE_FSYNC", "") not in ("", "0")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivered (
    backend TEXT NOT NULL,
    prefix TEXT NOT NULL,
    identity TEXT NOT NULL,
    time REAL NOT NULL,
    PRIMARY KEY (backend, prefix)
)
"""


#: tries of setting up a connection that SQLite refuses at once ("database is locked")
_SETUP_TRIES = 50


def _set_up(connection: sqlite3.Connection) -> None:
    """WAL, sync level and schema. Two connections creating the file together: SQLite refuses
    one at once ("database is locked", no busy wait: it would deadlock), so retry."""
    for attempt in range(_SETUP_TRIES):
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            # no fsync per delivery unless LABMATE_FSYNC (a process crash loses nothing; a
            # power cut may lose the last records: those acquisitions are sent again)
            connection.execute(f"PRAGMA synchronous={'FULL' if _FSYNC else 'NORMAL'}")
            connection.execute(_SCHEMA)
            connection.commit()
            return
        except sqlite3.OperationalError as error:
            connection.rollback()
            if "locked" not in str(error) or attempt == _SETUP_TRIES - 1:
                raise
            time.sleep(0.002 * (attempt + 1))


class DeliveryRecordsError(OSError):
    """The delivery records cannot be read (a corrupt ``delivered.sqlite``)."""


class DeliveryRecords:
    """The delivered content of every (backend, acquisition) of one data directory."""

    def __init__(self, data_directory: str | os.PathLike) -> None:
        self.data_directory = Path(data_directory).absolute()
        self.path = labmate_dir(self.data_directory) / "delivered.sqlite"
        self._mutex = threading.Lock()
        self._local = threading.local()  # each thread's (connection, file identity)

    def relative(self, prefix: Path) -> str:
        """How ``prefix`` is stored (relative to the data directory when inside it)."""
        try:
            return Path(prefix).absolute().relative_to(self.data_directory).as_posix()
        except ValueError:
            return str(prefix)

    @contextlib.contextmanager
    def _connect(self, create: bool) -> Iterator[sqlite3.Connection | None]:
        """This thread's connection (kept open: a delivery costs no reconnect), opened again
        when the file was replaced or removed meanwhile; the block is one transaction."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            stat = None
        held = getattr(self._local, "held", None)
        if held is not None and (stat is None or held[1] != (stat.st_dev, stat.st_ino)):
            held[0].close()
            held = self._local.held = None
        if held is None:
            if stat is None and not create:
                yield None
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30)
            try:
                _set_up(connection)
                stat = os.stat(self.path)
            except BaseException:
                connection.close()
                raise
            held = self._local.held = (connection, (stat.st_dev, stat.st_ino))
        connection = held[0]
        try:
            yield connection
            connection.commit()
        except BaseException:
            connection.rollback()
            connection.close()  # a fresh one next time
            self._local.held = None
            raise

    def record(self, backend: str, prefix: Path, identity: ContentIdentity) -> None:
        """Remember that ``backend`` now holds ``identity`` for ``prefix`` (a corrupt file is
        moved aside first and logged)."""
        row = (backend, self.relative(prefix), identity.to_json(), time.time())
        with self._mutex:
            for attempt in range(2):
                try:
                    with self._connect(create=True) as db:
                        assert db is not None
                        db.execute("INSERT OR REPLACE INTO delivered VALUES (?, ?, ?, ?)", row)
                    return
                except sqlite3.DatabaseError as error:
                    if attempt or isinstance(error, sqlite3.OperationalError):
                        raise OSError(
                            f"cannot record a delivery in {self.path}: {error}"
                        ) from error
                    self._move_aside(error)

    def _move_aside(self, error: Exception) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        logger.error(
            "delivery records %s are unreadable (%s); moved to %s: every acquisition counts "
            "as never delivered until labmate sync delivers it again",
            self.path,
            error,
            aside.name,
        )
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")

    def get(self, backend: str, prefix: Path) -> tuple[ContentIdentity, float] | None:
        """The identity last delivered to ``backend`` for ``prefix`` and when; None if never
        (or unreadable: logged)."""
        try:
            with self._connect(create=False) as db:
                if db is None:
                    return None
                row = db.execute(
                    "SELECT identity, time FROM delivered WHERE backend = ? AND prefix = ?",
                    (backend, self.relative(prefix)),
                ).fetchone()
            return None if row is None else (ContentIdentity.from_json(row[0]), row[1])
        except (sqlite3.DatabaseError, ValueError, KeyError) as error:
            logger.warning("unreadable delivery record of %s for %r: %s", prefix, backend, error)
            return None

    def all(self) -> dict[tuple[str, str], tuple[str, float]]:
        """(backend, stored prefix) -> (identity JSON, time) of every record (one query);
        :class:`DeliveryRecordsError` when the file is corrupt."""
        try:
            with self._connect(create=False) as db:
                if db is None:
                    return {}
                rows = db.execute("SELECT backend, prefix, identity, time FROM delivered")
                return {(b, p): (i, t) for b, p, i, t in rows}
        except sqlite3.DatabaseError as error:
            raise DeliveryRecordsError(f"{self.path} is unreadable: {error}") from error

    def repair(self) -> bool:
        """Move a corrupt file aside (``labmate sync``); True when it was corrupt."""
        try:
            self.all()
            return False
        except DeliveryRecordsError as error:
            with self._mutex:
                self._move_aside(error)
            return True

    def settle(self, rows: list[tuple[str, str, str, str]]) -> None:
        """Replace recorded identities by the same content's identity taken later, whose keys
        can be trusted (see ``identity._racy``): rows of (backend, stored prefix, recorded
        identity JSON, new identity JSON); a record changed meanwhile is left as it is. Best
        effort: a read-only directory keeps its records (they are only hashed again)."""
        try:
            with self._mutex, self._connect(create=False) as db:
                if db is not None:
                    db.executemany(
                        "UPDATE delivered SET identity = ? "
                        "WHERE backend = ? AND prefix = ? AND identity = ?",
                        [(new, backend, prefix, old) for backend, prefix, old, new in rows],
                    )
        except sqlite3.DatabaseError as error:
            logger.debug("delivery records of %s not settled: %s", self.path, error)

    def forget(self, backend: str) -> None:
        """Drop every record of ``backend`` (it was removed from the data directory)."""
        with contextlib.suppress(sqlite3.DatabaseError), self._connect(create=False) as db:
            if db is not None:
                db.execute("DELETE FROM delivered WHERE backend = ?", (backend,))
