"""The process runtime: our background threads, the exit order and fork handling, in one place.

- :func:`start_thread` starts every background thread of the library: named ``labmate-*``,
  daemon (the kernel never waits for one), and an exception that ends one is logged.
- :func:`on_exit` registers a step of the one ``atexit`` handler, which runs the steps in a
  fixed order whatever the import order: :data:`DRAIN` (the backends' queues, for their
  bounded time) before :data:`FLUSH` (the index writer: the statuses of the drain are written,
  then later records are written by their caller, so no thread of ours runs after exit).
- :func:`hdf5_use` brackets every use of HDF5 by the library. HDF5 is not safe against its own
  shutdown: h5py's ``atexit`` handler and the C library's end run on the main thread while a
  daemon thread may still be inside HDF5 (a crash: ``double free``). The last exit step waits
  (bounded) for the background uses under way, then refuses new ones from other threads with
  :class:`InterpreterExiting` (what they were doing stays for the next process).
- :func:`on_fork` registers a reset run in a forked child (one ``os.register_at_fork``):
  each component drops what it must not inherit (the parent's threads, its held locks, its
  queued work) and starts afresh on its next use.

The runtime only sequences: what a step or a reset does stays in its component's module.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

# h5py's own atexit handler (it unregisters its type converters: strings can no longer be read)
# must run after ours; atexit runs handlers last registered first, so h5py registers first.
import h5py  # noqa: F401

logger = logging.getLogger(__name__)

#: exit phases, run in this order
DRAIN = 0
FLUSH = 1

_exit_steps: list[tuple[int, int, str, Callable[[], object]]] = []
_fork_resets: list[tuple[str, Callable[[], object]]] = []
_lock = threading.Lock()
_exited = False

#: how long the exit waits for background threads still inside HDF5
HDF5_EXIT_WAIT_S = 30.0


class InterpreterExiting(RuntimeError):
    """A background thread asked for HDF5 after the interpreter's exit steps ran."""


class _Hdf5Gate:
    """Counts the background threads inside HDF5; closed at exit (see :func:`hdf5_use`)."""

    def __init__(self) -> None:
        self.condition = threading.Condition(threading.Lock())
        self.active = 0
        self.closed = False
        self.depth = threading.local()  # a use inside a use of the same thread is not counted

    @contextlib.contextmanager
    def use(self) -> Iterator[None]:
        depth = getattr(self.depth, "n", 0)
        if depth or threading.current_thread() is threading.main_thread():
            yield  # the exit itself runs on the main thread: nothing to order against
            return
        with self.condition:
            if self.closed:
                raise InterpreterExiting("the interpreter is exiting: HDF5 is no longer used")
            self.active += 1
        self.depth.n = 1
        try:
            yield
        finally:
            self.depth.n = 0
            with self.condition:
                self.active -= 1
                self.condition.notify_all()

    def close(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.condition:
            self.closed = True
            while self.active and time.monotonic() < deadline:
                self.condition.wait(max(0.0, deadline - time.monotonic()))
            if self.active:
                logger.warning(
                    "%d background thread(s) still inside HDF5 at exit after %.0f s",
                    self.active,
                    timeout,
                )


_hdf5_gate = _Hdf5Gate()


def hdf5_use() -> contextlib.AbstractContextManager[None]:
    """Bracket a use of HDF5 (open to close): on a background thread, it is waited for at
    exit, and refused with :class:`InterpreterExiting` once the exit steps have run."""
    return _hdf5_gate.use()


def start_thread(target: Callable[..., object], name: str, *args: Any) -> threading.Thread:
    """Start ``target(*args)`` on a daemon thread named ``name``; an exception that ends it is
    logged (with its traceback) instead of only printed to stderr."""

    def run() -> None:
        try:
            target(*args)
        except BaseException:
            logger.exception("background thread %r stopped on an error", name)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def on_exit(phase: int, name: str, step: Callable[[], object]) -> None:
    """Run ``step()`` at interpreter exit in ``phase`` (:data:`DRAIN` or :data:`FLUSH`); steps
    of one phase run in the order they were registered."""
    with _lock:
        _exit_steps.append((phase, len(_exit_steps), name, step))


def on_fork(name: str, reset: Callable[[], object]) -> None:
    """Run ``reset()`` in every child forked after this call, before it runs anything else."""
    with _lock:
        _fork_resets.append((name, reset))


def run_exit_steps() -> None:
    """The ``atexit`` handler: every exit step in phase order, once; a failing step is logged
    and does not stop the next."""
    global _exited
    if _exited:
        return
    _exited = True
    for _, _, name, step in sorted(_exit_steps, key=lambda item: item[:2]):
        try:
            step()
        except Exception:
            logger.exception("exit step %r failed", name)
    _hdf5_gate.close(HDF5_EXIT_WAIT_S)


def _after_fork_in_child() -> None:
    global _lock, _hdf5_gate
    _lock = threading.Lock()  # the parent's may be held by one of its threads
    _hdf5_gate = _Hdf5Gate()  # the parent's threads inside HDF5 are not here
    for name, reset in list(_fork_resets):
        try:
            reset()
        except Exception:
            logger.exception("fork reset %r failed", name)


atexit.register(run_exit_steps)
os.register_at_fork(after_in_child=_after_fork_in_child)
