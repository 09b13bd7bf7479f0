"""The process runtime: our background threads, the exit order and fork handling, in one place.

- :func:`start_thread` starts every background thread of the library: named ``labmate-*``,
  daemon (the kernel never waits for one), and an exception that ends one is logged.
- :func:`on_exit` registers a step of the one ``atexit`` handler, which runs the steps in a
  fixed order whatever the import order: :data:`DRAIN` (the backends' queues, for their
  bounded time) before :data:`FLUSH` (the index writer: the statuses of the drain are written,
  then later records are written by their caller, so no thread of ours runs after exit).
- :func:`on_fork` registers a reset run in a forked child (one ``os.register_at_fork``):
  each component drops what it must not inherit (the parent's threads, its held locks, its
  queued work) and starts afresh on its next use.

The runtime only sequences: what a step or a reset does stays in its component's module.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

#: exit phases, run in this order
DRAIN = 0
FLUSH = 1

_exit_steps: list[tuple[int, int, str, Callable[[], object]]] = []
_fork_resets: list[tuple[str, Callable[[], object]]] = []
_lock = threading.Lock()
_exited = False


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


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # the parent's may be held by one of its threads
    for name, reset in list(_fork_resets):
        try:
            reset()
        except Exception:
            logger.exception("fork reset %r failed", name)


atexit.register(run_exit_steps)
os.register_at_fork(after_in_child=_after_fork_in_child)
