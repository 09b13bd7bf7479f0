"""One loaded extension on one shell: its settings, its manager and its cell runner."""

from __future__ import annotations

import logging
import os
import weakref
from typing import Any

from IPython.core.error import UsageError
from traitlets import TraitError

from labmate_core.acquisition_notebook import AcquisitionAnalysisManager, AcquisitionLoop

from . import errors
from .cells import CellRunner
from .config import Labmate, check_writable_directory
from .reports import BackendReport, LabmateReport, current_prefix, earlier_snapshots

logger = logging.getLogger(__name__)

__all__ = ["LabmateSession", "SESSIONS"]

#: the loaded session of each shell (kept here so that reloading the package keeps it)
SESSIONS: weakref.WeakKeyDictionary[Any, LabmateSession] = weakref.WeakKeyDictionary()

_APPLIED = ["data_directory", "save_files", "config_files", "manager_name", "mirror"]

#: names put in the user namespace beside the manager (unless the user bound them already)
NAMESPACE = {"AcquisitionLoop": AcquisitionLoop}


class LabmateSession:
    """Keeps the ``Labmate`` settings and the manager published in the user namespace in step.

    The manager used by the magics is the ``AcquisitionAnalysisManager`` bound to
    ``Labmate.manager_name`` in the user namespace: the one the extension created, or one the
    user created and bound there. Setting changes apply to it at once (a new data directory is
    used by the next acquisition; the current one stays where it is).
    """

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        try:
            self.config = Labmate(parent=shell)
        except TraitError as error:  # a bad value in ipython_config.py: one line, not loaded
            raise UsageError(f"labmate_ext is not loaded: {error}") from None
        self.runner = CellRunner(shell)
        self._manager: AcquisitionAnalysisManager | None = None
        self._config_mirror: str | None = None
        self._published: set[str] = set()  # the user-namespace names given our manager
        self._names: dict[str, Any] = {}  # the NAMESPACE entries we bound (removed on close)
        self._errors = False  # our exception handler is installed on the shell
        self.panels: list[Any] = []  # the %labmate_panel panels shown (closed on unload)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Create and publish the manager, listen to the shell and to setting changes."""
        self.manager  # noqa: B018 - creates and publishes it
        for name, value in NAMESPACE.items():
            if name not in self.shell.user_ns:
                self.shell.user_ns[name] = self._names[name] = value
        if self.config.mirror:
            try:
                self._set_config_mirror(self.config.mirror)
            except ValueError as error:
                raise UsageError(f"labmate_ext is not loaded: {error}") from None
        self.runner.register()
        self._errors = errors.install(self.shell)
        if self.config not in self.shell.configurables:
            self.shell.configurables.append(self.config)
        self.config.observe(self._on_setting, names=_APPLIED)

    def close(self) -> None:
        """Undo :meth:`start`: events, ``%config`` entry, the published manager (under every
        name it was given, where it is still bound), its shell events and its copies."""
        self.runner.unregister()
        if self._errors:
            errors.uninstall(self.shell)
            self._errors = False
        bound = self.shell.user_ns.get(self.config.manager_name)
        if isinstance(bound, AcquisitionAnalysisManager) and self._config_mirror in bound.backends:
            # a user's manager outlives the session; the data directory keeps its record
            bound.remove_backend(self._config_mirror, forget=False)
        self._config_mirror = None
        panels, self.panels = self.panels, []
        for panel in panels:
            try:
                panel.close()
            except Exception:
                logger.debug("could not close a panel", exc_info=True)
        self.config.unobserve(self._on_setting, names=_APPLIED)
        while self.config in self.shell.configurables:
            self.shell.configurables.remove(self.config)
        names, self._names = self._names, {}
        for name, value in names.items():
            if self.shell.user_ns.get(name) is value:
                del self.shell.user_ns[name]
        manager, self._manager = self._manager, None
        published, self._published = self._published, set()
        if manager is None:
            return
        for name in sorted(published):
            if self.shell.user_ns.get(name) is manager:
                del self.shell.user_ns[name]
        manager.detach_shell()  # its handlers go even when the manager is referenced elsewhere
        dispatcher = manager.dispatcher
        if dispatcher is not None:
            dispatcher.close()

    # -- the manager ------------------------------------------------------------------------------
    @property
    def manager(self) -> AcquisitionAnalysisManager:
        """The manager bound to ``manager_name`` (created and bound when there is none)."""
        name = self.config.manager_name
        bound = self.shell.user_ns.get(name)
        if isinstance(bound, AcquisitionAnalysisManager):
            return bound
        if self._manager is None:
            self._manager = self._create_manager()
        if bound is not None:
            logger.warning(
                "%s was rebound to a %s; labmate puts its manager back under that name "
                "(set Labmate.manager_name to use another name)",
                name,
                type(bound).__name__,
            )
        self._publish(name)
        return self._manager

    def _publish(self, name: str) -> None:
        self.shell.user_ns[name] = self._manager
        self._published.add(name)

    def _create_manager(self) -> AcquisitionAnalysisManager:
        config = self.config
        directory = check_writable_directory(config.data_directory)
        manager = AcquisitionAnalysisManager(
            directory,
            config_files=list(config.config_files) or None,
            save_files=config.save_files,
            shell=self.shell,
        )
        if config.config_files:
            _set_default_config_files(manager, config.config_files)
        return manager

    def _on_setting(self, change: Any) -> None:
        name, value = change["name"], change["new"]
        if name == "mirror":
            self._set_config_mirror(value)
            return
        if name == "manager_name":
            if self._manager is not None and change["new"] not in self.shell.user_ns:
                self._publish(value)
            return
        manager = self.manager
        if name == "data_directory":
            manager.data_directory = check_writable_directory(value)
            if self.config.mirror:  # the setting applies to whatever data directory is used
                self._set_config_mirror(self.config.mirror)
        elif name == "save_files":
            manager.save_files = bool(value)
        elif name == "config_files":
            manager.set_config_file(list(value))
            _set_default_config_files(manager, value)
        logger.info("Labmate.%s = %r", name, value)

    # -- backends -----------------------------------------------------------------------------
    def add_backend(
        self, backend: Any, name: str | None = None, origin: str = "magic", record: bool = True
    ) -> str:
        """Add ``backend`` to the manager with the configured retry limits; return its name
        (recorded in the data directory as coming from ``origin``, unless ``record`` is false)."""
        manager = self.manager
        manager.configure_backends(
            max_attempts=self.config.max_attempts, backoff=self.config.backoff
        )
        return manager.add_backend(backend, name=name, origin=origin, record=record)

    def _set_config_mirror(self, path: str) -> None:
        from labmate_core.backends import MirrorDirectoryBackend
        from labmate_core.backends.base import backend_name

        manager = self.manager
        backends = manager.backends
        old = self._config_mirror if self._config_mirror in backends else None
        new = MirrorDirectoryBackend(path) if path else None
        restored = manager.restored_backends  # the same mirror, restored: replaced or kept
        if (
            new is not None
            and backend_name(new) in backends
            and backend_name(new) not in (old, *restored)
        ):
            raise ValueError(  # checked before the configured mirror is removed
                f"Labmate.mirror: a backend named {backend_name(new)!r} is already configured "
                "(%labmate_backend remove NAME first)"
            )
        if old is not None:
            manager.remove_backend(old)
        self._config_mirror = None
        if new is not None:
            self._config_mirror = self.add_backend(new, origin="config")

    # -- reports --------------------------------------------------------------------------------
    def report(self) -> LabmateReport:
        """Where data goes, the current acquisition, the backends and pending copies."""
        manager = self.manager
        prefix = current_prefix(manager)
        status = None
        if prefix is not None:
            try:
                acquisition = manager.current_acquisition
                status = None if acquisition is None else acquisition.status
            except (ValueError, OSError, KeyError):
                status = "missing"
        earlier = earlier_snapshots(manager)
        return LabmateReport(
            manager_name=self.config.manager_name,
            data_directory=os.fspath(manager.data_directory),
            configured_directory=self.config.data_directory,
            save_files=manager.save_files,
            config_files=list(manager.config_files),
            current=prefix,
            current_status=status,
            backends=BackendReport.of(manager),
            earlier_undelivered=len(earlier),
            earlier_failed=sum(1 for entry in earlier if entry.state == "failed"),
        )


def _set_default_config_files(manager: AcquisitionAnalysisManager, files: list[str]) -> None:
    """``Labmate.config_files`` are also what ``aqm.cfg`` and ``aqm.parse_config_str`` read
    (by file name, as the acquisition stores them), as ``aqm.set_default_config_files``."""
    manager.set_default_config_files([os.path.basename(os.fspath(file)) for file in files])
