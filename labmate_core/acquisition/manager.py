"""AcquisitionManager: names, creates and tracks acquisitions in a data directory."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import index
from ..dh5 import storage
from . import naming, runs
from .acquisition_data import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_RUNNING,
    NotebookAcquisitionData,
    check_user_keys,
    holds_data,
)
from .backend_link import BackendLink
from .configs import config_mtimes, take_snapshot
from .endings import Endings, owner_of
from .hooks import LifecycleHooks
from .lifecycle import Lifecycle, Phase, Reporter
from .owner import this_process
from .temp_data import AcquisitionTmpData, read_temp_data, write_temp_data

logger = logging.getLogger(__name__)

__all__ = ["AcquisitionManager", "AcquisitionTmpData"]


class AcquisitionManager(BackendLink):
    """Creates one file per acquisition in ``<data>/<name>/`` and remembers the current one.

    ``data_directory`` defaults to env ``ACQUISITION_DIR``; ``config_files`` to env
    ``ACQUISITION_CONFIG_FILES`` (comma separated). ``backend`` (one or several) copies every
    saved acquisition in the background; ``backend_options`` are its retry limits (see
    :meth:`configure_backends`).
    """

    def __init__(
        self,
        data_directory: str | os.PathLike | None = None,
        *,
        config_files: list[str] | tuple[str, ...] | str | None = None,
        save_files: bool | None = None,
        save_on_edit: bool | None = None,
        hooks: LifecycleHooks | None = None,
        backend: Any = None,
        backend_options: Mapping[str, Any] | None = None,
    ) -> None:
        if data_directory is None:
            data_directory = os.environ.get("ACQUISITION_DIR") or None
        if data_directory is None:
            raise ValueError(
                "No data directory specified: pass data_directory or set ACQUISITION_DIR"
            )
        # how acquisitions end (endings.py): a part with its own state (the extra files)
        self._endings = Endings(self._report_end)
        self.data_directory = data_directory  # type: ignore[assignment]
        self._save_files = bool(save_files)
        self._save_on_edit = True if save_on_edit is None else bool(save_on_edit)
        self.hooks = hooks if hooks is not None else LifecycleHooks()
        self.config_files: list[str] = []
        self.config_files_eval: dict[str, ModuleType | Any] = {}
        self._config_files_names_to_path: dict[str, str] = {}
        self._configs_last_modified: list = []
        self._init_code: str | None = None
        self._current_acquisition: NotebookAcquisitionData | None = None
        self._acquisition_tmp_data: AcquisitionTmpData | None = None
        self._acquisition_started = 0.0
        self.lifecycle = Lifecycle()  # the phase of the current acquisition (lifecycle.py)
        self.cell: str | None = None
        if config_files is not None:
            self.set_config_file(config_files)
        elif os.environ.get("ACQUISITION_CONFIG_FILES"):
            files = [f.strip() for f in os.environ["ACQUISITION_CONFIG_FILES"].split(",")]
            self.set_config_file([f for f in files if f])
        self._init_backends(self._data_directory, backend, backend_options)
        self.recover_dead_runs()  # a dead kernel's runs end failed whatever is run first

    @property
    def save_files(self) -> bool:
        """Whether acquisitions also write ``<prefix>_CELL.py`` and the config copies (the next
        acquisition uses a new value)."""
        return self._save_files

    @save_files.setter
    def save_files(self, value: bool) -> None:
        self._save_files = bool(value)

    # -- directory and temp.json ---------------------------------------------------------------
    @property
    def data_directory(self) -> Path:
        """Where the acquisitions are stored."""
        return self._data_directory

    @data_directory.setter
    def data_directory(self, directory: str | os.PathLike) -> None:
        path = Path(directory).expanduser()
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"The data directory {path} is not a directory")
        path.mkdir(parents=True, exist_ok=True)
        changed = getattr(self, "_data_directory", None) not in (None, path)
        self._data_directory = path
        self.temp_file_path = path / "temp.json"
        if changed:
            if getattr(self, "_backend_directory", None) is not None:
                self._move_backends(path)  # backends belong to the data directory
            self.recover_dead_runs()

    @property
    def acquisition_tmp_data(self) -> AcquisitionTmpData:
        """The current acquisition as kept in ``temp.json`` (read from disk after a restart)."""
        data = self._acquisition_tmp_data or read_temp_data(self.temp_file_path)
        if data is None:
            raise ValueError("You should create a new acquisition. It will create temp.json file.")
        self._acquisition_tmp_data = data
        return data

    @acquisition_tmp_data.setter
    def acquisition_tmp_data(self, data: AcquisitionTmpData) -> None:
        write_temp_data(self.temp_file_path, data)
        self._acquisition_tmp_data = data

    # -- configuration ----------------------------------------------------------------------
    def set_config_file(
        self, filename: str | os.PathLike | list | tuple | set
    ) -> AcquisitionManager:
        """Config files snapshotted by future acquisitions (each must exist)."""
        given = [filename] if isinstance(filename, (str, os.PathLike)) else list(filename)
        files = [os.fspath(f) for f in given]
        for file in files:
            if not Path(file).is_file():
                raise ValueError(f"Configuration file at {file} does not exist")
        names = [Path(f).name for f in files]
        if len(set(names)) != len(names):
            raise ValueError("Two config files have the same name; their copies would collide")
        self.config_files = files
        self._config_files_names_to_path = {Path(f).name: f for f in files}
        return self

    def set_config_evaluation_module(self, file: str | os.PathLike, module: Any) -> None:
        """Annotate the snapshot of ``file`` with the values ``module`` (the imported config) has."""
        file = os.fspath(file)
        known = {Path(f).name for f in self.config_files}
        if file not in self.config_files and Path(file).name not in known:
            raise ValueError(
                "Configuration file should be specified before with set_config_file function"
            )
        self.config_files_eval[Path(file).name] = module

    def set_init_analyse_file(self, filename: str | os.PathLike) -> None:
        """A file copied once into each experiment folder as ``init_analyse.py``."""
        path = Path(filename)
        if not path.is_file():
            raise ValueError(f"Init analyse file {path.absolute()} does not exist")
        text = path.read_text(encoding="utf-8")
        if text:
            self._init_code = text

    def _snapshot_configs(self) -> dict[str, str]:
        return take_snapshot(self.config_files, self.config_files_eval)

    def _experiment_directory(self, name: str, directory: str | os.PathLike | None = None) -> Path:
        path = Path(directory or self.data_directory) / name
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
        init = path / "init_analyse.py"
        if self._init_code and not init.exists():
            with contextlib.suppress(FileExistsError), open(init, "x", encoding="utf-8") as file:
                file.write(self._init_code)
        return path

    # -- creating acquisitions -----------------------------------------------------------------
    def _create_file(
        self,
        name: str,
        cell: str | None,
        configs: dict[str, str],
        save_on_edit: bool | None,
    ) -> tuple[NotebookAcquisitionData, AcquisitionTmpData]:
        naming.validate_name(name)
        time_stamp = naming.get_timestamp()
        directory = self._experiment_directory(name)
        prefix = naming.reserve_prefix(directory, time_stamp, name)
        try:
            acquisition = NotebookAcquisitionData(
                prefix,
                configs=configs or None,
                cell=cell if cell is not None else None,
                overwrite=False,
                save_on_edit=self._save_on_edit if save_on_edit is None else save_on_edit,
                save_files=self._save_files,
                experiment_name=name,
                runs_directory=self.data_directory,
            )
        except BaseException:
            if not os.path.exists(prefix + ".h5"):
                runs.forget(self.data_directory, prefix)
            naming.release_reservation(prefix)  # the file was not created
            raise
        tmp = AcquisitionTmpData(
            experiment_name=name,
            time_stamp=time_stamp,
            configs=configs,
            directory=str(self.data_directory),
            file_name=os.path.basename(prefix),
        )
        self._index("start", acquisition)
        self.hooks.dispatch_acquisition_data_loaded(acquisition)
        return acquisition, tmp

    # -- how acquisitions end (endings.py) ----------------------------------------------------
    def _close_superseded(self) -> None:
        """Before a new acquisition: close the extra files, end the runs of dead kernels, and
        the current acquisition if it was left running (its cell ended without a save), also
        when it is only known from ``temp.json`` (a restarted kernel)."""
        self._endings.close_extras(None)
        self.recover_dead_runs()
        previous = self._current_acquisition
        if previous is not None and owner_of(previous) == this_process():
            if previous.status == STATUS_RUNNING:
                status = self._endings.end_left_running(previous, None)
                if not self.lifecycle.finished:
                    self.lifecycle.ended(status or "failed")
            elif previous._has_pending():  # its end was not written (a full disk): now
                self._save_left_pending(previous)
            return
        # reopened from temp.json (a restart), or not in memory: ended by who ran it
        endings = self._endings
        for acquisition, reason in endings.left_running_before_restart(
            self.temp_file_path, self.data_directory
        ):
            endings.end_left_running(acquisition, reason)

    def _save_left_pending(self, acquisition: NotebookAcquisitionData) -> None:
        """Write what a failed save left pending (its data, its final status), else log."""
        try:
            acquisition.save()
        except Exception:
            logger.exception("Could not save what %s left pending", acquisition.filepath)
            return
        acquisition._forget_if_ended()
        self._report_end(acquisition, acquisition.status or STATUS_FAILED)

    def recover_dead_runs(self) -> list[str]:
        """End ``failed`` the runs of this data directory whose process died ("the kernel
        running it died"); a live kernel's are never touched. Cheap: one ``listdir``."""
        return self._endings.end_dead_runs(self.data_directory)

    def _report_end(self, acquisition: NotebookAcquisitionData, status: str) -> None:
        self._index("end", acquisition, status)
        self._submit(acquisition.filepath)

    def _index(self, kind: str, acquisition: Any, status: str | None = None) -> None:
        """Record an acquisition's start, save or end in the data directory's index (made from
        the in-memory data, no read of the file; never raises)."""
        prefix = acquisition.filepath
        if not prefix:
            return
        directory = Path(prefix).parent.parent  # <data>/<name>/<file>: where it was created
        if kind == "start":
            index.record_start(prefix, data_directory=directory, data=acquisition)
        elif kind == "end":
            index.record_end(prefix, status, data_directory=directory, data=acquisition)
        else:
            index.record_save(prefix, data_directory=directory, data=acquisition)

    def new_acquisition(
        self,
        name: str,
        cell: str | None = None,
        save_on_edit: bool | None = None,
        *,
        reporter: Reporter = Reporter.NOBODY,
    ) -> NotebookAcquisitionData:
        """Start a new current acquisition ``name``: snapshot configs, create the file (named
        in the run markers first, see runs.py), then temp.json. ``reporter``: who reports its
        end (by default nobody: its first save completes it)."""
        naming.validate_name(name)
        configs = self._snapshot_configs()
        self._close_superseded()
        self._configs_last_modified = config_mtimes(self.config_files)
        self._current_acquisition = None
        self.cell = cell
        acquisition, tmp = self._create_file(name, cell, configs, save_on_edit)
        self.acquisition_tmp_data = tmp
        self._current_acquisition = acquisition
        self.lifecycle.start(reporter)
        return acquisition

    def create_acquisition(
        self, name: str | None = None, cell: str | None = None, save_on_edit: bool | None = None
    ) -> NotebookAcquisitionData:
        """An extra acquisition file beside the current one (not made current).

        Its ``save_acquisition`` completes it; whatever is still running when the current
        acquisition ends (or the next one starts) is closed then (see :meth:`Endings.record_end`).
        """
        if name is None:
            name = self.current_experiment_name + "_item"
        configs = self._snapshot_configs()
        acquisition, _ = self._create_file(name, cell or self.cell, configs, save_on_edit)
        self._endings.extras.append(acquisition)
        self._remember_extras()
        return acquisition

    def _remember_extras(self) -> None:
        """List the extra files in temp.json's sidecar: a restarted kernel ends them too."""
        tmp = self._acquisition_tmp_data
        if tmp is None:
            return
        root = tmp.root(self.data_directory)
        mine = [os.path.relpath(e.filepath, root) for e in self._endings.extras if e.filepath]
        # added to those listed (a kernel restarted before the acquisition ended, another
        # kernel's): each is ended only if still running and its process is gone
        extras = tmp.extras + tuple(path for path in mine if path not in tmp.extras)
        if extras != tmp.extras:
            try:
                self.acquisition_tmp_data = dataclasses.replace(tmp, extras=extras)
            except OSError as error:
                logger.warning(
                    "Could not list the extra files in %s: %s", self.temp_file_path, error
                )

    # -- the current acquisition ----------------------------------------------------------------
    @property
    def current_acquisition(self) -> NotebookAcquisitionData | None:
        """The running acquisition; after a restart it is reopened from temp.json (not rewritten)."""
        if self._current_acquisition is None:
            self._current_acquisition = self._reopen_current()
        return self._current_acquisition

    @property
    def aq(self) -> NotebookAcquisitionData | None:  # noqa: D401
        """Short for :attr:`current_acquisition`."""
        return self.current_acquisition

    def _reopen_current(self) -> NotebookAcquisitionData:
        self.recover_dead_runs()  # a dead kernel's run is failed before anything is added
        acquisition = self.get_acquisition()
        self.lifecycle.saved = bool(acquisition.get("useful", False))
        started = naming.parse_timestamp(self.acquisition_tmp_data.time_stamp)
        if started is not None:  # the duration of a first save counts from the real start
            self._acquisition_started = started
        return acquisition

    def get_acquisition(
        self, replace: bool | None = False, save_on_edit: bool | None = None
    ) -> NotebookAcquisitionData:
        """A new object for the acquisition ``temp.json`` names, opened to add to it (nothing
        is written now). labmate's ``replace=True`` (overwrite the file) is refused."""
        if replace:
            raise ValueError(
                "get_acquisition(replace=True) would overwrite the current acquisition's file; "
                "start a new acquisition with new_acquisition(name) instead"
            )
        tmp = self.acquisition_tmp_data
        prefix = tmp.prefix(self.data_directory)
        if not storage.exists(prefix + ".h5"):
            raise FileNotFoundError(
                f"The current acquisition {prefix}.h5 (from {self.temp_file_path}) is missing"
            )
        acquisition = NotebookAcquisitionData.open_existing(
            prefix,
            save_on_edit=self._save_on_edit if save_on_edit is None else save_on_edit,
            save_files=self._save_files,
            experiment_name=tmp.experiment_name,
            configs=tmp.configs or None,
            runs_directory=tmp.root(self.data_directory),
        )
        self.hooks.dispatch_acquisition_data_loaded(acquisition)
        return acquisition

    @staticmethod
    def get_temp_data(path: str | os.PathLike) -> AcquisitionTmpData | None:
        """The ``temp.json`` at ``path`` (None when there is none)."""
        return read_temp_data(path)

    def create_path_from_tmp_data(
        self, dic: AcquisitionTmpData, ignore_existence: bool = False
    ) -> naming.FilePath:
        """The prefix (without ``.h5``) of the acquisition ``dic`` describes; its folder is
        created. Unless ``ignore_existence``, the first name whose ``.h5`` does not exist yet
        (``__1``, ``__2``…, not reserved: new acquisitions reserve theirs themselves)."""
        name = naming.validate_name(dic.experiment_name)
        folder = self._experiment_directory(name, dic.directory or None)
        base = os.path.join(folder, f"{dic.time_stamp}__{name}")
        if ignore_existence:
            file_name = getattr(dic, "file_name", None)  # ours knows the suffixed name
            return naming.FilePath(os.path.join(folder, file_name) if file_name else base)
        path, index = base, 1
        while os.path.exists(path + ".h5"):
            path, index = f"{base}__{index}", index + 1
        return naming.FilePath(path)

    @property
    def current_filepath(self) -> naming.FilePath:
        """Path of the current acquisition without ``.h5`` (a ``str`` with labmate's path
        helpers ``basename``, ``dirname``…)."""
        if self._current_acquisition is not None and self._current_acquisition.filepath:
            return naming.FilePath(self._current_acquisition.filepath)
        return naming.FilePath(self.acquisition_tmp_data.prefix(self.data_directory))

    @property
    def current_experiment_name(self) -> str:
        return self.acquisition_tmp_data.experiment_name

    def __setitem__(self, key: str, value: Any) -> None:
        check_user_keys([key])
        acquisition = self.current_acquisition
        if acquisition is None:
            raise ValueError("There is no current acquisition to save data to")
        acquisition[key] = value

    def save_acquisition(self, update_: bool = True, /, **kwds: Any) -> AcquisitionManager:
        """Save ``kwds`` into the current acquisition and mark it useful.

        ``update_=False`` keeps the keys that already exist. A key the file layout reserves
        (``info``, ``useful``, ``experiment_name``…) raises ``ValueError`` before any write.
        """
        check_user_keys(kwds)
        return self._save_acquisition(update_, kwds)

    def _save_acquisition(self, update_: bool, kwds: dict[str, Any]) -> AcquisitionManager:
        """:meth:`save_acquisition` once the keys were checked (``kwds`` may hold ``info/…``)."""
        acquisition = self.current_acquisition
        if acquisition is None:
            raise ValueError(
                "Cannot save data to acquisition as current acquisition is None. "
                "Possibly because you have never run `acquisition_cell(..)` or it's an old data"
            )
        if update_ is False:
            kwds = {key: value for key, value in kwds.items() if key not in acquisition}
        kept_open = self.lifecycle.phase is Phase.KEPT_OPEN
        # data, useful and the status in one write: completed, unless its code still runs
        completes = self.lifecycle.save_completes()
        acquisition.save_data(kwds, status=STATUS_COMPLETED if completes else STATUS_RUNNING)
        self.lifecycle.save()
        self._index("save", acquisition)
        self.hooks.dispatch_acquisition_saved(acquisition)
        self._submit(acquisition.filepath)
        if kept_open:  # saved in a later cell: its extras end now (not "never saved")
            self._endings.close_extras(None, empty_status=STATUS_COMPLETED)
        return self

    # -- how an acquisition ended -----------------------------------------------------------------
    def acquisition_started(self, name: str, cell: str | None = None, **kwds: Any) -> Any:
        """Start an acquisition (what a ``%%acquisition`` magic calls before running the cell)."""
        self._acquisition_started = time.time()
        self.new_acquisition(
            name, cell=cell, save_on_edit=kwds.get("save_on_edit"), reporter=Reporter.CALLER
        )
        return self

    def acquisition_body_done(self) -> None:
        """The acquisition's code ran without an error (the ``%%acquisition`` magic, before
        its ``--save``): a save now completes it, in the same write."""
        self.lifecycle.body_done()

    def acquisition_finished(self, error: BaseException | None = None) -> None:
        """Record in the file how the acquisition ended: ``info/status`` completed or failed,
        ``info/error`` the traceback (see :meth:`Endings.record_end`); the extra files of
        :meth:`create_acquisition` end with it (not while it is kept running). Safe to call
        twice: the first call wins."""
        if self.lifecycle.finished:
            return
        acquisition = self._current_acquisition
        if (
            error is None
            and acquisition is not None
            and self.lifecycle.phase is Phase.RUNNING
            and self.lifecycle.reporter is Reporter.CELL
            and not holds_data(acquisition)
        ):
            # labmate's pattern: the cell only started the acquisition, the measurement and
            # save_acquisition come in the next cells: it stays running (until a save, or the
            # next acquisition), and so do its extra files
            self.lifecycle.keep_open()
            return
        status = "failed" if error is not None else STATUS_COMPLETED
        try:
            self._endings.close_extras(error)
            if acquisition is not None:
                status = self._endings.record_end(acquisition, error)
        except BaseException:
            self.lifecycle.ended("failed", by_error=error is not None)  # the first call wins
            raise
        self.lifecycle.ended(status, by_error=error is not None)

    @contextlib.contextmanager
    def acquisition(self, name: str, cell: str | None = None, **kwds: Any) -> Iterator[Any]:
        """``with aqm.acquisition("name") as aq:`` — records failure and re-raises."""
        self.acquisition_started(name, cell=cell, **kwds)
        try:
            yield self.current_acquisition
        except BaseException as error:
            self.acquisition_finished(error)
            raise
        self.acquisition_finished(None)

    @property
    def last_acquisition_failed(self) -> bool:
        """True when the last acquisition ended with an error."""
        return self.lifecycle.last_failed

    def close(self) -> None:
        """Nothing is held open; kept for labmate compatibility."""
