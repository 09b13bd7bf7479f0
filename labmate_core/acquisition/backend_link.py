"""Managers' link to the background backends (SPEC §3): a lazily created dispatcher."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from .. import index, runtime

logger = logging.getLogger(__name__)

__all__ = ["BackendLink"]


def _as_backends(backend: Any) -> list[Any]:
    if backend is None:
        return []
    if isinstance(backend, (list, tuple, set, frozenset)):
        return list(backend)
    if isinstance(backend, Iterable) and not hasattr(backend, "save_snapshot"):
        return list(backend)
    return [backend]


def _resume(dispatcher: Any, names: list[str]) -> None:
    """In the background: deliver to the restored backends what they miss (stale content,
    never delivered: a save killed before its submit, a write outside a manager)."""
    from ..backends.survey import resubmit_undelivered

    try:
        resubmit_undelivered(dispatcher, names)
    except Exception:
        logger.exception("could not look for the acquisitions the backends %s miss", names)
    finally:
        dispatcher.search_done()


class BackendLink:
    """Mixin: ``backends``, ``add_backend``, ``remove_backend``, ``wait_backends``,
    ``backend_status`` and the internal ``_submit`` / ``_hydrate`` used by the managers."""

    _dispatcher: Any = None
    _backend_options: dict[str, Any] = {}
    #: recorded backends of the data directory that could not be re-created (name -> why)
    _unrestored: dict[str, str] = {}
    #: names of the backends re-created from the data directory's record (name -> origin)
    _restored: dict[str, str] = {}

    def _init_backends(
        self,
        data_directory: str | os.PathLike,
        backend: Any,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self._dispatcher = None
        self._backend_directory = os.fspath(data_directory)
        self._backend_options = {}
        self._unrestored = {}
        self._restored = {}
        if options:
            self.configure_backends(**options)
        for item in _as_backends(backend):
            self.add_backend(item)
        self._restore_backends()

    def _move_backends(self, data_directory: str | os.PathLike) -> None:
        """The data directory changed: its recorded backends replace those restored from the
        former one, which stay recorded there (their pending copies drain in the background,
        what is left stays in that directory's journal). Backends added in this process come
        along (recorded in the new directory)."""
        from ..backends.configured import ConfiguredBackends

        directory = os.fspath(data_directory)
        if os.path.abspath(directory) == os.path.abspath(self._backend_directory):
            return
        old, self._dispatcher = self._dispatcher, None
        added = {} if old is None else dict(old.backends)
        for name in self._restored:
            added.pop(name, None)
        recorded = ConfiguredBackends(self._backend_directory).load_or_empty() if added else {}
        origins = {name: recorded[name].origin if name in recorded else "api" for name in added}
        if old is not None:
            logger.info(
                "backends %s stay with %s; now using those of %s",
                list(old.backends),
                self._backend_directory,
                directory,
            )
            runtime.start_thread(old.close, "labmate-backend-close")
        self._backend_directory = directory
        self._unrestored = {}
        self._restored = {}
        for name, backend in added.items():
            self.add_backend(backend, name=name, origin=origins[name])
        self._restore_backends()

    def _restore_backends(self) -> None:
        """Re-create the backends recorded in the data directory (``.labmate/backends.json``)
        that are not configured yet; those that cannot be are kept as "not restored"."""
        from ..backends.configured import ConfiguredBackends

        recorded = ConfiguredBackends(self._backend_directory).load_or_empty()
        for name, entry in recorded.items():
            if name in self.backends:
                continue
            try:
                backend = entry.create()
                self._get_dispatcher().add(backend, name=name)
            except Exception as error:
                self._get_dispatcher()  # journals what the backend misses (``_submit``)
                self._unrestored[name] = f"{type(error).__name__}: {error}"
                logger.warning(
                    "backend %r of %s is not restored: %s; what it misses stays pending "
                    "(add it again, or: %%labmate_backend remove %s)",
                    name,
                    self._backend_directory,
                    error,
                    name,
                )
                continue
            self._restored[name] = entry.origin
            logger.info("backend %r restored from %s", name, self._backend_directory)
        if self._restored:
            self._dispatcher.search_started()  # wait_backends and the exit drain wait for it
            runtime.start_thread(
                _resume, "labmate-backend-resume", self._dispatcher, list(self._restored)
            )

    @property
    def unrestored_backends(self) -> dict[str, str]:
        """Backends recorded in the data directory that this process could not re-create
        (name -> why); their copies are journaled as pending."""
        return dict(self._unrestored)

    @property
    def restored_backends(self) -> dict[str, str]:
        """Backends re-created from the data directory's record (name -> where they came from)."""
        return dict(self._restored)

    def _get_dispatcher(self) -> Any:
        if self._dispatcher is None:
            from ..backends.dispatcher import BackendDispatcher

            dispatcher = BackendDispatcher(self._backend_directory, **self._backend_options)
            dispatcher.add_listener(
                functools.partial(index.on_backend_status, data_directory=self._backend_directory)
            )
            self._dispatcher = dispatcher
        return self._dispatcher

    @property
    def backend_options(self) -> dict[str, Any]:
        """The retry settings given to the dispatcher (see :meth:`configure_backends`)."""
        return dict(self._backend_options)

    def configure_backends(
        self,
        *,
        max_attempts: int | None = None,
        backoff: float | None = None,
        max_backoff: float | None = None,
        drain_timeout: float | None = None,
    ) -> None:
        """Retry limits of the backends: attempts per snapshot, first delay between attempts
        (doubling up to ``max_backoff``) in s, and how long exit waits for pending copies.
        Applies to the backends already added and to those added later; None keeps a value."""
        from ..backends.dispatcher import check_options

        options: dict[str, Any] = {
            "max_attempts": max_attempts,
            "backoff": backoff,
            "max_backoff": max_backoff,
            "drain_timeout": drain_timeout,
        }
        options = {key: value for key, value in options.items() if value is not None}
        check_options(**options)
        if self._dispatcher is not None:
            self._dispatcher.configure(**options)
        self._backend_options = {**self._backend_options, **options}

    @property
    def dispatcher(self) -> Any:
        """The :class:`~labmate_core.backends.dispatcher.BackendDispatcher` (None if unused)."""
        return self._dispatcher

    @property
    def backends(self) -> dict[str, Any]:
        """The configured backends by name."""
        return {} if self._dispatcher is None else dict(self._dispatcher.backends)

    def add_backend(
        self, backend: Any, name: str | None = None, *, origin: str = "api", record: bool = True
    ) -> str:
        """Add a backend; returns its name. It is recorded in the data directory (unless
        ``record`` is false), so later kernels and processes writing there restore it. A
        backend of that name restored from the record is replaced (kept when the spec is the
        same)."""
        from ..backends.base import backend_name, backend_spec
        from ..backends.configured import ConfiguredBackends

        if isinstance(backend, type) or not callable(getattr(backend, "save_snapshot", None)):
            raise TypeError(
                f"a backend is an object with a save_snapshot(acquisition) method "
                f"(e.g. an AcquisitionBackend instance), got {backend!r}"
            )
        chosen = name or backend_name(backend)
        dispatcher = self._get_dispatcher()
        if chosen in self._restored and chosen in dispatcher.backends:
            if backend_spec(dispatcher.backends[chosen]) == backend_spec(backend) is not None:
                backend = None  # the same backend: keep the restored worker
            else:
                dispatcher.remove(chosen)
            del self._restored[chosen]
        if backend is not None:
            chosen = dispatcher.add(backend, name=name)
        self._unrestored.pop(chosen, None)
        if record:
            try:
                ConfiguredBackends(self._backend_directory).add(
                    chosen, dispatcher.backends[chosen], origin
                )
            except OSError:
                logger.exception(
                    "backend %r is not recorded in %s: later kernels will not restore it",
                    chosen,
                    self._backend_directory,
                )
        return chosen

    def remove_backend(self, name: str, *, forget: bool = True) -> Any:
        """Remove the backend ``name``. With ``forget`` (the default) it leaves the data
        directory: its record, its pending copies and its delivery records go; without, only
        this process stops using it. A recorded backend that was not restored can be removed."""
        from ..backends.configured import ConfiguredBackends
        from ..backends.delivered import DeliveryRecords
        from ..backends.journal import Journal

        removed: Any = None
        if name in self._unrestored:
            del self._unrestored[name]
        elif self._dispatcher is None or name not in self._dispatcher.backends:
            known = ", ".join(repr(n) for n in [*self.backends, *self._unrestored]) or "none"
            raise KeyError(f"no backend named {name!r} (configured: {known})")
        else:
            removed = self._dispatcher.remove(name)
            self._restored.pop(name, None)
        if forget:
            try:
                ConfiguredBackends(self._backend_directory).remove(name)
                journal = Journal(self._backend_directory)
                for entry in journal.entries(name):
                    journal.remove(name, journal.absolute(entry.prefix))
                DeliveryRecords(self._backend_directory).forget(name)
            except OSError:
                logger.exception("backend %r could not be removed from the record", name)
        return removed

    def wait_backends(self, timeout: float | None = None) -> bool:
        """Block until every pending snapshot is copied (True) or ``timeout`` passes (False)."""
        return True if self._dispatcher is None else self._dispatcher.wait(timeout)

    def backend_status(self, prefix: str | None = None) -> Any:
        """Status of the snapshots per backend (of one acquisition prefix, or all)."""
        if self._dispatcher is None:
            return {}
        return self._dispatcher.status(prefix)

    def _submit(self, prefix: str | None) -> None:
        """Ask every backend to copy the acquisition ``prefix`` (never raises)."""
        if self._dispatcher is None or not prefix:
            return
        try:
            if self._dispatcher.backends:
                self._dispatcher.submit(prefix)
            if self._unrestored:  # recorded, not re-created: what they miss stays pending
                from ..backends.files import normalize_prefix

                self._dispatcher.journal.add_pending(normalize_prefix(prefix), self._unrestored)
        except Exception:  # a backend problem must never break the user's cell
            logger.exception("Could not hand %s to the backends", prefix)

    def _hydrate(self, prefix: str) -> bool:
        """Bring a missing acquisition back from a backend; False if none has it.

        Raises :class:`~labmate_core.backends.dispatcher.SnapshotUnavailableError` (a
        ``FileNotFoundError``) naming every backend tried and its error when a backend failed
        (rather than simply not having it): the user must see why the file did not come back.
        """
        if self._dispatcher is None or not self._dispatcher.backends:
            return False
        from ..backends.dispatcher import SnapshotUnavailableError

        try:
            return bool(self._dispatcher.load(prefix))
        except SnapshotUnavailableError as error:
            if error.errors:
                raise
            return False
