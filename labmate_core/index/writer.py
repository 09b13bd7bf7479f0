"""The index's background writer: one daemon thread running the queued records in order
(started on first use through :mod:`labmate_core.runtime`; :meth:`Writer.wait` waits for them).

Rows made from in-memory data (:class:`Row`: an acquisition started, saved, ended) are written in
batches, one SQLite transaction for all those queued together: the writer waits up to
:data:`BATCH_DELAY` after the first one for more to come (never while somebody waits in
:meth:`Writer.wait`), so a burst of short acquisitions costs one transaction, not three each.
Other jobs (callables: notes, backend statuses) run one by one, in their place in the order.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import runtime
from .summary import DataSnapshot

logger = logging.getLogger(__name__)


#: Seconds the writer waits after a row for the next ones, to write them in one transaction.
BATCH_DELAY = 0.2


@dataclasses.dataclass
class Row:
    """An index row made from in-memory data; ``status`` overrides the data's."""

    kind: str
    path: Path
    folder: Path
    status: str | None
    snapshot: DataSnapshot


class Writer:
    """The index's job thread: rows in batches (``write_rows``), callables one by one."""

    def __init__(self, write_rows: Callable[[list[Row]], None]) -> None:
        self.name = "labmate-index-writer"
        self._write_rows = write_rows
        self._queue: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._busy = False
        self._waiting = 0
        self._thread: threading.Thread | None = None
        self._inline = False  # set at interpreter exit: jobs run in the caller's thread

    def reset_after_fork(self) -> None:
        """In a forked child: the parent's thread, lock and queued jobs are not this process's
        (the parent writes its own records); the next job starts a thread here."""
        self._queue = collections.deque()
        self._cond = threading.Condition()
        self._busy, self._waiting, self._thread = False, 0, None

    def put(self, job: Any) -> None:
        if self._inline:
            self._run_inline(job)
            return
        with self._cond:
            was_empty = not self._queue
            self._queue.append(job)
            if self._thread is None:
                self._thread = runtime.start_thread(self._run, self.name)
            if was_empty:  # else the thread is busy or batching: waking it would only cost
                self._cond.notify_all()  # the kernel thread a switch of the GIL

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every queued job ran (True), or ``timeout`` seconds passed (False)."""
        with self._cond:
            if threading.current_thread() is self._thread:
                return True  # a job waiting for its own thread
            if not self._queue and not self._busy:
                return True
            self._waiting += 1
            self._cond.notify_all()  # a batching thread stops waiting for more
            try:
                return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)
            finally:
                self._waiting -= 1

    def stop_at_exit(self, timeout: float) -> bool:
        """At interpreter exit: wait up to ``timeout`` for the queued jobs, then run every later
        job in the caller's thread (an exit hook that runs after this one still gets its
        records written, while logging works), so no background work outlives the exit.
        Jobs still queued after ``timeout`` are dropped (the index is a cache of the files:
        ``labmate ls`` rebuilds it). True when nothing was dropped."""
        done = self.wait(timeout)
        with self._cond:
            self._inline = True
            dropped = list(self._queue)
            self._queue.clear()
        if dropped:
            logger.warning(
                "%s: %d index records not written at exit (busy database?); the next "
                "`labmate ls` reads them from the files",
                self.name,
                len(dropped),
            )
        return done and not dropped

    def _run_inline(self, job: Any) -> None:
        try:
            self._execute([job] if isinstance(job, Row) else job)
        except Exception:  # as on the thread: a bug must not break the caller
            logger.warning("%s: a job failed", self.name, exc_info=True)

    def _take(self) -> Any:
        """The rows at the head of the queue (after the batching delay), else one callable;
        called with the condition held and the queue not empty."""
        if not isinstance(self._queue[0], Row):
            return self._queue.popleft()
        self._cond.wait_for(lambda: self._waiting > 0, BATCH_DELAY)
        rows: list[Row] = []
        while self._queue and isinstance(self._queue[0], Row):
            rows.append(self._queue.popleft())
        return rows

    def _execute(self, job: Any) -> None:
        if isinstance(job, list):
            self._write_rows(job)
        else:
            job()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue))
                job = self._take()
                self._busy = True
            try:
                self._execute(job)
            except Exception:  # the jobs never raise; a bug must not end the thread
                logger.warning("%s: a job failed", self.name, exc_info=True)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
