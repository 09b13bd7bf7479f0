"""The SQLite index of a data directory: ``<data>/.labmate/index.sqlite``.

One row per acquisition file (name, time stamp, status, duration, size, saved keys), the sync
state per backend, and the user's notes. WAL mode and a busy timeout let several kernels write at
once. The index only caches what the files say: :meth:`AcquisitionIndex.reindex` rebuilds it from
them, and a corrupt or missing index file is rebuilt (notes included, from ``notes.jsonl``).
"""

from __future__ import annotations

import builtins
import functools
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .database import IndexConnection
from .models import Acquisition, ReindexReport, SyncState, since_text
from .summary import FileSummary, iter_h5_files, read_summary

logger = logging.getLogger(__name__)

_BATCH = 500
_COLUMNS = (
    "stem",
    "name",
    "time_stamp",
    "seq",
    "status",
    "duration",
    "size",
    "mtime_ns",
    "keys",
    "error",
)
#: Newest first; within one second, in the order the files appeared (recorded by a hook: when
#: recorded; found by a reindex: their modification time).
_ORDER = "ORDER BY a.time_stamp DESC, a.seq DESC, a.first_seen DESC, a.prefix DESC"


class AcquisitionIndex(IndexConnection):
    """The index of one data directory; safe to share between threads of one process.

    ``auto_reindex=False`` leaves a new or rebuilt index empty until :meth:`reindex`.
    """

    def __init__(self, data_directory: str | os.PathLike, *, auto_reindex: bool = True) -> None:
        self._auto_reindex = auto_reindex
        self.notes_log = Path(data_directory).expanduser().absolute() / ".labmate" / "notes.jsonl"
        super().__init__(data_directory)

    def _on_fresh(self) -> None:
        self._replay_notes()
        if self._auto_reindex:
            self._reindex()

    def key_of(self, prefix: str | os.PathLike) -> str:
        """The stored form of a prefix: relative to the data directory when inside it."""
        path = Path(prefix).expanduser().absolute()
        if path.name.endswith(".h5"):
            path = path.with_name(path.name[:-3])
        try:
            return path.relative_to(self.data_directory).as_posix()
        except ValueError:
            return str(path)

    def _absolute(self, key: str) -> str:
        return key if os.path.isabs(key) else str(self.data_directory / key)

    # --- writes ---------------------------------------------------------------------------------

    def update(
        self,
        prefix: str | os.PathLike,
        *,
        status: str | None = None,
        summary: FileSummary | None = None,
        fetch: bool = True,
    ) -> Acquisition | None:
        """Re-read one acquisition file into the index (``status`` overrides the file's).

        ``summary`` (e.g. :func:`~.summary.summary_of_data` of the DH5 that just saved it)
        spares reading the file. Returns the row (None without ``fetch``), or None when the
        file does not exist (its row is then removed).
        """
        key = self.key_of(prefix)
        h5 = self._absolute(key) + ".h5"
        try:
            if summary is None:
                summary = read_summary(h5)
        except FileNotFoundError:
            self.remove(self._absolute(key))
            return None
        except TimeoutError:
            logger.info("%s is being written; its index row is updated later", h5)
            return self.get(self._absolute(key))
        if status is not None:
            summary.status = status
        self._run(lambda: self._write_summaries([(key, summary)]))
        return self.get(self._absolute(key)) if fetch else None

    def update_summaries(self, rows: Sequence[tuple[str | os.PathLike, FileSummary]]) -> None:
        """Store ``(prefix, summary)`` rows made from in-memory data, in one transaction."""
        self._run(lambda: self._write_summaries([(self.key_of(p), s) for p, s in rows]))

    @staticmethod
    def _values(key: str, s: FileSummary, first_seen: float | None = None) -> tuple:
        return (
            s.stem,
            s.name,
            s.time_stamp,
            s.seq,
            s.status,
            s.duration,
            s.size,
            s.mtime_ns,
            json.dumps(s.keys),
            s.error,
            s.mtime_ns / 1e9 if first_seen is None else first_seen,
            key,
        )

    def _write_summaries(
        self,
        rows: Sequence[tuple[str, FileSummary]],
        seen: dict[str, tuple[int, int]] | None = None,
    ) -> None:
        """Upsert rows. With ``seen`` (what a reindex read before the files), a row changed by
        someone else meanwhile is left alone: their information is at least as fresh."""
        names = _COLUMNS
        columns = ", ".join([*names, "first_seen", "prefix"])
        insert = f"INSERT INTO acquisitions ({columns}) VALUES ({','.join('?' * (len(names) + 2))})"
        assignments = ", ".join(f"{c}=?" for c in names)
        with self._transaction() as cur:
            if seen is None:
                now = time.time()
                cur.executemany(
                    insert
                    + " ON CONFLICT(prefix) DO UPDATE SET "
                    + ", ".join(f"{c}=excluded.{c}" for c in names),
                    [self._values(key, s, now) for key, s in rows],
                )
                return
            cur.executemany(
                insert + " ON CONFLICT(prefix) DO NOTHING",
                [self._values(key, s) for key, s in rows if key not in seen],
            )
            cur.executemany(
                f"UPDATE acquisitions SET {assignments} WHERE prefix=? AND size=? AND mtime_ns=?",
                [
                    (*self._values(key, s)[: len(names)], key, *seen[key])
                    for key, s in rows
                    if key in seen
                ],
            )

    def add_summaries(self, summaries: Sequence[FileSummary]) -> None:
        """Store already-read summaries (used by benchmarks and bulk imports)."""
        rows = [(self.key_of(s.prefix), s) for s in summaries]
        for start in range(0, len(rows), _BATCH):
            batch = rows[start : start + _BATCH]
            self._run(functools.partial(self._write_summaries, batch))

    def remove(self, prefix: str | os.PathLike) -> None:
        """Forget one acquisition (its notes are kept: they follow the file name)."""
        key = self.key_of(prefix)

        def operation() -> None:
            with self._transaction() as cur:
                cur.execute("DELETE FROM acquisitions WHERE prefix = ?", (key,))
                cur.execute("DELETE FROM sync WHERE prefix = ?", (key,))

        self._run(operation)

    def set_sync(
        self,
        prefix: str | os.PathLike,
        backend: str,
        state: str,
        *,
        attempts: int = 0,
        last_error: str | None = None,
        when: float | None = None,
    ) -> None:
        """Record the snapshot state of ``prefix`` for ``backend`` (an older event is ignored)."""
        if not isinstance(backend, str) or not backend:
            raise ValueError(f"backend must be a non-empty name, got {backend!r}")
        key, when = self.key_of(prefix), time.time() if when is None else float(when)

        def operation() -> None:
            with self._transaction() as cur:
                cur.execute(
                    "INSERT INTO sync (prefix, backend, state, attempts, last_error, time)"
                    " VALUES (?,?,?,?,?,?) ON CONFLICT(prefix, backend) DO UPDATE SET"
                    " state=excluded.state, attempts=excluded.attempts,"
                    " last_error=excluded.last_error, time=excluded.time"
                    " WHERE excluded.time >= sync.time",
                    (key, backend, str(state), int(attempts or 0), last_error, when),
                )

        self._run(operation)

    def set_note(self, prefix: str | os.PathLike, text: str) -> None:
        """Save the user's note for an acquisition (also appended to ``notes.jsonl``)."""
        if not isinstance(text, str):
            raise TypeError(f"a note must be a string, got {type(text).__name__}")
        stem, now = Path(self.key_of(prefix)).name, time.time()
        if not self._memory:
            line = json.dumps({"stem": stem, "text": text, "time": now}) + "\n"
            fd = os.open(self.notes_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        self._run(lambda: self._write_notes([(stem, text, now)]))

    def _write_notes(self, notes: Sequence[tuple[str, str, float]]) -> None:
        with self._transaction() as cur:
            cur.executemany(
                "INSERT INTO notes (stem, text, time) VALUES (?,?,?) ON CONFLICT(stem) DO UPDATE"
                " SET text=excluded.text, time=excluded.time WHERE excluded.time >= notes.time",
                notes,
            )

    def _replay_notes(self) -> None:
        if self._memory or not self.notes_log.exists():
            return
        latest: dict[str, tuple[str, str, float]] = {}
        with open(self.notes_log, encoding="utf-8", errors="replace") as log:
            for line in log:
                try:
                    entry = json.loads(line)
                    latest[entry["stem"]] = (
                        entry["stem"],
                        str(entry["text"]),
                        float(entry["time"]),
                    )
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line
        if latest:
            self._write_notes(list(latest.values()))

    def _read_note_files(self, keys: Sequence[str]) -> None:
        """The notes kept in the acquisitions found by a reindex (``<prefix>_NOTES.txt``)."""
        from .notes import note_path

        notes = []
        for key in keys:
            path = note_path(self._absolute(key))
            try:
                notes.append(
                    (path.name[: -len("_NOTES.txt")], path.read_text("utf-8"), path.stat().st_mtime)
                )
            except (FileNotFoundError, UnicodeDecodeError):
                continue
        if notes:
            self._write_notes(notes)

    # --- reindex --------------------------------------------------------------------------------

    def reindex(self) -> ReindexReport:
        """Bring the index in line with the files: new, changed, moved and deleted ones.

        Unchanged files (same size and modification time) are not opened.
        """
        with self._lock:
            return self._run(self._reindex)

    def _reindex(self) -> ReindexReport:
        conn = self._conn
        assert conn is not None
        known = {
            key: (size, mtime_ns)
            for key, size, mtime_ns in conn.execute(
                "SELECT prefix, size, mtime_ns FROM acquisitions"
            )
        }
        added = updated = unchanged = skipped = 0
        pending: list[tuple[str, FileSummary]] = []
        seen: set[str] = set()
        for path, stat in iter_h5_files(self.data_directory):
            key = self.key_of(path)
            seen.add(key)
            if known.get(key) == (stat.st_size, stat.st_mtime_ns):
                unchanged += 1
                continue
            try:
                summary = read_summary(path, stat)
            except (FileNotFoundError, TimeoutError):
                skipped += 1
                continue
            if key in known:
                updated += 1
            else:
                added += 1
            pending.append((key, summary))
            if len(pending) >= _BATCH:
                self._write_summaries(pending, known)
                pending = []
        if pending:
            self._write_summaries(pending, known)
        self._read_note_files([key for key in seen if key not in known])
        gone = [
            key
            for key in known
            if key not in seen and not os.path.exists(self._absolute(key) + ".h5")
        ]
        if gone:
            with self._transaction() as cur:
                cur.executemany("DELETE FROM acquisitions WHERE prefix = ?", [(k,) for k in gone])
                cur.executemany("DELETE FROM sync WHERE prefix = ?", [(k,) for k in gone])
        report = ReindexReport(added, updated, len(gone), unchanged, skipped)
        logger.info("reindexed %s: %s", self.data_directory, report)
        return report

    # --- queries --------------------------------------------------------------------------------

    @staticmethod
    def _where(
        name: str | None,
        since: Any,
        until: Any,
        status: str | Sequence[str] | None,
        text: str | None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if name:
            clauses.append("a.name LIKE ? ESCAPE '\\'")
            params.append(f"%{_escape_like(name)}%")
        if text:
            clauses.append(
                "(a.name LIKE ? ESCAPE '\\' OR a.stem LIKE ? ESCAPE '\\'"
                " OR n.text LIKE ? ESCAPE '\\')"
            )
            params += [f"%{_escape_like(text)}%"] * 3
        low, high = since_text(since, "since"), since_text(until, "until")
        if low:
            clauses.append("a.time_stamp >= ?")
            params.append(low)
        if high:
            clauses.append("a.time_stamp < ?")
            params.append(high)
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            clauses.append(f"a.status IN ({','.join('?' * len(statuses))})")
            params += statuses
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list(
        self,
        name: str | None = None,
        since: Any = None,
        status: str | Sequence[str] | None = None,
        limit: int = 50,
        offset: int = 0,
        *,
        until: Any = None,
        text: str | None = None,
    ) -> list[Acquisition]:
        """Acquisitions newest first. ``name``: part of the name; ``since``/``until``: date,
        datetime, epoch or ISO text; ``status``: one or several; ``text``: name, file or note."""
        for label, value in (("limit", limit), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{label} must be an integer >= 0, got {value!r}")
        where, params = self._where(name, since, until, status, text)
        sql = (
            "SELECT a.prefix, a.name, a.time_stamp, a.status, a.duration, a.size, a.keys, a.error,"
            " n.text FROM acquisitions a LEFT JOIN notes n ON n.stem = a.stem"
            f"{where} {_ORDER} LIMIT ? OFFSET ?"
        )

        def operation() -> list[Acquisition]:
            conn = self._conn
            assert conn is not None
            rows = conn.execute(sql, [*params, limit, offset]).fetchall()
            return self._build(rows)

        return self._run(operation)

    def count(
        self,
        name: str | None = None,
        since: Any = None,
        status: str | Sequence[str] | None = None,
        *,
        until: Any = None,
        text: str | None = None,
    ) -> int:
        """How many acquisitions :meth:`list` would give without ``limit``."""
        where, params = self._where(name, since, until, status, text)
        sql = f"SELECT count(*) FROM acquisitions a LEFT JOIN notes n ON n.stem = a.stem{where}"
        return self._run(lambda: int(self._conn.execute(sql, params).fetchone()[0]))  # type: ignore[union-attr]

    def get(self, prefix: str | os.PathLike) -> Acquisition | None:
        """The row of one acquisition, or None."""
        key = self.key_of(prefix)
        sql = (
            "SELECT a.prefix, a.name, a.time_stamp, a.status, a.duration, a.size, a.keys, a.error,"
            " n.text FROM acquisitions a LEFT JOIN notes n ON n.stem = a.stem WHERE a.prefix = ?"
        )

        def operation() -> Acquisition | None:
            rows = self._build(self._conn.execute(sql, (key,)).fetchall())  # type: ignore[union-attr]
            return rows[0] if rows else None

        return self._run(operation)

    # (below, the method ``list`` hides the builtin in annotations: ``builtins.list``)
    def backends(self) -> builtins.list[str]:
        """Names of the backends with a recorded sync state, sorted."""
        sql = "SELECT DISTINCT backend FROM sync ORDER BY backend"
        return self._run(lambda: [r[0] for r in self._conn.execute(sql)])  # type: ignore[union-attr]

    def _build(self, rows: Sequence[tuple]) -> builtins.list[Acquisition]:
        conn = self._conn
        assert conn is not None
        sync: dict[str, dict[str, SyncState]] = {}
        keys = [row[0] for row in rows]
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            for prefix, backend, state, attempts, last_error, when in conn.execute(
                "SELECT prefix, backend, state, attempts, last_error, time FROM sync"
                f" WHERE prefix IN ({','.join('?' * len(chunk))}) ORDER BY backend",
                chunk,
            ):
                sync.setdefault(prefix, {})[backend] = SyncState(
                    state, attempts or 0, last_error, when or 0.0
                )
        return [
            Acquisition(
                prefix=self._absolute(key),
                name=name,
                time_stamp=time_stamp,
                status=status,
                duration=duration,
                size=size,
                keys=tuple(json.loads(stored_keys)),
                sync=sync.get(key, {}),
                notes=note or "",
                error=error,
            )
            for key, name, time_stamp, status, duration, size, stored_keys, error, note in rows
        ]

    def __repr__(self) -> str:
        return f"<AcquisitionIndex {str(self.data_directory)!r}>"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
