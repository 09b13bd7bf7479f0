"""``Labmate``: the extension's settings, from ``ipython_config.py`` or ``%config``.

```
c.Labmate.data_directory = "~/measurements"       # ipython_config.py
%config Labmate.data_directory = "./data"         # at run time: applies to the next acquisition
```
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from traitlets import Bool, Float, Int, List, TraitError, Unicode, default, validate
from traitlets.config import Config, Configurable

__all__ = ["Labmate", "check_writable_directory", "holds"]

logger = logging.getLogger(__name__)


def check_writable_directory(value: str | os.PathLike, what: str = "data directory") -> Path:
    """Absolute ``value`` after creating it if needed; ``ValueError`` if it cannot be written."""
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value).strip():
        raise ValueError(f"the {what} must be a non-empty path, got {value!r}")
    path = Path(os.fspath(value)).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise ValueError(f"the {what} {path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create the {what} {path}: {error.strerror or error}") from None
    _try_writing(path, what)
    return path


def holds(folder: str | os.PathLike, path: str | os.PathLike) -> bool:
    """Whether ``path`` is ``folder`` or inside it (both resolved): a mirror there would have
    its copies taken for acquisitions, or be the files themselves."""
    folder = Path(folder).expanduser().resolve()
    path = Path(path).expanduser().resolve()
    return path == folder or folder in path.parents


def _try_writing(path: Path, what: str) -> None:
    """Create and delete a file in ``path``: ``os.access`` is not to be trusted (root, NFS
    root squash, read-only or special file systems)."""
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".labmate-write-test-", dir=path)
    except OSError as error:
        raise ValueError(f"the {what} {path} is not writable: {error.strerror or error}") from None
    os.close(descriptor)
    try:
        os.unlink(probe)
    except OSError as error:
        raise ValueError(
            f"the {what} {path} is not usable: cannot delete a file there "
            f"({error.strerror or error})"
        ) from None


class Labmate(Configurable):
    """Settings of the ``labmate_ext`` IPython extension (``%load_ext labmate_ext``)."""

    data_directory = Unicode(
        help="Where acquisitions are written (default: env ACQUISITION_DIR, else ./data). "
        "A change applies to the next acquisition; the current one stays where it is.",
    ).tag(config=True)

    save_files = Bool(
        True,
        help="Also write the cell (<prefix>_CELL.py), config copies and analysis cells "
        "as files beside the .h5.",
    ).tag(config=True)

    config_files = List(
        Unicode(),
        help="Config files snapshotted into every acquisition (each must exist).",
    ).tag(config=True)

    manager_name = Unicode(
        "aqm",
        help="Name of the AcquisitionAnalysisManager in the user namespace.",
    ).tag(config=True)

    max_attempts = Int(
        5,
        help="How many times a backend copy is tried before it is marked failed "
        "(applies to backends added afterwards).",
    ).tag(config=True)

    backoff = Float(
        1.0,
        help="Seconds before the first retry of a failed backend copy; doubles at each retry "
        "(applies to backends added afterwards).",
    ).tag(config=True)

    mirror = Unicode(
        "",
        help="If set, a directory every acquisition is mirrored to "
        "(same as %labmate_backend mirror PATH).",
    ).tag(config=True)

    def update_config(self, config: Config) -> None:
        """Apply ``config`` (``%config Labmate.x = ...``); a refused value keeps the old one.

        The refusal is shown as one ``UsageError:`` line by the shell: IPython's ``%config``
        would log it with ``logging.error``, which configures the root logger of the kernel.
        Without a shell the ``TraitError`` is raised.
        """
        before = dict(self._trait_values)
        try:
            super().update_config(config)
        except Exception as error:  # a refused value, or a change that could not be applied
            # the setting keeps its old value (a change handler may have failed after the set)
            for name, value in before.items():
                if self._trait_values.get(name) is not value:
                    self._trait_values[name] = value
            # and so does the shell's config, into which %config merged it (the next load)
            section = getattr(getattr(self.parent, "config", None), "Labmate", None)
            if section is not None:
                for name in list(section):
                    if name in self._trait_values:
                        section[name] = self._trait_values[name]
            show = getattr(self.parent, "show_usage_error", None)
            if show is None:
                raise
            if not isinstance(error, (TraitError, UsageError)):
                logger.debug("a Labmate setting could not be applied", exc_info=True)
            show(error if isinstance(error, UsageError) else UsageError(str(error)))


    @default("data_directory")
    def _default_data_directory(self) -> str:
        return os.environ.get("ACQUISITION_DIR") or "./data"

    @validate("data_directory")
    def _check_data_directory(self, proposal: Any) -> str:
        if self.mirror and holds(proposal["value"], self.mirror):
            raise TraitError(
                f"Labmate.data_directory: {Path(proposal['value']).expanduser().resolve()} is "
                f"the mirror {Path(self.mirror).expanduser().resolve()} or holds it: the "
                "copies would be taken for acquisitions (or be the files themselves)"
            )
        try:
            check_writable_directory(proposal["value"])
        except ValueError as error:
            raise TraitError(f"Labmate.data_directory: {error}") from None
        return proposal["value"]

    @validate("config_files")
    def _check_config_files(self, proposal: Any) -> list[str]:
        files = list(proposal["value"])
        missing = [f for f in files if not Path(f).expanduser().is_file()]
        if missing:
            raise TraitError(f"Labmate.config_files: no such file: {', '.join(missing)}")
        names = [Path(f).name for f in files]
        if len(set(names)) != len(names):
            raise TraitError("Labmate.config_files: two config files have the same name")
        return files

    @validate("manager_name")
    def _check_manager_name(self, proposal: Any) -> str:
        name = proposal["value"]
        if not name.isidentifier():
            raise TraitError(f"Labmate.manager_name must be a Python identifier, got {name!r}")
        return name

    @validate("max_attempts")
    def _check_max_attempts(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError(f"Labmate.max_attempts must be >= 1, got {proposal['value']}")
        return proposal["value"]

    @validate("backoff")
    def _check_backoff(self, proposal: Any) -> float:
        if not proposal["value"] >= 0:
            raise TraitError(f"Labmate.backoff must be >= 0, got {proposal['value']}")
        return proposal["value"]

    @validate("mirror")
    def _check_mirror(self, proposal: Any) -> str:
        if proposal["value"]:
            if holds(self.data_directory, proposal["value"]):
                raise TraitError(
                    f"Labmate.mirror: {Path(proposal['value']).expanduser().resolve()} is the "
                    "data directory or inside it: its copies would be taken for acquisitions; "
                    "choose a directory outside it"
                )
            try:
                check_writable_directory(proposal["value"], "mirror directory")
            except ValueError as error:
                raise TraitError(f"Labmate.mirror: {error}") from None
        return proposal["value"]
