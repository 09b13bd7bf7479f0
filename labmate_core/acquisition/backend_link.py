"""Managers' link to the background backends (SPEC §3): a lazily created dispatcher."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from .. import index

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


class BackendLink:
    """Mixin: ``backends``, ``add_backend``, ``remove_backend``, ``wait_backends``,
    ``backend_status`` and the internal ``_submit`` / ``_hydrate`` used by the managers."""

    _dispatcher: Any = None
    _backend_options: dict[str, Any] = {}

    def _init_backends(
        self,
        data_directory: str | os.PathLike,
        backend: Any,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self._dispatcher = None
        self._backend_directory = os.fspath(data_directory)
        self._backend_options = {}
        if options:
            self.configure_backends(**options)
        backends = _as_backends(backend)
        if backends:
            dispatcher = self._get_dispatcher()
            for item in backends:
                dispatcher.add(item)

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

        options = {
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

    def add_backend(self, backend: Any, name: str | None = None) -> str:
        """Add a backend; returns its name."""
        return self._get_dispatcher().add(backend, name=name)

    def remove_backend(self, name: str) -> Any:
        """Remove the backend ``name``."""
        if self._dispatcher is None:
            raise KeyError(f"No backend named {name!r}")
        return self._dispatcher.remove(name)

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
        if self._dispatcher is None or not prefix or not self._dispatcher.backends:
            return
        try:
            self._dispatcher.submit(prefix)
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
