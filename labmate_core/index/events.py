"""Hooks that keep the index current, and a registry of listeners (the panel).

Each hook is one plain call that never raises (an acquisition must not fail because of its
index): ``record_start`` / ``record_save`` / ``record_end`` after the manager wrote the file,
``on_backend_status`` as a ``BackendDispatcher`` listener, ``on_acquisition_saved`` as a manager
``acquisition_saved`` hook. Listeners registered with :func:`subscribe` are called with an
:class:`IndexEvent` after every change made in this process.

The managers pass ``data=`` (the DH5 that just wrote the file): its root keys and a few values
are taken on the caller's thread (no file read); the row (with the file's ``stat``) is made and
written to SQLite by one background thread, in order and in batches (``writer.py``), so the
kernel never waits on the index (a rebuild, a busy database); notes and backend statuses go the
same way. :func:`flush` waits for those records (a reader that must
see them calls it first; listeners are told once each record is written).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import runtime
from .store import Acquisition, AcquisitionIndex
from .summary import FileSummary, snapshot_of_data, summary_of_snapshot
from .writer import Row, Writer

logger = logging.getLogger(__name__)

_indexes: dict[str, AcquisitionIndex] = {}
_indexes_lock = threading.Lock()
_listeners: list[Callable[[IndexEvent], object]] = []
_listeners_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class IndexEvent:
    """``kind`` is start, save, end, sync, note or reindex; ``prefix`` the absolute prefix."""

    kind: str
    data_directory: str
    prefix: str | None = None


def _key(data_directory: str | os.PathLike) -> str:
    return str(Path(data_directory).expanduser().absolute())


def is_open(data_directory: str | os.PathLike) -> bool:
    """Whether this process already holds the index of ``data_directory`` open."""
    with _indexes_lock:
        return _key(data_directory) in _indexes


def open_index(data_directory: str | os.PathLike) -> AcquisitionIndex:
    """The index of ``data_directory``, shared within this process (records still queued for
    the background writer are not in it yet: :func:`flush` first to wait for them)."""
    key = _key(data_directory)
    with _indexes_lock:
        index = _indexes.get(key)
        if index is None:
            index = _indexes[key] = AcquisitionIndex(key)
        return index


def subscribe(callback: Callable[[IndexEvent], object]) -> Callable[[], None]:
    """Call ``callback(event)`` after every index change of this process; returns an
    unsubscribe function. Callbacks may run on a background thread (backend events)."""
    if not callable(callback):
        raise TypeError(f"a listener must be callable, got {callback!r}")
    with _listeners_lock:
        _listeners.append(callback)
    return lambda: unsubscribe(callback)


def unsubscribe(callback: Callable[[IndexEvent], object]) -> None:
    """Stop calling ``callback`` (no error when it was not subscribed)."""
    with _listeners_lock:
        if callback in _listeners:
            _listeners.remove(callback)


def reset() -> None:
    """Close every index this process opened and forget every listener (tests, reloads)."""
    with _indexes_lock:
        for index in _indexes.values():
            index.close()
        _indexes.clear()
    with _listeners_lock:
        _listeners.clear()


def notify(event: IndexEvent) -> None:
    """Tell every listener; a failing listener is logged and does not stop the others."""
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            logger.warning("index listener %r failed", listener, exc_info=True)


def data_directory_of(prefix: str | os.PathLike) -> Path:
    """The data directory of an acquisition: the nearest parent holding ``.labmate`` or
    ``temp.json``, else the grandparent (``DATA/<name>/<file>``)."""
    path = Path(prefix).expanduser().absolute()
    for parent in list(path.parents)[:3]:
        if (parent / ".labmate").is_dir() or (parent / "temp.json").is_file():
            return parent
    return path.parent.parent


def _prefix(prefix: str | os.PathLike) -> Path:
    path = Path(os.fspath(prefix)).expanduser().absolute()
    return path.with_name(path.name[:-3]) if path.name.endswith(".h5") else path


_writer = Writer(lambda rows: _write_rows(rows))
#: How long a synchronous call (a record without ``data``, ``reindex``) waits for the records
#: queued before it, so that it applies after them; the background writer may be held up by a
#: busy database, and the caller is not held longer than this.
SYNC_FLUSH_TIMEOUT = 5.0


def flush(timeout: float | None = None) -> bool:
    """Wait until the records handed to the background writer are in the index (True), or
    ``timeout`` seconds passed (False)."""
    return _writer.wait(timeout)


def _reset_after_fork() -> None:
    """A forked child opens its own indexes (SQLite connections must not cross a fork) and
    runs its own writer; the parent's listeners (a panel) are not the child's."""
    global _indexes_lock, _listeners_lock, _last_rows_lock
    _indexes_lock, _listeners_lock = threading.Lock(), threading.Lock()
    _last_rows_lock = threading.Lock()
    _indexes.clear()
    _listeners.clear()
    _last_rows.clear()
    _writer.reset_after_fork()


# at exit, after the backends' drain: then records are written by their caller
runtime.on_exit(runtime.FLUSH, "index writer", lambda: _writer.stop_at_exit(5.0))
runtime.on_fork("index", _reset_after_fork)


#: (index, prefix) -> the summary this process last wrote for that row: recording the same
#: again (the end of an acquisition right after its save, the file unchanged since) is skipped.
_last_rows: dict[tuple[int, str], FileSummary] = {}
_last_rows_lock = threading.Lock()
_LAST_ROWS_MAX = 64


class _DirectoryRemoved(NotADirectoryError):
    """The data directory of a record no longer exists."""


def _change(
    kind: str,
    folder: Path,
    path: Path,
    operation: Callable[[AcquisitionIndex], Any],
    failed: str,
    on_error: Callable[[BaseException], object] | None = None,
) -> Any:
    """Run ``operation`` on the index of ``folder``, then tell the listeners; a failure is
    logged (``failed``) and given to ``on_error``, never raised. Returns what ``operation``
    returned (None on failure)."""
    try:
        if not folder.is_dir():  # removed (or a test's tmp dir): nothing to index there
            raise _DirectoryRemoved(f"data directory {folder} was removed")
        index = open_index(folder)
        result = operation(index)
    except Exception as error:
        if isinstance(error, _DirectoryRemoved | runtime.InterpreterExiting):  # often at exit
            logger.debug("%s: %s", failed, error)
        else:
            logger.warning("%s", failed, exc_info=True)
        if on_error is not None:
            try:
                on_error(error)
            except Exception:
                logger.warning("the error handler of %r failed", kind, exc_info=True)
        return None
    notify(IndexEvent(kind, str(index.data_directory), str(path)))
    return result


def _write_rows(rows: list[Row]) -> None:
    """Write rows made from in-memory data: one transaction per data directory (row by row if
    that fails), a row left out when this process last wrote the same; then tell the
    listeners, in the order of the records."""
    by_folder: dict[Path, list[Row]] = {}
    for row in rows:
        by_folder.setdefault(row.folder, []).append(row)
    written: dict[Path, AcquisitionIndex] = {}
    for folder, group in by_folder.items():
        if not folder.is_dir():  # removed since: no index to write, nothing to log at exit
            logger.debug("data directory %s was removed: %d rows not indexed", folder, len(group))
            continue
        try:
            index = open_index(folder)
            _store_rows(index, group)
        except Exception:
            if len(group) == 1:
                logger.warning("could not index acquisition %s", group[0].path, exc_info=True)
                continue
            logger.debug("batch of %d index rows failed; one by one", len(group), exc_info=True)
            for row in group:
                _record_row(row)
            continue
        written[folder] = index
    for row in rows:
        if row.folder in written:
            notify(IndexEvent(row.kind, str(written[row.folder].data_directory), str(row.path)))


def _record_row(row: Row) -> None:
    _change(
        row.kind,
        row.folder,
        row.path,
        lambda index: _store_rows(index, [row]),
        f"could not index acquisition {row.path}",
    )


def _store_rows(index: AcquisitionIndex, rows: list[Row]) -> None:
    """Upsert the last summary of each path of ``rows`` (``status`` overriding the data's)."""
    latest: dict[Path, FileSummary] = {}
    for row in rows:
        summary = summary_of_snapshot(f"{row.path}.h5", row.snapshot)
        if row.status is not None:
            summary.status = row.status  # what update() does
        latest[row.path] = summary
    with _last_rows_lock:
        changed = [
            (path, summary)
            for path, summary in latest.items()
            if _last_rows.get((id(index), str(path))) != summary
        ]
    if changed:
        index.update_summaries(changed)
    with _last_rows_lock:
        if len(_last_rows) + len(changed) > _LAST_ROWS_MAX:
            _last_rows.clear()
        for path, summary in changed:
            _last_rows[(id(index), str(path))] = dataclasses.replace(
                summary, keys=list(summary.keys)
            )


def _record(
    kind: str,
    prefix: str | os.PathLike,
    data_directory: str | os.PathLike | None,
    status: str | None = None,
    data: Any = None,
) -> Acquisition | None:
    try:
        path = _prefix(prefix)
        folder = Path(data_directory) if data_directory is not None else data_directory_of(path)
        if data is not None:
            _writer.put(Row(kind, path, folder, status, snapshot_of_data(f"{path}.h5", data)))
            return None
    except Exception:
        logger.warning("could not index acquisition %s", prefix, exc_info=True)
        return None
    flush(SYNC_FLUSH_TIMEOUT)  # after the records queued before this one (bounded)
    return _change(
        kind,
        folder,
        path,
        lambda index: index.update(path, status=status, fetch=True),
        f"could not index acquisition {path}",
    )


def record_start(
    prefix: str | os.PathLike,
    *,
    data_directory: str | os.PathLike | None = None,
    data: Any = None,
) -> Acquisition | None:
    """Index a just-created acquisition file (status running). Never raises.

    With ``data`` (the DH5 that wrote the file) the row is made from it, not read from the file,
    and nothing is returned (see the module's docstring)."""
    return _record("start", prefix, data_directory, data=data)


def record_save(
    prefix: str | os.PathLike,
    *,
    data_directory: str | os.PathLike | None = None,
    data: Any = None,
) -> Acquisition | None:
    """Re-index an acquisition after a save (keys, size, duration, status). Never raises."""
    return _record("save", prefix, data_directory, data=data)


def record_end(
    prefix: str | os.PathLike,
    status: str | None = None,
    *,
    data_directory: str | os.PathLike | None = None,
    data: Any = None,
) -> Acquisition | None:
    """Re-index an acquisition that ended; ``status`` (completed/failed) overrides the file's."""
    if status is not None and status not in ("running", "completed", "failed"):
        logger.warning("unknown acquisition status %r for %s; reading the file's", status, prefix)
        status = None
    return _record("end", prefix, data_directory, status, data=data)


def on_acquisition_saved(acquisition: Any, **_: Any) -> None:
    """A manager ``acquisition_saved`` hook: ``aqm.hooks.add_acquisition_saved(...)``. The
    row is made from the acquisition (a DH5) and written in the background."""
    filepath = getattr(acquisition, "filepath", None)
    if filepath:
        is_data = callable(getattr(acquisition, "keys", None))
        record_save(filepath, data=acquisition if is_data else None)


def on_backend_status(status: Any, *, data_directory: str | os.PathLike | None = None) -> None:
    """A ``BackendDispatcher`` listener: records ``status.state`` of ``status.prefix`` for
    ``status.backend`` (a ``SnapshotStatus``), in order with the other records. Never raises."""
    try:
        path = _prefix(status.prefix)
        folder = Path(data_directory) if data_directory is not None else data_directory_of(path)
    except Exception:
        logger.warning("could not index backend status %r", status, exc_info=True)
        return
    _writer.put(lambda: _write_sync(status, path, folder))


def _write_sync(status: Any, path: Path, folder: Path) -> None:
    _change(
        "sync",
        folder,
        path,
        lambda index: index.set_sync(
            path,
            str(status.backend),
            str(getattr(status.state, "value", status.state)),
            attempts=int(getattr(status, "attempts", 0) or 0),
            last_error=getattr(status, "last_error", None),
            when=getattr(status, "time", None) or None,
        ),
        f"could not index backend status {status!r}",
    )


def set_note(
    data_directory: str | os.PathLike,
    prefix: str | os.PathLike,
    text: str,
    on_error: Callable[[BaseException], object] | None = None,
) -> None:
    """Save a note on an acquisition (in the background: :func:`flush` waits for it) and tell
    the listeners once it is written. A failure to write it is logged as a warning and given
    to ``on_error`` (called on the writer's thread: the panel shows it)."""
    if not isinstance(text, str):
        raise TypeError(f"a note is text, got {type(text).__name__}")
    path = _prefix(prefix)
    folder = Path(data_directory)
    _writer.put(
        lambda: _change(
            "note",
            folder,
            path,
            lambda index: index.set_note(path, text),
            f"could not save the note of {path}",
            on_error,
        )
    )


def reindex(data_directory: str | os.PathLike) -> Any:
    """Rebuild the index of ``data_directory`` from its files (after the queued records) and
    tell the listeners."""
    flush(SYNC_FLUSH_TIMEOUT)
    index = open_index(data_directory)
    report = index.reindex()
    notify(IndexEvent("reindex", str(index.data_directory)))
    return report
