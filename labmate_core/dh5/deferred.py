"""Files whose creation is put off for a moment: a new acquisition's first write.

A ``%%acquisition`` cell that saves right away would otherwise write its file twice (created
*running*, then saved). Its creation is registered here instead: the owner's first save writes
the whole file at once and drops the registration (:func:`claimed`); anybody else who needs the
file first (a reader, a loop, another object) creates it on the spot (:func:`create_now`, which
``storage`` calls at each of its entry points); one background thread creates what is still
pending once its delay has passed, and every pending file is created at interpreter exit.

Each registration has its own lock, held while its file is created or while its owner writes
it: a file is created once, and whoever needs it meanwhile waits for it (never sees "no such
file" while it is being written). Other files are not held up.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

__all__ = ["defer", "create_now", "create_all", "claimed", "cancel", "is_pending"]


@dataclass
class _Entry:
    create: Callable[[], None]
    due: float
    lock: threading.RLock = field(default_factory=threading.RLock)
    done: bool = False  # created, written by its owner, or given up
    claimed: bool = False  # its owner is writing the whole file (holding ``lock``)


_lock = threading.Lock()  # the registry and the thread's schedule (never held while writing)
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
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="labmate-deferred-files", daemon=True)
            _thread.start()
        if not _at_exit:
            atexit.register(create_all)
            _at_exit = True
        # the thread is woken only if it would wake up too late (each wake-up costs the kernel
        # thread a switch of the GIL): a burst of acquisitions wakes it once per delay
        if _thread_wakes_at is None or due < _thread_wakes_at:
            _wake.notify()


def _entry(path: str | os.PathLike) -> tuple[str, _Entry | None]:
    if not _pending:  # the usual case: nothing pending, no lock, no path normalisation
        return "", None
    key = _key(path)
    return key, _pending.get(key)


def is_pending(path: str | os.PathLike) -> bool:
    """True while the creation of ``path`` is deferred."""
    _, entry = _entry(path)
    return entry is not None and not entry.done


def create_now(path: str | os.PathLike) -> None:
    """Create ``path`` now if its creation is pending (waiting for its owner's write, or a
    creation, under way in another thread). A failure is logged, not raised."""
    key, entry = _entry(path)
    if entry is not None:
        _create(key, entry)


def create_all() -> None:
    """Create every pending file now (the end of a cell, interpreter exit, tests)."""
    if _pending:
        for key, entry in list(_pending.items()):
            _create(key, entry)


def cancel(path: str | os.PathLike) -> None:
    """Forget the pending creation of ``path`` (its acquisition could not be set up)."""
    key, entry = _entry(path)
    if entry is not None:
        with entry.lock:
            _retire(key, entry)


@contextlib.contextmanager
def claimed(path: str | os.PathLike) -> Iterator[bool]:
    """Hold the creation of ``path`` while its owner writes the whole file itself.

    Yields whether it was pending. Its registration is dropped when the block succeeds and kept
    when it raises (the file still gets created). Others who need the file meanwhile wait.
    """
    key, entry = _entry(path)
    if entry is None:
        yield False
        return
    with entry.lock:
        if entry.done:
            yield False
            return
        entry.claimed = True
        try:
            yield True
        except BaseException:
            entry.claimed = False
            with _lock:
                _wake.notify()  # still to be created: the thread looks at it again
            raise
        entry.claimed = False
        _retire(key, entry)


def _create(key: str, entry: _Entry, wait: bool = True) -> bool:
    """Create the file of ``entry``; with ``wait=False`` (the background thread) not while
    somebody else holds it (its owner writing it, or a creation under way): False then."""
    if not entry.lock.acquire(blocking=wait):
        return False
    try:
        if entry.done or entry.claimed:  # claimed: its owner's own thread, writing it now
            return True
        try:
            entry.create()
        except Exception as error:  # given up (the owner's next save writes the file)
            logger.warning("Could not create %s: %s", key, error)
            logger.debug("deferred creation of %s failed", key, exc_info=True)
        # a KeyboardInterrupt leaves it pending: no partial file (written aside, then linked)
        _retire(key, entry)
        return True
    finally:
        entry.lock.release()


def _retire(key: str, entry: _Entry) -> None:
    """``entry`` is done (created, written by its owner, or given up): off the registry."""
    entry.done = True
    with _lock:
        if _pending.get(key) is entry:
            del _pending[key]


def _forget_in_child() -> None:
    """A forked child does not create its parent's files (nor has it the parent's thread)."""
    global _thread, _thread_wakes_at, _lock, _wake
    _pending.clear()
    _thread, _thread_wakes_at = None, None
    _lock = threading.Lock()
    _wake = threading.Condition(_lock)


os.register_at_fork(after_in_child=_forget_in_child)


def _run() -> None:
    global _thread_wakes_at
    while True:
        with _lock:
            now = time.monotonic()
            waiting = [entry.due for entry in _pending.values() if not entry.done]
            due = [
                (key, entry)
                for key, entry in _pending.items()
                if entry.due <= now and not entry.done and not entry.claimed
            ]
            if not due:
                upcoming = [moment for moment in waiting if moment > now]
                _thread_wakes_at = min(upcoming) if upcoming else None
                _wake.wait(None if _thread_wakes_at is None else _thread_wakes_at - now)
                continue
        busy = False
        for key, entry in due:  # outside the registry's lock: other files are not held up
            busy |= not _create(key, entry, wait=False)
        if busy:  # held by another thread: look again in a moment, without spinning
            with _lock:
                _wake.wait(0.01)
