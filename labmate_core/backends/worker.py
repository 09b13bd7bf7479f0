"""One worker thread and queue per backend: ordered, coalescing, retrying deliveries."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .. import runtime
from .base import AcquisitionSnapshot, backend_spec
from .delivered import DeliveryRecords
from .identity import ContentIdentity, content_identity, file_keys, same_keys
from .journal import Journal, JournalEntry, Lease, safe_slug
from .staging import (
    AcquisitionMissingError,
    direct_snapshot,
    needs_staging,
    staged_snapshot,
    using_staging_root,
)
from .status import SnapshotStatus, State

logger = logging.getLogger(__name__)

#: how long a snapshot whose delivery another worker holds waits before it is looked at again
LEASE_RETRY = 0.2


class SavesSnapshots(Protocol):
    """What a worker needs of a backend (``BackendDispatcher.add`` checks it first)."""

    def save_snapshot(self, acquisition: AcquisitionSnapshot, /) -> object: ...


@dataclasses.dataclass
class _Job:
    prefix: Path
    experiment_name: str | None
    submitted: float
    attempts: int = 0
    not_before: float = 0.0
    last_error: str | None = None
    waited: bool = False  # for another worker's lease (logged once)
    #: the content of the acquisition's files when the copy began: if their keys did not move
    #: by its end, the copy is of that content (recorded as delivered; the journal record goes)
    identity: ContentIdentity | None = None
    unchanged: bool = False  # the files' keys were still ``identity``'s when the copy ended


class BackendWorker:
    """Delivers snapshots to one backend on its own daemon thread.

    Per acquisition, snapshots are delivered in submit order; a submit while an older snapshot of
    the same acquisition is still waiting replaces it. Failures are retried with exponential
    backoff up to ``max_attempts``, then kept as failed (status, journal and a log record).
    A delivery holds the journal's lease of (acquisition, backend name): one that another worker
    of that name (a removed one, another process) is still copying waits for it.
    """

    def __init__(
        self,
        name: str,
        backend: SavesSnapshots,
        journal: Journal,
        staging_root: Path,
        on_status: Callable[[SnapshotStatus], None],
        *,
        max_attempts: int,
        backoff: float,
        max_backoff: float,
    ):
        self.name = name
        self.backend = backend
        self._journal = journal
        self._delivered = DeliveryRecords(journal.data_directory)
        self._staging_root = staging_root / safe_slug(name)
        self._on_status = on_status
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._cond = threading.Condition()
        self._pending: dict[Path, _Job] = {}
        self._current: _Job | None = None
        self._lease: Lease | None = None
        #: prefixes whose pending record this worker wrote -> the record file's identity when
        #: last seen holding it (None: not looked at since)
        self._journaled: dict[Path, tuple | None] = {}
        self._stopping = False
        #: False for built-in backends that read the source consistently themselves
        self.staged = needs_staging(backend)
        #: how ``labmate sync`` re-creates the backend (journaled with each pending record)
        self.spec = backend_spec(backend)
        self._thread: threading.Thread | None = runtime.start_thread(
            self._loop, f"labmate-backend[{name}]"
        )  # an error that ends it is logged by the runtime

    # --- kernel side -------------------------------------------------------------------------

    @property
    def lock(self) -> threading.Condition:
        """Held by the dispatcher across :meth:`needs_record`, its journal write and
        :meth:`enqueue`."""
        return self._cond

    def submit(
        self, prefix: Path, experiment_name: str | None = None, submitted: float | None = None
    ) -> None:
        """Queue a snapshot of ``prefix`` (journaled first, unless its record is pending
        already); returns at once."""
        submitted = submitted if submitted is not None else time.time()
        with self._cond:
            journaled = not self.needs_record(prefix)
            if not journaled:
                try:
                    self._journal.add_pending(
                        prefix,
                        [self.name],
                        submitted=submitted,
                        experiment_name=experiment_name,
                        specs={self.name: self.spec},
                    )
                    journaled = True
                except OSError:
                    logger.exception(
                        "could not journal the snapshot of %s for %r; it is queued in memory only",
                        prefix,
                        self.name,
                    )
            self.enqueue(prefix, experiment_name, submitted, journaled)

    def configure(self, *, max_attempts: int, backoff: float, max_backoff: float) -> None:
        """New retry limits, used from the next failure on."""
        with self._cond:
            self._max_attempts = max_attempts
            self._backoff = backoff
            self._max_backoff = max_backoff

    def needs_record(self, prefix: Path) -> bool:
        """Whether a submit of ``prefix`` must journal it (no pending record of ours yet). A
        record stays until a delivery of the current files: one that another worker (a removed
        one, another process) made of older files does not drop it (:meth:`_drop_record`);
        one it made of the current files does, and the next submit (newer files) writes it
        again."""
        if prefix not in self._journaled:
            return True
        seen = self._journal.is_pending(self.name, prefix, self._journaled[prefix])
        if seen is not None:
            self._journaled[prefix] = seen
            return False
        del self._journaled[prefix]  # delivered by another worker of this name
        return True

    def enqueue(
        self, prefix: Path, experiment_name: str | None, submitted: float, journaled: bool
    ) -> None:
        """Queue a snapshot whose pending record is on disk if ``journaled``; hold ``lock``."""
        job = _Job(prefix, experiment_name, submitted)
        with self._cond:
            if self._stopping:
                raise RuntimeError(f"backend {self.name!r} has been stopped")
            previous = self._pending.get(prefix)
            if previous is not None:
                job.last_error = previous.last_error
            if journaled:
                self._journaled.setdefault(prefix, None)
            self._pending[prefix] = job
            if self._thread is None:  # a forked child's first submit
                self._thread = runtime.start_thread(self._loop, f"labmate-backend[{self.name}]")
            self._emit(job, State.PENDING)
            self._cond.notify_all()

    def reset_after_fork(self) -> None:
        """In a forked child: the parent's thread, lock, queue and lease are not this
        process's (the parent delivers what it queued); the next submit starts a thread here."""
        self._cond = threading.Condition()
        self._pending.clear()
        self._journaled.clear()
        self._current, self._thread = None, None
        self._delivered = DeliveryRecords(self._journal.data_directory)
        lease, self._lease = self._lease, None
        if lease is not None and lease.fd is not None:
            with contextlib.suppress(OSError):
                os.close(lease.fd)  # this process's copy; the parent still holds the lease

    def stop(self) -> None:
        """Stop after the current delivery; what is still queued stays in the journal."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; False if it is still busy (a hanging backend)."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # --- worker thread -----------------------------------------------------------------------

    def _emit(self, job: _Job, state: State) -> None:
        status = SnapshotStatus(
            next_try=_next_try(job) if state == State.PENDING else None,
            prefix=str(job.prefix),
            backend=self.name,
            state=state,
            attempts=job.attempts,
            last_error=job.last_error,
            time=time.time(),
            submitted=job.submitted,
        )
        try:
            self._on_status(status)
        except Exception:
            logger.exception("status callback failed for %s / %r", job.prefix, self.name)

    def _next_job(self) -> _Job | None:
        with self._cond:
            while True:
                if self._stopping:
                    return None
                now = time.monotonic()
                for job in self._pending.values():
                    if job.not_before > now:
                        continue
                    # another worker of this name (a removed one, another process) copying it
                    lease = self._journal.lease(self.name, job.prefix)
                    if lease is None:
                        if not job.waited:
                            job.waited = True
                            logger.info(
                                "backend %r: %s is being delivered by another worker of that "
                                "name (a removed one, or another process); waiting for it",
                                self.name,
                                job.prefix.name,
                            )
                        job.not_before = now + LEASE_RETRY
                        continue
                    self._lease = lease
                    del self._pending[job.prefix]
                    job.attempts += 1
                    self._current = job
                    self._emit(job, State.COPYING)
                    return job
                wake = min((j.not_before for j in self._pending.values()), default=None)
                self._cond.wait(None if wake is None else max(wake - now, 0.001))

    def _loop(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                return
            error: BaseException | None = None
            try:
                known = self._delivered.get(self.name, job.prefix)
                job.identity = content_identity(job.prefix, known[0] if known else None)
                with using_staging_root(self._staging_root):
                    self._deliver(job)
            except BaseException as exc:  # a backend may raise anything: record it, never lose it
                error = exc
                job.last_error = traceback.format_exc()
                logger.debug(
                    "backend %r failed on %s (attempt %d/%d)",
                    self.name,
                    job.prefix,
                    job.attempts,
                    self._max_attempts,
                    exc_info=True,
                )
            if error is None:  # outside the lock: a folder listing must not hold up a submit
                job.unchanged = _unchanged(job)
                if job.unchanged:  # nor a write to delivered.sqlite (another process may hold it)
                    self._record_delivery(job)
            self._finish(job, error)

    def _record_delivery(self, job: _Job) -> None:
        """Record that the backend holds ``job.identity`` (true whatever was submitted since)."""
        assert job.identity is not None
        try:
            self._delivered.record(self.name, job.prefix, job.identity)
        except OSError:
            logger.exception("could not record the delivery of %s to %r", job.prefix, self.name)

    def _deliver(self, job: _Job) -> None:
        if self.staged:
            with staged_snapshot(job.prefix, self._staging_root, job.experiment_name) as snapshot:
                self.backend.save_snapshot(snapshot)
        else:
            self.backend.save_snapshot(direct_snapshot(job.prefix, job.experiment_name))

    def _log_failure(self, job: _Job, error: BaseException, then: str) -> None:
        """One WARNING line for a failed attempt (the traceback is at DEBUG and in the status)."""
        logger.warning(
            "backend %r failed on %s: %s (attempt %d/%d); %s",
            self.name,
            job.prefix.name,
            _one_line(error),
            job.attempts,
            self._max_attempts,
            then,
        )

    def _finish(self, job: _Job, error: BaseException | None) -> None:
        try:
            self._settle(job, error)
        finally:
            lease, self._lease = self._lease, None
            if lease is not None:
                lease.release()

    def _settle(self, job: _Job, error: BaseException | None) -> None:
        with self._cond:
            self._current = None
            newer = self._pending.get(job.prefix)
            if self._stopping:  # removed or closed: a newer worker of this name may own it now
                if error is None and newer is None:
                    self._drop_record(job)
                elif error is not None:
                    self._log_failure(job, error, "the backend was stopped; it stays journaled")
                self._cond.notify_all()
                return
            if error is None:
                job.last_error = None
                if newer is None:
                    self._drop_record(job)
                    self._emit(job, State.DONE)
                self._cond.notify_all()
                return
            if newer is not None:  # a newer snapshot supersedes the retry
                self._log_failure(job, error, "a newer snapshot is queued")
                newer.last_error = job.last_error
                self._emit(newer, State.PENDING)
            elif job.attempts < self._max_attempts and not isinstance(
                error, AcquisitionMissingError
            ):
                delay = min(self._max_backoff, self._backoff * 2 ** (job.attempts - 1))
                self._log_failure(job, error, f"next retry in {delay:.3g} s")
                job.not_before = time.monotonic() + delay
                self._pending[job.prefix] = job
                self._record(job, State.PENDING)
                self._emit(job, State.PENDING)
            else:
                self._record(job, State.FAILED)
                self._journaled.pop(job.prefix, None)  # the next submit records it again
                logger.error(  # one line; the traceback is in the status and at DEBUG above
                    "backend %r gave up on %s after %d attempt(s): %s; it stays in the "
                    "journal (labmate status / labmate sync)",
                    self.name,
                    job.prefix,
                    job.attempts,
                    _one_line(error),
                )
                self._emit(job, State.FAILED)
            self._cond.notify_all()

    def _drop_record(self, job: _Job) -> None:
        """After a delivery: drop the pending record, unless the files changed since the copy
        began (it copied older content; whoever delivers the current files drops it, or the
        next start delivers it again) or a later submit rewrote it."""
        self._journaled.pop(job.prefix, None)
        if job.unchanged and job.identity is not None:  # recorded as delivered by _loop
            self._journal.remove(self.name, job.prefix, submitted=job.submitted)
        else:
            self._journaled[job.prefix] = None
            logger.debug(
                "backend %r: %s changed while it was copied; its record stays pending",
                self.name,
                job.prefix.name,
            )

    def _record(self, job: _Job, state: State) -> None:
        entry = JournalEntry(
            self.name,
            "",
            state=state.value,
            attempts=job.attempts,
            last_error=job.last_error,
            submitted=job.submitted,
            experiment_name=job.experiment_name,
            next_try=_next_try(job) if state == State.PENDING else None,
        )
        try:
            self._journal.write(entry, job.prefix)
        except OSError:
            logger.exception("could not journal the status of %s for %r", job.prefix, self.name)


def _next_try(job: _Job) -> float | None:
    """The epoch of ``job``'s next attempt after a failure (None when it is not waiting)."""
    if not job.last_error or not job.attempts:
        return None
    wait = job.not_before - time.monotonic()
    return time.time() + max(wait, 0.0)


def _one_line(error: BaseException) -> str:
    """``Type: first line of the message`` (the traceback stays in the status)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _unchanged(job: _Job) -> bool:
    """Whether the acquisition's files (keys, with the ``.h5``'s write generation) are still
    what they were when ``job``'s content identity was taken, before its copy began."""
    if job.identity is None:
        return False
    try:
        return same_keys(file_keys(job.prefix), job.identity.keys())
    except OSError:
        return False
