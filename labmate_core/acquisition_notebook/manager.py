"""AcquisitionAnalysisManager: acquisition cells and analysis cells in a notebook (SPEC §2)."""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..acquisition import naming
from ..acquisition.acquisition_data import (
    STATUS_RUNNING,
    NotebookAcquisitionData,
    check_user_keys,
)
from ..acquisition.analysis_data import AnalysisData, FigureProtocol
from ..acquisition.capture import OutputCapture
from ..acquisition.configs import config_mtimes
from ..acquisition.hooks import LifecycleHooks, run_functions
from ..acquisition.lifecycle import Reporter
from ..acquisition.manager import AcquisitionManager
from ..dh5 import storage
from ..parsing import ConfigFile
from .config_links import ConfigLinks
from .shell import ShellLink

logger = logging.getLogger(__name__)

__all__ = ["AcquisitionAnalysisManager", "AcquisitionNotFoundError"]

_Prerun = Callable[[], Any] | list[Callable[[], Any]] | tuple[Callable[[], Any], ...] | None


class AcquisitionNotFoundError(FileNotFoundError, ValueError):
    """The acquisition file does not exist (locally nor in a backend)."""


class AcquisitionAnalysisManager(ConfigLinks, AcquisitionManager):
    """Acquisitions and their analyses from a notebook.

    ```
    aqm = AcquisitionAnalysisManager("DATA", config_files=["cfg.py"])
    aqm.acquisition_cell("sine")            # cell 1
    aqm.save_acquisition(x=x, y=y)
    aqm.analysis_cell()                     # cell 2
    plt.plot(aqm.d.x, aqm.d.y); aqm.save_fig()
    ```
    """

    def __init__(
        self,
        data_directory: str | os.PathLike | None = None,
        *,
        config_files: list[str] | tuple[str, ...] | str | None = None,
        save_files: bool = False,
        use_magic: bool = False,
        save_on_edit: bool = True,
        save_on_edit_analysis: bool | None = None,
        save_fig_inside_h5: bool = False,
        shell: Any = True,
        hooks: LifecycleHooks | None = None,
        backend: Any = None,
        backend_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._shell_link = ShellLink(shell, self)
        if use_magic:
            logger.warning("use_magic is not supported: use %%load_ext labmate_ext")
        self._save_on_edit_analysis = (
            save_on_edit if save_on_edit_analysis is None else save_on_edit_analysis
        )
        self._save_fig_inside_h5 = save_fig_inside_h5
        self._analysis_value: AnalysisData | None = None
        self._analysis_pending: str | None = None  # saved acquisition opened on first use
        self._analysis_cell_str: str | None = None
        self._is_old_data = False
        self._default_config_files: tuple[str, ...] = ()
        self._linting_external_vars: set[str] | None = None
        self._linting_init_code: str | None = None
        self._connected_widgets: list[Any] | None = None
        self._capture = OutputCapture()
        super().__init__(
            data_directory,
            config_files=config_files,
            save_files=save_files,
            save_on_edit=save_on_edit,
            hooks=hooks,
            backend=backend,
            backend_options=backend_options,
        )

    @property
    def logger(self) -> logging.Logger:
        return logger

    # -- the shell (shell.py) --------------------------------------------------------------------
    @property
    def shell(self) -> Any:
        """The IPython shell whose cells this manager follows (None: cells passed explicitly)."""
        return self._shell_link.shell

    @shell.setter
    def shell(self, shell: Any) -> None:
        """Follow another shell (labmate allows ``aqm.shell = ...``): the old one's cell events
        are no longer listened to."""
        self._shell_link.detach()
        self._shell_link = ShellLink(shell, self)

    def detach_shell(self) -> None:
        """Stop listening to the shell's cell events (safe to call twice), e.g. when the
        extension that created this manager is unloaded."""
        self._shell_link.detach()

    def _current_cell(self) -> str | None:
        return self._shell_link.current_cell()

    def _last_cell_failed_acquisition(self) -> bool:
        """True when the last executed cell was an acquisition that failed."""
        return self.lifecycle.last_failed or self._shell_link.last_cell_failed_acquisition()

    def _cell_started(self) -> None:
        self.lifecycle.cell_started()

    def _cell_ended(self, result: Any) -> None:
        """A shell cell ended: the acquisition its ``acquisition_cell`` started ends with it."""
        lifecycle = self.lifecycle
        if lifecycle.awaits_cell_end:
            error = getattr(result, "error_in_exec", None)
            if error is None and getattr(result, "error_before_exec", None) is not None:
                error = result.error_before_exec
            try:
                self.acquisition_finished(error)
            except Exception:
                logger.exception("Could not record how the acquisition ended")
        elif not lifecycle.ended_in_cell:
            # a cell that ended no acquisition (a ``with aqm.acquisition(...)`` block ends one
            # itself) is no longer "right after a failed acquisition"
            lifecycle.last_failed = False

    # -- current objects -----------------------------------------------------------------------
    @property
    def current_acquisition(self) -> NotebookAcquisitionData | None:
        """The running acquisition; None while analysing old data."""
        if self._is_old_data:
            return None
        return super().current_acquisition

    @property
    def _analysis_data(self) -> AnalysisData | None:
        """The analysis data; the one of a just-saved acquisition is opened on first use."""
        if self._analysis_value is None and self._analysis_pending is not None:
            prefix, self._analysis_pending = self._analysis_pending, None
            self._analysis_value = self.load_file(prefix)
        return self._analysis_value

    @_analysis_data.setter
    def _analysis_data(self, data: AnalysisData | None) -> None:
        self._analysis_value = data
        self._analysis_pending = None

    @property
    def current_analysis(self) -> AnalysisData | None:
        return self._analysis_data

    @property
    def data(self) -> AnalysisData:
        """The loaded analysis data (``ValueError('No data set')`` before one is loaded)."""
        if self._analysis_data is None:
            raise ValueError("No data set")
        return self._analysis_data

    @property
    def d(self) -> AnalysisData:  # noqa: D401
        """Short for :attr:`data`."""
        return self.data

    # -- acquisition ---------------------------------------------------------------------------
    def acquisition_cell(
        self,
        name: str,
        cell: str | None = None,
        prerun: _Prerun = None,
        save_on_edit: bool | None = None,
        step: int = 1,
    ) -> AcquisitionAnalysisManager:
        """Start acquisition ``name`` (step 1) or continue it (step N > 1)."""
        return self._start_cell(name, cell, prerun, save_on_edit, step, finish_on_cell_end=True)

    def _start_cell(
        self,
        name: str,
        cell: str | None,
        prerun: _Prerun,
        save_on_edit: bool | None,
        step: int,
        *,
        finish_on_cell_end: bool,
    ) -> AcquisitionAnalysisManager:
        naming.validate_name(name)
        if not isinstance(step, int) or step < 1:
            raise ValueError(f"step must be an integer >= 1, got {step!r}")
        cell = cell or self._current_cell()
        self._is_old_data = False  # as labmate: a step N may follow an analysis of old data
        if not finish_on_cell_end:
            reporter = Reporter.CALLER  # the magic, ``with aqm.acquisition()``
        else:  # in a shell, the end of this cell (post_run_cell) records how it ended
            reporter = Reporter.CELL if self.shell is not None else Reporter.NOBODY
        if step == 1:
            self._analysis_cell_str = None
            self._analysis_data = None
            self._acquisition_started = time.time()
            self._capture.start()
            self.new_acquisition(name=name, cell=cell, save_on_edit=save_on_edit, reporter=reporter)
        else:
            self._continue_acquisition(name, cell, step, reporter)
        logger.info("%s:%s", step, os.path.basename(self.current_filepath))
        if step == 1:
            self.hooks.dispatch_acquisition_cell_ready()
        run_functions(prerun)
        return self

    def _continue_acquisition(
        self, name: str, cell: str | None, step: int, reporter: Reporter
    ) -> None:
        acquisition = self._current_acquisition
        if acquisition is None:
            raise ValueError("Acquisition should start from step 1")
        if acquisition.experiment_name != name:
            raise ValueError(
                f"Current acquisition ('{acquisition.experiment_name}') "
                f"isn't the one expected ('{name}') for this acquisition. "
                f"Possible solutions: run acquisition '{name}' with step 1; "
                f"or change current acquisition name to '{acquisition.experiment_name}'"
            )
        if step in acquisition.cells or acquisition.current_step == step:
            raise ValueError(
                "This step was already run. Please run the next step or restart from step 1"
            )
        if config_mtimes(self.config_files) != self._configs_last_modified:
            raise ValueError(
                "Config files were modified since the previous acquisition step. "
                "Please rerun the acquisition from the first step."
            )
        self._analysis_data = None
        acquisition.current_step = step
        acquisition.set_cell(cell, step=step)
        acquisition.save_cell(cell, suffix=str(step))
        acquisition.set_status(STATUS_RUNNING)  # a failed one stays failed
        self._index("save", acquisition)
        self.lifecycle.continue_step(reporter)

    # the plain manager ignores the keywords it does not use; this one takes exactly its own
    def acquisition_started(  # type: ignore[override]
        self,
        name: str,
        cell: str | None = None,
        *,
        prerun: _Prerun = None,
        save_on_edit: bool | None = None,
        step: int = 1,
    ) -> AcquisitionAnalysisManager:
        """What a ``%%acquisition`` magic calls before running the cell: ``acquisition_cell``,
        except that the caller reports the end with :meth:`acquisition_finished` (the end of
        the shell's cell does not)."""
        return self._start_cell(name, cell, prerun, save_on_edit, step, finish_on_cell_end=False)

    def acquisition_finished(self, error: BaseException | None = None) -> None:
        """Record how the acquisition ended. At the end of a shell cell that only started it
        (nothing saved, no error), it stays running: labmate notebooks often measure and
        ``save_acquisition`` in the next cells."""
        super().acquisition_finished(error)
        if self.lifecycle.finished:
            self._capture.stop()

    def save_acquisition(
        self, update_: bool = True, /, file_suffix: str | None = None, **kwds: Any
    ) -> AcquisitionAnalysisManager:
        """Save data; the first save also writes ``info`` (duration, logs, prints)."""
        del file_suffix  # accepted for labmate compatibility
        check_user_keys(kwds)  # before anything is written, and before info is added
        _ = self.current_acquisition  # after a restart: reopened (with its start time) first
        if not self.lifecycle.saved:
            info: dict[str, Any] = {
                "info/acquisition_duration": time.time() - self._acquisition_started,
                "info/logs": self._capture.logs(),
                "info/prints": self._capture.prints(),
            }
            if self._default_config_files:
                info["info/default_config_files"] = list(self._default_config_files)
            kwds.update(info)
            self._capture.stop()
        self._save_acquisition(update_, kwds)
        # the analysis data is opened when first used (aqm.d, analysis_cell...), not re-read now
        self._analysis_data = None
        self._analysis_pending = self.current_filepath
        return self

    def __setitem__(self, key: str, value: Any) -> None:
        if self._analysis_value is not None or self._analysis_pending is not None:
            raise ValueError(
                "This is the way to save acquisition data. But analysis data was loaded. "
                "So you possibly run it outside of acquisition_cell"
            )
        super().__setitem__(key, value)

    # -- analysis ------------------------------------------------------------------------------
    def load_file(self, filename: str | os.PathLike) -> AnalysisData:
        """Open an acquisition (bare name, path, with or without ``.h5``) as AnalysisData."""
        prefix = naming.resolve_acquisition_path(filename, self.data_directory)
        if not storage.exists(prefix + ".h5"):
            self._hydrate(prefix)
        if not storage.exists(prefix + ".h5"):
            raise AcquisitionNotFoundError(f"File {prefix}.h5 cannot be found")
        data = AnalysisData(
            prefix,
            save_files=self._save_files,
            save_on_edit=self._save_on_edit_analysis,
            save_fig_inside_h5=self._save_fig_inside_h5,
            open_on_init=False,
        )
        if self._default_config_files:
            data.set_default_config_files(self._default_config_files)
        data._on_saved = functools.partial(self._submit, prefix)  # results reach the backends
        return data

    def _load_analysis_data(self, filepath: str | None = None) -> AnalysisData:
        self._analysis_data = self.load_file(filepath or self.current_filepath)
        return self._analysis_data

    def analysis_cell(
        self,
        filename: str | os.PathLike | None = None,
        *,
        acquisition_name: str | None = None,
        cell: str | None = None,
        filepath: str | os.PathLike | None = None,
        prerun: _Prerun = None,
    ) -> AcquisitionAnalysisManager:
        """Open the current acquisition (or the file ``filename`` / ``filepath``) for analysis."""
        self._analysis_cell_str = cell or self._current_cell()
        self.recover_dead_runs()
        if filename or filepath:
            self._is_old_data = True
            if self.shell is not None:
                from ..display import display_warning

                display_warning("Old data analysis")
            if filepath:
                prefix = naming.strip_h5(filepath)
            else:
                prefix = naming.resolve_acquisition_path(filename, self.data_directory)  # type: ignore[arg-type]
        else:
            self._is_old_data = False
            if acquisition_name is not None:
                self._check_acquisition_name(acquisition_name)
            prefix = self.current_filepath
            if self._last_cell_failed_acquisition():
                raise ChildProcessError(
                    "Last executed cell was probably an `acquisition_cell` and failed to run. "
                    "Check if everything is ok and execute it again"
                )
        logger.info("%s", os.path.basename(prefix))
        h5 = prefix + ".h5"
        self.hooks.dispatch_analysis_data_loading(h5)
        if not storage.exists(h5):
            self._hydrate(prefix)
        if storage.exists(h5):
            self._load_analysis_data(prefix)
        elif self._is_old_data:
            raise AcquisitionNotFoundError(f"Cannot load data from {prefix}")
        else:
            self._analysis_data = None
        if cell is not None:
            self.save_analysis_cell(cell=cell)
        self._lint_analysis_cell()
        self.hooks.dispatch_analysis_cell_ready()
        run_functions(prerun)
        return self

    def _check_acquisition_name(self, expected: str) -> None:
        current = self.current_experiment_name
        if not isinstance(expected, str) or not expected:
            matches = False
        elif expected.startswith("^"):
            matches = re.match(expected, current) is not None
        else:
            matches = expected == current
        if not matches:
            raise ValueError(
                f"Current acquisition ('{current}') "
                f"isn't the one expected ('{expected}') for this analysis"
            )

    def _lint_analysis_cell(self) -> None:
        if self._analysis_cell_str is None or self._linting_external_vars is None:
            return
        from ..lint import lint_code

        result = lint_code(
            self._analysis_cell_str, self._linting_external_vars, init_code=self._linting_init_code
        )
        for var in result.external_vars:
            logger.warning("External variable used inside the analysis code: %s", var)
        for error in result.errors:
            logger.warning(error)

    def linting(
        self, allowed_variables: Iterable[str] | None = None, init_file: str | None = None
    ) -> None:
        """Warn about variables an analysis cell uses that come neither from ``allowed_variables``
        nor from the names defined in ``init_file``."""
        if isinstance(allowed_variables, str):
            raise TypeError("allowed_variables must be a collection of names, not one str")
        self._linting_external_vars = set(allowed_variables or ())
        if init_file is not None:
            with open(init_file, encoding="utf-8") as file:
                self._linting_init_code = file.read()

    # -- figures and analysis code ----------------------------------------------------------------
    def save_fig_only(
        self,
        fig: FigureProtocol | None = None,
        name: str | int | None = None,
        extensions: str | None = None,
        **kwds: Any,
    ) -> AcquisitionAnalysisManager:
        """Save the figure file only (no analysis cell)."""
        self.data.save_fig(fig=fig, name=name, extensions=extensions, **kwds)
        self._submit(self.data.filepath)
        return self

    def save_analysis_cell(
        self, name: str | int | None = None, cell: str | None = None
    ) -> AcquisitionAnalysisManager:
        """Store the analysis cell under ``analysis_cells/<name>`` (default: the last figure's)."""
        if name is None:
            name = self.data.figure_last_name
        self.data.save_analysis_cell(
            code=cell or self._analysis_cell_str, code_name=None if name is None else str(name)
        )
        self._submit(self.data.filepath)
        return self

    def save_fig(
        self,
        fig_or_name: FigureProtocol | str | int | None = None,
        /,
        *,
        fig: FigureProtocol | None = None,
        name: str | int | None = None,
        cell: str | None = None,
        **kwds: Any,
    ) -> AcquisitionAnalysisManager:
        """Save the figure as ``<prefix>_FIG…`` and the analysis cell under its name."""
        if fig_or_name is not None:
            if isinstance(fig_or_name, (str, int)):
                name = name if name is not None else fig_or_name
            else:
                fig = fig or fig_or_name
        self.data.save_fig(fig=fig, name=name, **kwds)
        self.save_analysis_cell(name=name, cell=cell)
        if not self._is_old_data and self._current_acquisition is not None:
            self.hooks.dispatch_figure_saved(self._current_acquisition)
        if self._connected_widgets:
            from .widgets import display_widgets

            display_widgets(self._connected_widgets, aqm=self, fig=fig)
        return self

    def get_analysis_code(self, look_inside: bool = True) -> str:
        """The stored analysis code with the file path filled in; also put in the next input."""
        code = self.data.get_analysis_code(update_code=look_inside)
        if self.shell is not None and hasattr(self.shell, "set_next_input"):
            self.shell.set_next_input(code)
        return code

    # -- configs -------------------------------------------------------------------------------
    def parse_config_file(self, config_file_name: str, /) -> ConfigFile:
        return self.data.parse_config_file(config_file_name)

    def parse_config(self, config_files: tuple[str, ...] | None = None) -> ConfigFile:
        return self.data.parse_config(config_files=config_files)

    @property
    def cfg(self) -> ConfigFile:
        return self.data.cfg

    def parse_config_str(self, values: list[str], /, max_length: int | None = None) -> str:
        return self.data.parse_config_str(values, max_length=max_length)

    def set_default_config_files(self, config_files: str | tuple[str, ...] | list[str], /) -> None:
        """Config names used by ``cfg``, ``parse_config_str`` and the parameter links."""
        self._default_config_files = (
            (config_files,) if isinstance(config_files, str) else tuple(config_files)
        )
        if self._analysis_value is not None:
            self._analysis_value.set_default_config_files(self._default_config_files)

    # -- hooks and widgets ----------------------------------------------------------------------
    def set_analysis_cell_prerun_hook(self, hook: Any) -> None:
        """Functions run by every ``analysis_cell`` before the analysis code."""
        self.hooks.set_analysis_cell_ready(hook)

    def set_acquisition_cell_prerun_hook(self, hook: Any) -> None:
        """Functions run by every ``acquisition_cell`` (step 1) before the acquisition code."""
        self.hooks.set_acquisition_cell_ready(hook)

    def connect_default_widget(self, objs: Any) -> None:
        """Widgets (with a ``create(aqm=, fig=)`` method) shown after every ``save_fig``."""
        if not isinstance(objs, (list, tuple)):
            objs = [objs]
        if self._connected_widgets is None:
            self._connected_widgets = []
        self._connected_widgets.extend(objs)

    def _ipython_display_(self) -> None:
        """Nothing shown: ``aqm.save_fig()`` (returning the manager, for chaining) as a cell's
        last line does not print the manager's repr (``%labmate`` shows its state)."""
