"""NotebookAcquisitionData: the DH5 of a running acquisition (cells, configs, status, loops)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..dh5 import DH5, storage
from ..dh5.keys import join_key, split_key
from ..textfiles import write_text_atomically
from . import runs
from .acquisition_loop import AcquisitionLoop
from .configs import read_config_files
from .owner import this_process

logger = logging.getLogger(__name__)

__all__ = [
    "NotebookAcquisitionData",
    "STATUS_RUNNING",
    "STATUS_COMPLETED",
    "STATUS_FAILED",
    "RESERVED_KEYS",
    "check_user_keys",
    "holds_data",
]

STATUS_RUNNING = "running"
STATUS_COMPLETED = "completed"
STATUS_FAILED = "failed"

#: Root keys the file layout owns (SPEC §2): the user's data cannot use them.
RESERVED_KEYS = frozenset(
    {
        "acquisition_cell",
        "analysis_cell",
        "analysis_cells",
        "configs",
        "experiment_name",
        "info",
        "useful",
    }
)


def check_user_keys(keys: Any) -> None:
    """Raise ``ValueError`` naming the first key (``'k'`` or ``'k/sub'``) whose root is one of
    :data:`RESERVED_KEYS`; nothing is written by the caller then."""
    for key in keys:
        parts = split_key(key) if isinstance(key, (str, tuple)) else (key,)
        if parts and parts[0] in RESERVED_KEYS:
            raise ValueError(
                f"The key {key!r} is reserved by the acquisition file layout "
                f"({', '.join(sorted(RESERVED_KEYS))}): save the data under another name"
            )


def holds_data(acquisition: DH5 | Mapping[str, Any]) -> bool:
    """True when ``acquisition`` was saved (``useful``) or holds a key of the user's."""
    return bool(acquisition.get("useful", False)) or bool(set(acquisition.keys()) - RESERVED_KEYS)


class NotebookAcquisitionData(DH5):
    """A DH5 that also stores the acquisition cell(s), the config snapshot and the status.

    Creating one writes the file at once (``useful=False``, ``acquisition_cell/1``,
    ``configs/<name>``, ``experiment_name``, ``info/status='running'``, ``info/owner``), before
    the acquisition's code runs. With ``save_files``
    the cell and configs are also copied beside it as ``<prefix>_CELL.py`` and
    ``<prefix>_<config name>``. :class:`AcquisitionLoop` values are written point by point.
    """

    def __init__(
        self,
        filepath: str,
        configs: Mapping[str, str] | list[str] | None = None,
        cell: str | None = "none",
        overwrite: bool | None = True,
        save_on_edit: bool = True,
        save_files: bool = True,
        experiment_name: str | None = None,
        *,
        runs_directory: str | os.PathLike | None = None,
        _existing: bool = False,
    ) -> None:
        h5 = filepath if filepath.endswith(".h5") else filepath + ".h5"
        prefix = h5[:-3]
        if runs_directory is not None and not _existing:
            # named where the next process looks for unfinished runs before the file exists
            runs.mark_running(runs_directory, prefix)
        if _existing:  # values are read when used: reopening a big run reads no array
            super().__init__(filepath, mode="a", save_on_edit=save_on_edit, open_on_init=False)
        else:
            exists = os.path.exists(h5)
            super().__init__(
                filepath,
                read_only=False,
                overwrite=bool(overwrite) if exists else False,
                save_on_edit=False,
            )
        self._save_files = save_files
        self._runs_directory = runs_directory
        self._marked = runs_directory is not None  # a run marker may name this file
        self._loops: dict[str, AcquisitionLoop] = {}
        if isinstance(configs, list):
            configs = read_config_files(configs)
        self._config = dict(configs) if configs else None
        self._experiment_name = experiment_name
        self._cells: dict[int, str | None] = {}
        self._current_step = 1
        if _existing:
            self._cells = self._stored_cells()
            self._current_step = max(self._cells, default=1)
            return
        self._cells[1] = cell
        staged: dict[str, Any] = {
            "useful": False,
            "info/status": STATUS_RUNNING,
            "info/owner": this_process(),  # who may still be running it (a restart: owner.py)
        }
        if experiment_name is not None:
            staged["experiment_name"] = experiment_name
        if self._config:
            staged["configs"] = self._config
        if cell not in (None, "", "none"):
            staged["acquisition_cell/1"] = cell
        elif cell != "none":
            logger.warning("Acquisition cell is not set. Nothing to save")
        super().update(staged)
        self.save()
        self.save_on_edit = save_on_edit
        if save_files:
            self._write_cell_file(cell)
            self._write_config_files()

    @classmethod
    def open_existing(
        cls,
        filepath: str,
        *,
        save_on_edit: bool = True,
        save_files: bool = False,
        experiment_name: str | None = None,
        configs: Mapping[str, str] | None = None,
        runs_directory: str | os.PathLike | None = None,
    ) -> NotebookAcquisitionData:
        """Reopen an acquisition's file to add to it, without writing anything now
        (``runs_directory``: the data directory whose run markers name it, see runs.py)."""
        return cls(
            filepath,
            configs=configs,
            save_on_edit=save_on_edit,
            save_files=save_files,
            experiment_name=experiment_name,
            runs_directory=runs_directory,
            _existing=True,
        )

    @property
    def experiment_name(self) -> str | None:
        """The acquisition's name (also stored under the ``experiment_name`` key)."""
        return self._experiment_name

    def _stored_cells(self) -> dict[int, str | None]:
        cells: dict[int, str | None] = {}
        stored = self.get("acquisition_cell")
        if isinstance(stored, str):
            cells[1] = stored
        elif stored is not None:
            for key in stored.keys():
                if str(key).isdigit():
                    cells[int(key)] = stored[key]
        return cells

    # -- cells and configs ------------------------------------------------------------------
    @property
    def current_step(self) -> int:
        return self._current_step

    @current_step.setter
    def current_step(self, value: int) -> None:
        self._current_step = int(value)

    @property
    def cells(self) -> dict[int, str | None]:
        return dict(self._cells)

    @property
    def configs(self) -> dict[str, str] | None:
        return None if self._config is None else dict(self._config)

    def set_cell(self, cell: str | None, step: int | None = None) -> None:
        """Remember the cell of ``step`` (default: the current step)."""
        self._cells[self._current_step if step is None else int(step)] = cell

    def save_cell(
        self, cell: str | None = None, filepath: str | None = None, suffix: str | None = None
    ) -> None:
        """Store ``cell`` under ``acquisition_cell/<suffix>`` (and ``_CELL.py`` with save_files)."""
        if cell == "none":
            return
        if not cell:
            logger.warning("Acquisition cell is not set. Nothing to save")
            return
        self[f"acquisition_cell/{suffix if suffix is not None else 0}"] = cell
        if not self.save_on_edit:
            self.save()
        if self._save_files:
            self._write_cell_file(cell, filepath)

    def save_cells(
        self, cells: Mapping[int, str | None] | None = None, filepath: str | None = None
    ) -> None:
        """Store every cell (default: the cells of every step) under
        ``acquisition_cell/<step>``."""
        for step, cell in (cells or self._cells).items():
            self.save_cell(cell, filepath, suffix=str(step))

    def save_configs(
        self, configs: Mapping[str, str] | None = None, filepath: str | None = None
    ) -> None:
        """Store the config snapshot under ``configs/`` (and copies with save_files)."""
        configs = configs or self._config
        if not configs:
            return
        self["configs"] = dict(configs)
        if self._save_files:
            self._write_config_files(configs, filepath)

    def _write_copy(self, path: str, text: str) -> None:
        """Write a companion file, unless this object already wrote that text there and it
        is still there."""
        written = self.__dict__.setdefault("_written", {})
        if written.get(path) == text and os.path.exists(path):
            return
        write_text_atomically(path, text)
        written[path] = text

    def _write_cell_file(self, cell: str | None, filepath: str | None = None) -> None:
        if cell in (None, "", "none") or not self._save_files:
            return
        self._write_copy((filepath or self.filepath) + "_CELL.py", cell)  # type: ignore[operator]

    def _write_config_files(
        self, configs: Mapping[str, str] | None = None, filepath: str | None = None
    ) -> None:
        for name, text in (configs or self._config or {}).items():
            self._write_copy(f"{filepath or self.filepath}_{name}", text)

    # -- status -----------------------------------------------------------------------------
    @property
    def status(self) -> str | None:
        """``running`` / ``completed`` / ``failed`` as recorded in the file (None: unknown)."""
        info = self.get("info")
        return None if info is None or "status" not in info else info["status"]

    def set_status(self, status: str, error: str | None = None) -> None:
        """Record ``status`` (``info/status``, ``info/error``) and save. Status moves forward
        only: a *failed* acquisition stays failed and keeps its error (a second error is added
        after the first)."""
        changes = self._status_changes(status, error)
        if changes.get("info/status") == STATUS_RUNNING:
            self._mark_running()  # named as running before the file says so
        if changes:
            super().update(changes)
            self.save()
        elif not self.save_on_edit:
            self.save()  # nothing new to record, but pending keys are written as before
        if status != STATUS_RUNNING:
            self.close_loops()
        self._forget_if_ended()

    def _status_changes(self, status: str, error: str | None) -> dict[str, Any]:
        """The keys to write to record ``status`` (empty when the file already says so, or
        says *failed*: only a further error is added then)."""
        if status not in (STATUS_RUNNING, STATUS_COMPLETED, STATUS_FAILED):
            raise ValueError(f"Unknown status {status!r}")
        if self.filepath and self.pull_available():  # another object wrote it (a manager
            self._reload_info()  # of this kernel ended it, say): what does it say now?
        info = self.get("info")
        stored = None if info is None or "status" not in info else info["status"]
        earlier = info["error"] if info is not None and "error" in info else None
        if stored == STATUS_FAILED:
            if status != STATUS_FAILED or error is None or (earlier and error in earlier):
                if status != STATUS_FAILED:
                    logger.debug("%s stays failed (asked: %s)", self.filepath, status)
                return {}
            return {"info/error": f"{earlier}\n\n{error}" if earlier else error}
        changes: dict[str, Any] = {}
        if stored != status:
            changes["info/status"] = status
        if error is not None:
            changes["info/error"] = f"{earlier}\n\n{error}" if earlier else error
            changes["info/status"] = status
        return changes

    def _mark_running(self) -> None:
        if self._runs_directory is not None and self.filepath:
            runs.mark_running(self._runs_directory, self.filepath)
            self._marked = True

    def _forget_if_ended(self) -> None:
        """Drop the run marker once the file records a final status."""
        if not self._marked or self._runs_directory is None or not self.filepath:
            return
        if self.status in (STATUS_COMPLETED, STATUS_FAILED):
            runs.forget(self._runs_directory, self.filepath)
            self._marked = False

    def _reload_info(self) -> None:
        try:
            self.load(key="info")
        except (OSError, KeyError):
            logger.debug("could not reload info of %s", self.filepath, exc_info=True)

    def save_additional_info(self) -> None:
        """Mark the data useful; with save_files also refresh the cell and config copies."""
        self.close_loops()
        self["useful"] = True
        if self._save_files:
            self._write_cell_file(self._cells.get(self._current_step))
            self._write_config_files()

    def save_data(
        self, data: Mapping[str, Any] | None = None, *, status: str | None = None
    ) -> NotebookAcquisitionData:
        """Save ``data``, mark the acquisition useful and record ``status`` (by default
        ``completed``, clearing ``info/error``, as the data is now saved), in one write of the
        file (with ``save_on_edit`` or not). A value that cannot be stored raises
        ``TypeError`` before anything is written."""
        changes = self._status_changes(status or STATUS_COMPLETED, None)  # {} if already so
        items = dict(data or {})
        if any(isinstance(value, AcquisitionLoop) for value in items.values()):
            self.update(items)  # loops are attached (and written) by update itself
            items = {}
        self.close_loops()
        items["useful"] = True
        items.update(changes)
        super().update(items)
        if not self.save_on_edit:
            self.save()
        self._forget_if_ended()
        if self._save_files:
            self._write_cell_file(self._cells.get(self._current_step))
            self._write_config_files()
        return self

    def save_acquisition(self, **kwds: Any) -> NotebookAcquisitionData:
        """Save ``kwds``, mark the acquisition useful and completed (one write). A key the
        file layout reserves raises ``ValueError`` before any write."""
        check_user_keys(kwds)
        return self.save_data(kwds)

    # -- loops ------------------------------------------------------------------------------
    def _loop_key(self, key: Any) -> str:
        return join_key(*split_key(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, AcquisitionLoop):
            self._attach_loop(self._loop_key(key), value)
            return
        super().__setitem__(key, value)

    def update(
        self, mapping: Mapping | Iterable | None = None, /, **kwargs: Any
    ) -> NotebookAcquisitionData:
        items = dict(mapping or {})
        items.update(kwargs)
        loops = {k: v for k, v in items.items() if isinstance(v, AcquisitionLoop)}
        rest = {k: v for k, v in items.items() if k not in loops}
        if rest:
            super().update(rest)
        for key, loop in loops.items():
            self._attach_loop(self._loop_key(key), loop)
        return self

    def _attach_loop(self, key: str, loop: AcquisitionLoop) -> None:
        if self.read_only:
            raise ValueError("This acquisition is read-only")
        if key in super().keys() or (key in self and key not in self._loops):
            super().__delitem__(key)
        if self.h5_path is None:
            raise ValueError("An AcquisitionLoop needs an acquisition with a file")
        if not os.path.exists(self.h5_path):
            self.save()
        self._loops[key] = loop
        loop.attach(self.h5_path, key, eager=self.save_on_edit)

    def __getitem__(self, key: Any) -> Any:
        loops = self.__dict__.get("_loops")
        if loops:
            name = self._loop_key(key) if isinstance(key, (str, tuple)) else key
            if name in loops:
                return loops[name]
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        loops = self.__dict__.get("_loops")
        if loops and isinstance(key, str) and key in loops:
            return True
        return super().__contains__(key)

    def keys(self) -> set[str]:
        loops = self.__dict__.get("_loops") or {}
        return super().keys() | {key for key in loops if "/" not in key}

    def __delitem__(self, key: Any) -> None:
        name = self._loop_key(key)
        if name in self._loops:
            self._loops.pop(name).detach()
            with storage.open_write(self.h5_path) as file:  # type: ignore[arg-type]
                if name in file:
                    del file[name]
            return
        super().__delitem__(key)

    def close_loops(self) -> None:
        """Close the files the loops keep open for appends (they stay attached: a later append
        opens the file again)."""
        for key, loop in self.__dict__.get("_loops", {}).items():
            try:
                loop.close()
            except Exception:
                logger.exception("Could not close the loop %r", key)

    def save(self, *args: Any, **kwargs: Any) -> NotebookAcquisitionData:
        """Save changed keys (and the points of non-eager loops)."""
        super().save(*args, **kwargs)
        for loop in self.__dict__.get("_loops", {}).values():
            loop.flush(rewrite=bool(kwargs.get("force")))
        return self
