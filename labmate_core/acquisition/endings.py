"""How acquisitions end: the status written when an acquisition ends, is left by the next one,
or was an extra file of :meth:`AcquisitionManager.create_acquisition`.

Rules (:meth:`Endings.record_end`): an error gives ``failed`` with the traceback; a
saved acquisition (``useful``) gives ``completed``; one holding data written without a save
(``aqm['x'] = …``) is marked ``useful`` and ``completed``; an empty one gives ``failed`` ("never
saved") when nobody said it ended (left by the next acquisition, an extra file), ``completed``
when its code said so (``%%acquisition``, ``with aqm.acquisition(…)``).

An acquisition whose cell only started it (``acquisition_cell`` alone) stays ``running``, and so
do its extra files, until its first save in a later cell (the extras then end, an empty one
``completed``) or the next acquisition, which closes it by the same rules. When a manager starts
with nothing in memory, the acquisition ``temp.json`` names and its extra files (listed in the
sidecar of ``temp.json``), each if still ``running``: when its
process (``info/owner``, see owner.py) is gone, it ends ``failed`` (:data:`ORPHANED`: cut short by
a restart or a crash); when it is this process (a manager created again), it ends by the same
rules; another live kernel's is left alone. Every run is also named in its data directory's run
markers (runs.py) before its file exists: :func:`end_dead_runs` (a manager's start, a new
acquisition, a reopened one, an analysis, ``labmate status``) ends ``failed`` every run whose
process is gone. Status moves forward only: a ``failed`` acquisition stays failed with its error
whatever is saved later (the data is saved).
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import index
from . import naming, runs
from .acquisition_data import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_RUNNING,
    NotebookAcquisitionData,
    holds_data,
)
from .owner import owner_alive, this_process
from .temp_data import read_temp_data

logger = logging.getLogger(__name__)

__all__ = ["ORPHANED", "Endings", "end_dead_runs", "format_error", "owner_of"]

#: The error recorded for an acquisition whose process ended while it was running.
ORPHANED = (
    "the kernel running it died (killed, crashed or restarted) before the acquisition "
    "finished; what was saved is kept"
)


def format_error(error: BaseException) -> str:
    """The traceback text recorded as ``info/error``."""
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def owner_of(acquisition: NotebookAcquisitionData) -> Any:
    """``info/owner`` of ``acquisition`` (None: not recorded)."""
    info = acquisition.get("info")
    return info["owner"] if info is not None and "owner" in info else None


def end_dead_runs(
    data_directory: str | os.PathLike,
    end: Callable[[NotebookAcquisitionData, BaseException], object] | None = None,
) -> list[str]:
    """End ``failed`` (:data:`ORPHANED`) every run of ``data_directory``'s run markers whose
    process is gone and whose file still says *running*; drop the markers of the others.
    ``end`` records the end (a manager's, with its index and backends); by default the status
    is written and the index told. Returns the prefixes ended; never raises."""
    ended = []
    for prefix, owner in runs.dead_runs(data_directory):
        try:
            if os.path.exists(prefix + ".h5"):
                acquisition = NotebookAcquisitionData.open_existing(
                    prefix, runs_directory=data_directory
                )
                if acquisition.status == STATUS_RUNNING:
                    error = RuntimeError(ORPHANED)
                    logger.info("%s: %s", prefix, ORPHANED)
                    if end is not None:
                        end(acquisition, error)
                    else:
                        acquisition.set_status(STATUS_FAILED, error=format_error(error))
                        index.record_end(
                            prefix, STATUS_FAILED, data_directory=data_directory, data=acquisition
                        )
                    ended.append(prefix)
            else:
                naming.release_reservation(prefix)  # killed before its file was created
            runs.forget(data_directory, prefix)
        except Exception:
            logger.exception("Could not end the acquisition %s left by %s", prefix, owner)
    return ended


class Endings:
    """How a manager's acquisitions end: a part of :class:`AcquisitionManager` with its own
    state, the extra files of the current acquisition (``create_acquisition``). ``report``
    (acquisition, status) tells the rest of the manager of an end (index, backends)."""

    def __init__(self, report: Callable[[NotebookAcquisitionData, str], object]) -> None:
        self.extras: list[NotebookAcquisitionData] = []
        self._report = report

    def end_dead_runs(self, data_directory: str | os.PathLike) -> list[str]:
        """End ``failed`` the runs of ``data_directory`` whose process died (see
        :func:`end_dead_runs`); a live kernel's are never touched. Cheap: one ``listdir``."""
        return end_dead_runs(data_directory, self._end_orphan)

    def _end_orphan(self, acquisition: NotebookAcquisitionData, error: BaseException) -> None:
        self.record_end(acquisition, error, empty_status=STATUS_FAILED)

    def end_left_running(
        self, acquisition: NotebookAcquisitionData, reason: str | None
    ) -> str | None:
        """End an acquisition nobody ended (``reason``: why it was cut short); its status, or
        None when it could not be written (logged)."""
        try:
            orphan = None if reason is None else RuntimeError(reason)
            return self.record_end(acquisition, orphan, empty_status=STATUS_FAILED)
        except Exception:
            logger.exception("Could not record the end of %s", acquisition.filepath)
            return None

    def left_running_before_restart(
        self, temp_file_path: Path, data_directory: Path
    ) -> list[tuple[NotebookAcquisitionData, str | None]]:
        """The acquisition ``temp.json`` names and its extra files (kept in the sidecar), with
        why each ends, if its file says it is still running and what ran it is gone: its
        process, or (this process) a manager that was replaced; never another live kernel's."""
        try:
            tmp = read_temp_data(temp_file_path)
        except Exception:
            logger.exception("Could not read %s", temp_file_path)
            return []
        if tmp is None:
            return []
        root = tmp.root(data_directory)
        found = []
        paths: list[tuple[str, str | None, dict[str, str] | None]] = [
            (tmp.prefix(data_directory), tmp.experiment_name, tmp.configs or None)
        ]
        paths += [(os.path.join(root, extra), None, None) for extra in tmp.extras]
        for path, name, configs in paths:
            try:
                ending = _ending_after_restart(path, name, configs, root)
            except Exception:
                logger.exception("Could not check the acquisition %s", path)
                continue
            if ending is not None:
                found.append(ending)
        return found

    def close_extras(
        self, error: BaseException | None, *, empty_status: str = STATUS_FAILED
    ) -> None:
        """End the extra files; an empty one ends ``empty_status`` (see :meth:`record_end`)."""
        extras, self.extras = self.extras, []
        for extra in extras:
            try:
                if extra.status == STATUS_RUNNING:
                    self.record_end(extra, error, empty_status=empty_status)
                else:  # saved (completed) by its own save_acquisition
                    self._report(extra, extra.status or STATUS_COMPLETED)
            except Exception:
                logger.exception("Could not record the end of %s", extra.filepath)

    def record_end(
        self,
        acquisition: NotebookAcquisitionData,
        error: BaseException | None,
        *,
        empty_status: str = STATUS_COMPLETED,
    ) -> str:
        """Write how ``acquisition`` ended and return the status: ``failed`` (with the
        traceback) on an error; else ``completed`` when it was saved or holds data written
        without a save (it is then marked ``useful``, as the data is there); else, with
        nothing in it, ``empty_status`` (``failed`` says "never saved"). A failed one stays
        failed."""
        if error is not None:
            acquisition.set_status(STATUS_FAILED, error=format_error(error))
            status = STATUS_FAILED
        elif bool(acquisition.get("useful", False)):
            acquisition.set_status(STATUS_COMPLETED)
            status = STATUS_COMPLETED
        elif holds_data(acquisition):
            acquisition.save_data(None, status=STATUS_COMPLETED)
            status = STATUS_COMPLETED
        elif empty_status == STATUS_FAILED:
            acquisition.set_status(
                STATUS_FAILED, error="The acquisition was never saved and holds no data"
            )
            status = STATUS_FAILED
        else:
            acquisition.set_status(empty_status)
            status = empty_status
        status = acquisition.status or status  # a failed one stays failed
        self._report(acquisition, status)
        return status


def _ending_after_restart(
    prefix: str,
    experiment_name: str | None,
    configs: dict[str, str] | None,
    runs_directory: str | None = None,
) -> tuple[NotebookAcquisitionData, str | None] | None:
    if not os.path.exists(prefix + ".h5"):
        return None
    acquisition = NotebookAcquisitionData.open_existing(
        prefix, experiment_name=experiment_name, configs=configs, runs_directory=runs_directory
    )
    if acquisition.status != STATUS_RUNNING:
        return None
    owner = owner_of(acquisition)
    if owner is None:  # written before owners were recorded: its process is gone
        return acquisition, ORPHANED
    if owner == this_process():  # another manager of this kernel (recreated, reloaded):
        return acquisition, None  # nothing was cut short, the usual rules apply
    if owner_alive(owner) is not False:  # another live kernel's, or cannot tell
        return None
    return acquisition, ORPHANED
