"""Files whose creation is put off for a moment: a new acquisition's first write.

A ``%%acquisition`` cell that saves right away would otherwise write its file twice (created
*running*, then saved). Its creation is registered here instead: the owner's first save writes
the whole file at once and drops the registration (:func:`claimed`); anybody else who needs the
file first (a reader, a loop, another object) creates it on the spot (:func:`create_now`, which
``storage`` calls at each of its entry points); one background thread creates what is still
pending once its delay has passed, and every pending file is created at interpreter exit.

Creation runs under one process-wide lock, so a file is created once, and an owner's write
waits for a creation already under way.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

logger = logging.getLogger(__name__)

__all__ = ["defer", "create_now", "create_all", "claimed", "cancel", "is_pending"]


@dataclass
class _Entry:
    create: Callable[[], None]
    due: float


_lock = threading.RLock()
_wake = threading.Condition(_lock)
_pending: dict[str, _Entry] = {}
_thread: threading.Thread | None = None
_thread_wakes_at: float | None = None  # when the thread wakes up by itself (None: never)
_at_exit = False


def _key(path: str | os.PathLike) -> str:
    return os.path.abspath(os.fspath(path))


def defer(path: str | os.PathLike, create: Callable[[], None], delay: float) -> None:
    """Register ``create()`` (which creates ``path``) to run within ``delay`` seconds."""
    global _thread, _at_exit
    with _lock:
        due = time.monotonic() + delay
        _pending[_key(path)] = _Entry(create, due)
        # the thread is woken only if it would wake up too late (each wake-up costs the kernel
        # thread a switch of the GIL): a burst of acquisitions wakes it once per delay
        wake = _thread_wakes_at is None or due < _thread_wakes_at
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="labmate-deferred-files", daemon=True)
            _thread.start()
        if not _at_exit:
            atexit.register(create_all)
            _at_exit = True
        if wake:
            _wake.notify()


def is_pending(path: str | os.PathLike) -> bool:
    """True while the creation of ``path`` is deferred."""
    return bool(_pending) and _key(path) in _pending


def create_now(path: str | os.PathLike) -> None:
    """Create ``path`` now if its creation is pending (a failure is logged, not raised)."""
    if not _pending:
        return
    with _lock:
        key = _key(path)
        entry = _pending.pop(key, None)
        if entry is not None:
            _create(key, entry)


def create_all() -> None:
    """Create every pending file now (the end of a cell, interpreter exit, tests)."""
    if not _pending:
        return
    with _lock:
        while _pending:
            key = next(iter(_pending))
            _create(key, _pending.pop(key))


def cancel(path: str | os.PathLike) -> None:
    """Forget the pending creation of ``path`` (its acquisition could not be set up)."""
    if _pending:
        with _lock:
            _pending.pop(_key(path), None)


@contextlib.contextmanager
def claimed(path: str | os.PathLike) -> Iterator[bool]:
    """Hold the creation of ``path`` while its owner writes the whole file itself.

    Yields whether it was pending. Its registration is dropped when the block succeeds and put
    back when it raises (the file still gets created).
    """
    if not _pending:
        yield False
        return
    key = _key(path)
    with _lock:
        entry = _pending.pop(key, None)
        try:
            yield entry is not None
        except BaseException:
            if entry is not None and key not in _pending:
                _pending[key] = entry
            raise


def _create(key: str, entry: _Entry) -> None:
    try:
        entry.create()
    except Exception as error:
        logger.warning("Could not create %s: %s", key, error)
        logger.debug("deferred creation of %s failed", key, exc_info=True)


def _forget_in_child() -> None:
    """A forked child does not create its parent's files (nor has it the parent's thread)."""
    global _thread, _thread_wakes_at, _lock, _wake
    _pending.clear()
    _thread, _thread_wakes_at = None, None
    _lock = threading.RLock()
    _wake = threading.Condition(_lock)


os.register_at_fork(after_in_child=_forget_in_child)


def _run() -> None:
    global _thread_wakes_at
    with _lock:
        while True:
            if not _pending:
                _thread_wakes_at = None
                _wake.wait()
                continue
            now = time.monotonic()
            due = [key for key, entry in _pending.items() if entry.due <= now]
            if not due:
                _thread_wakes_at = min(entry.due for entry in _pending.values())
                _wake.wait(_thread_wakes_at - now)
                continue
            for key in due:
                entry = _pending.pop(key, None)
                if entry is not None:
                    _create(key, entry)
