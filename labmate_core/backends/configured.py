"""The backends of a data directory: ``DATA/.labmate/backends.json``.

A backend added by ``%labmate_backend``, ``Labmate.mirror`` or the API is recorded here with its
``spec()`` (never a password: a backend with credentials has no spec) and where it came from;
every later manager (kernel, process) on the data directory re-creates it, until it is removed
(``%labmate_backend remove``, ``labmate backend remove``). One that cannot be re-created (no
spec: a class defined in a notebook, storage options) is "not restored": what it misses stays
pending until a backend of that name is added again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .base import backend_spec
from .journal import labmate_dir

logger = logging.getLogger(__name__)

ORIGINS = ("magic", "config", "api")


class ConfiguredBackendsError(OSError):
    """``backends.json`` cannot be read (the file and the reason are named)."""


@dataclasses.dataclass
class ConfiguredBackend:
    """One recorded backend: its name, how to re-create it, where it came from."""

    name: str
    spec: dict[str, Any] | None
    origin: str = "api"
    cls: str = ""
    added: float = 0.0

    @property
    def restorable(self) -> bool:
        return self.spec is not None

    def create(self) -> Any:
        """A new backend from the spec (``ValueError`` when there is none)."""
        from .registry import create_backend

        if self.spec is None:
            raise ValueError(
                f"backend {self.name!r} ({self.cls or 'unknown class'}) records no spec: it "
                "cannot be re-created (add it again in this kernel)"
            )
        return create_backend(self.spec["kind"], *self.spec["args"], **self.spec["kwargs"])


def _class_name(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


class ConfiguredBackends:
    """Reads and changes ``backends.json`` (under a lock, written atomically)."""

    def __init__(self, data_directory: str | os.PathLike) -> None:
        self.data_directory = Path(data_directory).absolute()
        self.path = labmate_dir(self.data_directory) / "backends.json"

    def load(self) -> dict[str, ConfiguredBackend]:
        """The recorded backends by name; :class:`ConfiguredBackendsError` if unreadable."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise ConfiguredBackendsError(f"cannot read {self.path}: {error}") from error
        try:
            data = json.loads(text)
            found = {}
            for name, item in data["backends"].items():
                spec = item.get("spec")
                if spec is not None and not (
                    isinstance(spec.get("kind"), str)
                    and isinstance(spec.get("args"), list)
                    and isinstance(spec.get("kwargs"), dict)
                ):
                    raise ValueError(f"invalid spec of {name!r}")
                found[name] = ConfiguredBackend(
                    name,
                    spec,
                    str(item.get("origin", "api")),
                    str(item.get("class", "")),
                    float(item.get("added", 0.0)),
                )
            return found
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfiguredBackendsError(f"{self.path} is unreadable: {error}") from error

    def load_or_empty(self) -> dict[str, ConfiguredBackend]:
        """:meth:`load`, an unreadable file logged (once per call) and read as empty."""
        try:
            return self.load()
        except ConfiguredBackendsError as error:
            logger.error("%s; its backends are not restored (fix or remove the file)", error)
            return {}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(".backends.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = json.loads(self.path.read_text(encoding="utf-8"))["backends"]
                if not isinstance(current, dict):
                    raise ValueError("not a mapping")
            except FileNotFoundError:
                current = {}
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise ConfiguredBackendsError(
                    f"{self.path} is unreadable ({error}): not changed; fix or remove it"
                ) from error
            yield current
            text = json.dumps({"version": 1, "backends": current}, indent=1, sort_keys=True)
            tmp = self.path.with_name(f".backends.{uuid.uuid4().hex[:8]}.tmp")
            tmp.write_text(text + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        finally:
            os.close(fd)

    def add(self, name: str, backend: object, origin: str = "api") -> ConfiguredBackend:
        """Record ``backend`` under ``name`` (replacing a record of that name)."""
        entry = ConfiguredBackend(
            name, backend_spec(backend), origin, _class_name(backend), time.time()
        )
        with self._locked() as current:
            current[name] = {
                "spec": entry.spec,
                "origin": entry.origin,
                "class": entry.cls,
                "added": entry.added,
            }
        if entry.spec is None:
            logger.info(
                "backend %r (%s) has no spec: a later kernel cannot re-create it", name, entry.cls
            )
        return entry

    def remove(self, name: str) -> bool:
        """Forget ``name``; False when it was not recorded."""
        if not self.path.exists():
            return False
        with self._locked() as current:
            return current.pop(name, None) is not None
