"""The backend interface: what a user implements to copy acquisitions somewhere else."""

from __future__ import annotations

import abc
import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_TIMESTAMP_RE = re.compile(r"^\d{4}_\d{2}_\d{2}__\d{2}_\d{2}_\d{2}__(?P<name>.+?)(?:__\d+)?$")


@dataclasses.dataclass(frozen=True)
class AcquisitionSnapshot:
    """One acquisition as handed to a backend.

    ``filepath`` is the path prefix without ``.h5`` (inside a private staging folder when the
    dispatcher calls ``save_snapshot``), ``directory`` the folder holding it (named after the
    experiment), ``original_filepath`` the prefix in the data directory.
    """

    filepath: str
    experiment_name: str
    directory: str
    original_filepath: str

    @classmethod
    def from_prefix(
        cls,
        prefix: str | Path,
        original_prefix: str | Path | None = None,
        experiment_name: str | None = None,
    ) -> AcquisitionSnapshot:
        """Build the snapshot of the files at ``prefix`` (the original defaults to the same)."""
        prefix = Path(prefix)
        original = Path(original_prefix) if original_prefix is not None else prefix
        if experiment_name is None:
            experiment_name = experiment_name_from_prefix(original)
        return cls(
            filepath=str(prefix),
            experiment_name=experiment_name,
            directory=str(prefix.parent),
            original_filepath=str(original),
        )

    @property
    def filename(self) -> str:
        """The basename of the prefix (no ``.h5``)."""
        return Path(self.filepath).name

    def files(self) -> list[Path]:
        """The acquisition's own files at ``filepath`` (see ``acquisition_files``)."""
        from .files import acquisition_files

        return acquisition_files(self.filepath)


def experiment_name_from_prefix(prefix: str | Path) -> str:
    """``.../sine/2026_11_24__16_56_38__sine__1`` -> ``sine`` (falls back to the folder name)."""
    match = _TIMESTAMP_RE.match(Path(prefix).name)
    if match:
        return match.group("name")
    return Path(prefix).parent.name


class AcquisitionBackend(abc.ABC):
    """Base class of the places acquisitions are copied to (fsspec style).

    Subclasses implement ``save_snapshot`` and, optionally, ``load_snapshot``. ``__init__`` need
    not call ``super().__init__()``. ``name`` identifies the backend in status, in the journal of
    pending work and in ``%labmate_backend remove NAME``; it defaults to ``default_name()``.
    """

    @abc.abstractmethod
    def save_snapshot(self, acquisition: AcquisitionSnapshot) -> None:
        """Copy the files of ``acquisition`` (``acquisition.filepath`` + ``.h5``, companions)."""

    def load_snapshot(self, acquisition: AcquisitionSnapshot) -> bool:
        """Bring the files of ``acquisition`` back next to ``acquisition.filepath``.

        Return True when they were copied, False when this backend does not have them.
        The default raises ``NotImplementedError`` (the dispatcher reads it as "not supported").
        """
        raise NotImplementedError(f"{type(self).__name__} cannot load snapshots")

    @property
    def name(self) -> str:
        """The backend's name: set explicitly, else ``default_name()``."""
        explicit = self.__dict__.get("_backend_name")
        return explicit if explicit else self.default_name()

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"a backend name must be a non-empty string, got {value!r}")
        self.__dict__["_backend_name"] = value

    def default_name(self) -> str:
        """Name used when none was given: the class name (built-ins add their target)."""
        return type(self).__name__

    def spec(self) -> dict[str, Any] | None:
        """How ``labmate sync`` can re-create this backend, recorded in the pending journal:
        ``{"kind": KIND, "args": [...], "kwargs": {...}}`` (JSON values, never secrets), or
        None (the default) when it cannot (``labmate sync`` then needs ``--backend``)."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def backend_spec(backend: object) -> dict[str, Any] | None:
    """The validated ``spec()`` of ``backend`` (see :meth:`AcquisitionBackend.spec`), or None."""
    method = getattr(backend, "spec", None)
    if not callable(method):
        return None
    try:
        spec = method()
        if spec is None:
            return None
        kind, args, kwargs = spec["kind"], spec.get("args", []), spec.get("kwargs", {})
        if not (isinstance(kind, str) and isinstance(args, list) and isinstance(kwargs, dict)):
            raise TypeError("kind must be a str, args a list and kwargs a dict")
        spec = {"kind": kind, "args": args, "kwargs": kwargs}
        json.dumps(spec)
    except Exception:
        logger.warning("ignoring the invalid spec() of backend %r", backend, exc_info=True)
        return None
    return spec


def backend_name(backend: object) -> str:
    """The name of any backend-like object (``.name`` if it is a string, else its class name)."""
    name = getattr(backend, "name", None)
    if isinstance(name, str) and name.strip():
        return name
    return type(backend).__name__
