"""BackendDispatcher: hands every saved acquisition to each backend, in the background."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import cast, overload

from .. import runtime
from .base import backend_name
from .files import normalize_prefix
from .journal import Journal, labmate_dir, safe_slug
from .notifier import Notifier
from .staging import install_files, remove_stale_staging, staging_area
from .status import SnapshotStatus, State
from .worker import BackendWorker, SavesSnapshots

logger = logging.getLogger(__name__)

Listener = Callable[[SnapshotStatus], object]


def check_options(
    *,
    max_attempts: int | None = None,
    backoff: float | None = None,
    max_backoff: float | None = None,
    drain_timeout: float | None = None,
) -> None:
    """Raise ``ValueError`` for an invalid retry or drain setting (None: not given)."""
    if max_attempts is not None and (
        isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1
    ):
        raise ValueError(f"max_attempts must be an integer >= 1, got {max_attempts!r}")
    numbers = (("backoff", backoff), ("max_backoff", max_backoff), ("drain_timeout", drain_timeout))
    for label, value in numbers:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{label} must be a number >= 0, got {value!r}")


class SnapshotUnavailableError(FileNotFoundError, ValueError):
    """No backend could bring an acquisition back; ``tried`` maps each backend to why not."""

    def __init__(self, message: str, tried: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.tried = dict(tried or {})

    @property
    def errors(self) -> dict[str, str]:
        """The backends that raised, with their error (``Type: message``)."""
        return {
            name: why[len("error: ") :]
            for name, why in self.tried.items()
            if why.startswith("error: ")
        }


class BackendDispatcher:
    """Delivers snapshots of acquisitions to backends without ever blocking the caller.

    Each backend has its own worker thread and queue, so a slow, failing or hanging backend never
    holds back another. Pending work is journaled in ``<data_dir>/.labmate/pending/`` (one file
    per acquisition, written once per submit whatever the number of backends) and resumed
    by the next dispatcher that has a backend of the same name; interpreter exit drains for at most
    ``drain_timeout`` seconds and leaves the rest journaled.
    """

    def __init__(
        self,
        data_directory: str | os.PathLike,
        backends: Iterable[object] = (),
        *,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        drain_timeout: float = 10.0,
    ):
        check_options(
            max_attempts=max_attempts,
            backoff=backoff,
            max_backoff=max_backoff,
            drain_timeout=drain_timeout,
        )
        self.data_directory = Path(data_directory).expanduser().absolute()
        if self.data_directory.exists() and not self.data_directory.is_dir():
            raise NotADirectoryError(f"data directory {self.data_directory} is not a directory")
        self.max_attempts = max_attempts
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.drain_timeout = float(drain_timeout)
        self.journal = Journal(self.data_directory)
        self._staging_root = labmate_dir(self.data_directory) / "staging"
        self._workers: dict[str, BackendWorker] = {}
        self._tokens: dict[str, object] = {}  # the current worker of each name: its token
        self._status: dict[str, dict[str, SnapshotStatus]] = {}
        self._cond = threading.Condition()
        self._notifier: Notifier[SnapshotStatus] = Notifier()
        self._closed = False
        self._searches = 0  # background searches for work to submit (``search_started``)
        remove_stale_staging(self._staging_root)  # left by processes that were killed
        _LIVE.add(self)
        for backend in backends:
            self.add(backend)

    # --- configuration -----------------------------------------------------------------------

    @property
    def backends(self) -> dict[str, object]:
        """The backends by name, in the order they were added."""
        with self._cond:
            return {name: worker.backend for name, worker in self._workers.items()}

    def add(self, backend: object, name: str | None = None) -> str:
        """Start delivering to ``backend``; resumes its journaled work. Returns its name."""
        if isinstance(backend, type) or not callable(getattr(backend, "save_snapshot", None)):
            raise TypeError(
                f"a backend is an object with a save_snapshot(acquisition) method "
                f"(e.g. an AcquisitionBackend instance), got {backend!r}"
            )
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ValueError(f"a backend name must be a non-empty string, got {name!r}")
        name = name or backend_name(backend)
        with self._cond:
            self._check_open()
            if name in self._workers:
                raise ValueError(
                    f"a backend named {name!r} is already configured; remove it first or "
                    f"give this one another name"
                )
            token = object()  # statuses of a removed worker of this name are ignored
            worker = BackendWorker(
                name,
                cast(SavesSnapshots, backend),  # checked above
                self.journal,
                self._staging_root,
                functools.partial(self._on_status, token),
                max_attempts=self.max_attempts,
                backoff=self.backoff,
                max_backoff=self.max_backoff,
            )
            self._workers[name] = worker
            self._tokens[name] = token
        resumed = self.journal.entries(name)
        for entry in resumed:
            worker.submit(
                self.journal.absolute(entry.prefix), entry.experiment_name, entry.submitted
            )
        if resumed:
            logger.info("backend %r: resuming %d journaled snapshot(s)", name, len(resumed))
        return name

    def configure(
        self,
        *,
        max_attempts: int | None = None,
        backoff: float | None = None,
        max_backoff: float | None = None,
        drain_timeout: float | None = None,
    ) -> None:
        """Change the retry limits (for the backends already added too: their next retry) or
        the exit drain time; None leaves a setting as it is."""
        check_options(
            max_attempts=max_attempts,
            backoff=backoff,
            max_backoff=max_backoff,
            drain_timeout=drain_timeout,
        )
        with self._cond:
            if max_attempts is not None:
                self.max_attempts = max_attempts
            if backoff is not None:
                self.backoff = float(backoff)
            if max_backoff is not None:
                self.max_backoff = float(max_backoff)
            if drain_timeout is not None:
                self.drain_timeout = float(drain_timeout)
            workers = list(self._workers.values())
        for worker in workers:
            worker.configure(
                max_attempts=self.max_attempts, backoff=self.backoff, max_backoff=self.max_backoff
            )

    def remove(self, name: str, *, discard: bool = False) -> object:
        """Stop delivering to backend ``name`` and return it.

        Its undelivered snapshots stay journaled (a backend of that name resumes them later)
        unless ``discard`` is true.
        """
        with self._cond:
            if name not in self._workers:
                known = ", ".join(repr(n) for n in self._workers) or "none"
                raise KeyError(f"no backend named {name!r} (configured: {known})")
            worker = self._workers.pop(name)
            self._tokens.pop(name, None)
            for per_backend in self._status.values():
                per_backend.pop(name, None)
            self._cond.notify_all()
        worker.stop()
        if discard:
            for entry in self.journal.entries(name):
                self.journal.remove(name, self.journal.absolute(entry.prefix))
        return worker.backend

    def add_listener(self, callback: Listener) -> None:
        """Call ``callback(status)`` (on a background thread) on every status change."""
        if not callable(callback):
            raise TypeError(f"a listener must be callable, got {callback!r}")
        self._notifier.add(callback)

    def remove_listener(self, callback: Listener) -> None:
        """Stop calling ``callback``."""
        self._notifier.remove(callback)

    # --- work --------------------------------------------------------------------------------

    def submit(
        self,
        filepath_prefix: str | os.PathLike,
        experiment_name: str | None = None,
        backends: Iterable[str] | None = None,
    ) -> None:
        """Queue a snapshot of the acquisition for every backend (or those named in
        ``backends``) and return at once."""
        prefix = normalize_prefix(filepath_prefix)
        h5 = prefix.with_name(prefix.name + ".h5")
        if not h5.is_file():
            raise FileNotFoundError(f"cannot snapshot {prefix}: {h5} does not exist")
        with self._cond:
            self._check_open()
            workers = list(self._workers.values())
        if backends is not None:
            wanted = set(backends)
            workers = [worker for worker in workers if worker.name in wanted]
        submitted = time.time()
        with contextlib.ExitStack() as held:  # workers in a fixed order: no deadlock
            for worker in workers:
                held.enter_context(worker.lock)
            # one journal file write lists every backend that has no pending record yet (a
            # record stays until the current files are delivered: BackendWorker._drop_record)
            new = [worker for worker in workers if worker.needs_record(prefix)]
            journaled = True
            if new:
                try:
                    self.journal.add_pending(
                        prefix,
                        [worker.name for worker in new],
                        submitted=submitted,
                        experiment_name=experiment_name,
                        specs={worker.name: worker.spec for worker in new},
                    )
                except OSError:
                    journaled = False
                    logger.exception(
                        "could not journal the snapshot of %s; it is queued in memory only",
                        prefix,
                    )
            for worker in workers:
                worker.enqueue(prefix, experiment_name, submitted, journaled)

    def search_started(self) -> None:
        """Someone looks for work to submit in the background (the acquisitions restored
        backends miss): until :meth:`search_done`, ``wait`` and the exit drain wait for it."""
        with self._cond:
            self._searches += 1

    def search_done(self) -> None:
        """The search announced by :meth:`search_started` has submitted what it found."""
        with self._cond:
            self._searches -= 1
            self._cond.notify_all()

    @overload
    def status(self, filepath_prefix: None = None) -> dict[str, dict[str, SnapshotStatus]]: ...
    @overload
    def status(self, filepath_prefix: str | os.PathLike) -> dict[str, SnapshotStatus]: ...
    def status(
        self, filepath_prefix: str | os.PathLike | None = None
    ) -> dict[str, dict[str, SnapshotStatus]] | dict[str, SnapshotStatus]:
        """``{prefix: {backend: SnapshotStatus}}``, or ``{backend: SnapshotStatus}`` of one prefix."""
        with self._cond:
            if filepath_prefix is None:
                return {p: dict(per) for p, per in self._status.items() if per}
            return dict(self._status.get(str(normalize_prefix(filepath_prefix)), {}))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every snapshot is done or failed; False if ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._busy():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        return self._notifier.wait(remaining)

    def flush(self, timeout: float | None = None) -> bool:
        """Same as ``wait``."""
        return self.wait(timeout)

    def load(self, filepath_prefix: str | os.PathLike) -> bool:
        """Bring a missing acquisition back from the first backend that has it (synchronously).

        Returns True when files were brought back, False when the ``.h5`` is already there;
        raises :class:`SnapshotUnavailableError` (a ``FileNotFoundError``) naming the backends
        tried, and why each failed, when none has it.
        """
        prefix = normalize_prefix(filepath_prefix)
        if prefix.with_name(prefix.name + ".h5").exists():
            return False
        tried: dict[str, str] = {}
        for name, backend in self.backends.items():
            outcome = self._load_from(name, backend, prefix)
            if outcome is None:
                logger.info("acquisition %s loaded from backend %r", prefix, name)
                return True
            tried[name] = outcome
        listed = "; ".join(f"{name} ({why})" for name, why in tried.items())
        raise SnapshotUnavailableError(
            f"acquisition {prefix} is not available locally nor from any backend; tried: "
            + (listed or "no backend is configured"),
            tried,
        )

    def _load_from(self, name: str, backend: object, prefix: Path) -> str | None:
        """None when ``backend`` brought the acquisition back, else why not."""
        loader = getattr(backend, "load_snapshot", None)
        if not callable(loader):
            return "cannot load"
        root = self._staging_root / safe_slug(name) / "load"
        with staging_area(root, prefix) as snapshot:
            try:
                result = loader(snapshot)
            except NotImplementedError:
                return "cannot load"
            except Exception as error:
                logger.warning("backend %r failed to load %s", name, prefix, exc_info=True)
                return f"error: {type(error).__name__}: {error}"
            if result is False:
                return "does not have it"
            staged = Path(snapshot.filepath)
            if staged.with_name(staged.name + ".h5").exists():
                install_files(staged, prefix)
                return None
        if prefix.with_name(prefix.name + ".h5").exists():
            return None
        return "reported success but no .h5 arrived"

    def close(self, timeout: float | None = None) -> bool:
        """Drain for at most ``timeout`` (default ``drain_timeout``) seconds, then stop.

        Returns True when everything was delivered; what is left stays in the journal.
        """
        timeout = self.drain_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._closed:
                return not self._busy()
            while self._searches and deadline > time.monotonic():  # they still submit
                self._cond.wait(deadline - time.monotonic())
            self._closed = True
        drained = self.wait(max(deadline - time.monotonic(), 0.0))
        with self._cond:
            workers = list(self._workers.values())
        for worker in workers:
            worker.stop()
        self._notifier.stop()
        _LIVE.discard(self)
        if not drained:
            left = sum(1 for per in self.status().values() for s in per.values() if not s.finished)
            logger.warning(
                "%d snapshot(s) not delivered within %.3g s; they stay journaled in %s and "
                "resume at the next start (or: labmate sync)",
                left,
                timeout,
                self.journal.root,
            )
        return drained

    def __enter__(self) -> BackendDispatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<BackendDispatcher {str(self.data_directory)!r} backends={list(self._workers)}>"

    # --- internals ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this BackendDispatcher is closed")

    def _busy(self) -> bool:
        return self._searches > 0 or any(
            status.state in (State.PENDING, State.COPYING)
            for per in self._status.values()
            for name, status in per.items()
            if name in self._workers
        )

    def _on_status(self, token: object, status: SnapshotStatus) -> None:
        with self._cond:
            if self._tokens.get(status.backend) is not token:
                return  # from a removed (or replaced) worker: not this backend's state
            self._status.setdefault(status.prefix, {})[status.backend] = status
            self._cond.notify_all()
        self._notifier.put(status)

    def _reset_after_fork(self) -> None:
        """In a forked child: the parent's threads, locks and statuses are not this
        process's (the parent delivers what it submitted); the child's submits start its own."""
        self._cond = threading.Condition()
        self._status = {}
        self._searches = 0  # the parent's background searches are not this process's
        self.journal.reset_after_fork()
        self._notifier.reset_after_fork()
        for worker in self._workers.values():
            worker.reset_after_fork()


#: the open dispatchers of this process: drained at exit, reset in a forked child
_LIVE: weakref.WeakSet[BackendDispatcher] = weakref.WeakSet()


def _drain_at_exit() -> None:
    """Close every open dispatcher within the longest ``drain_timeout`` of them (the rest
    stays journaled); the runtime flushes the index after this."""
    dispatchers = list(_LIVE)
    if not dispatchers:
        return
    deadline = time.monotonic() + max(d.drain_timeout for d in dispatchers)
    for dispatcher in dispatchers:
        try:
            dispatcher.close(max(deadline - time.monotonic(), 0.0))
        except Exception:
            logger.exception("error while draining %r at exit", dispatcher)


def _reset_after_fork() -> None:
    for dispatcher in list(_LIVE):
        dispatcher._reset_after_fork()


runtime.on_exit(runtime.DRAIN, "backend drain", _drain_at_exit)
runtime.on_fork("backends", _reset_after_fork)
