"""Delivers status changes to listeners on one background thread, in order."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from .. import runtime

logger = logging.getLogger(__name__)

_Event = TypeVar("_Event")


class Notifier(Generic[_Event]):
    """A queue of events and the thread that hands them to the listeners.

    Listeners never run on the caller's thread (the kernel) nor on a backend's worker, so a
    slow or failing listener delays neither; their exceptions are logged.
    """

    def __init__(self) -> None:
        self._listeners: list[Callable[[_Event], object]] = []
        self._queue: collections.deque[_Event] = collections.deque()
        self._cond = threading.Condition()
        self._delivering = False
        self._stopped = False
        self._thread: threading.Thread | None = None

    def add(self, listener: Callable[[_Event], object]) -> None:
        with self._cond:
            self._listeners.append(listener)
            self._start()

    def _start(self) -> None:
        """Start the delivering thread if it is not running (hold the condition)."""
        if self._thread is None and self._listeners and not self._stopped:
            self._thread = runtime.start_thread(self._run, "labmate-backend-listeners")

    def reset_after_fork(self) -> None:
        """In a forked child: drop the parent's thread, lock and queued events (its
        listeners stay); the next event starts a thread here."""
        self._cond = threading.Condition()
        self._queue.clear()
        self._delivering, self._thread = False, None

    def remove(self, listener: Callable[[_Event], object]) -> None:
        with self._cond:
            self._listeners.remove(listener)

    def put(self, event: _Event) -> None:
        with self._cond:
            if self._listeners and not self._stopped:
                self._queue.append(event)
                self._start()
                self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every queued event was delivered; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._delivering:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._queue.clear()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                event = self._queue.popleft()
                listeners = list(self._listeners)
                self._delivering = True
            for listener in listeners:
                try:
                    listener(event)
                except Exception:
                    logger.exception("backend status listener %r failed", listener)
            with self._cond:
                self._delivering = False
                self._cond.notify_all()
