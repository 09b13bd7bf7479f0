"""AnalysisData: a saved acquisition opened for analysis (old keys locked, new keys allowed)."""

from __future__ import annotations

import logging
import os
from typing import Any, TypeVar

from ..dh5 import DH5, storage
from ..dh5.keys import join_key, split_key
from ..parsing import ConfigFile, format_values, parse_key_format, parse_str
from ..parsing.title import ValueForPrint
from ..textfiles import write_text_atomically
from .acquisition_loop import LOOP_SHAPE_KEY
from .analysis_loop import AnalysisLoop
from .figures import FigureProtocol, PdfMetadataDict, figure_suffix, save_figure
from .first_use import OpenAtFirstUse

logger = logging.getLogger(__name__)

__all__ = ["AnalysisData", "FigureProtocol", "PdfMetadataDict"]

_T = TypeVar("_T", bound="AnalysisData")


class AnalysisData(OpenAtFirstUse, DH5):
    """The data of one acquisition, for analysis.

    Every key that exists is locked (a locked array is a read-only view, no copy: big contiguous
    ones map the file's pages, so ``d.big[:10]`` reads ten values, see ``dh5/mapped.py``);
    new keys (fit results…) can be added. Groups written by an ``AcquisitionLoop`` come back as
    :class:`AnalysisLoop`. ``save_fig`` saves figures beside the file and the analysis cell
    under ``analysis_cells/<figure name>``.
    """

    _default_parse_config_str_max_length = 60

    def __init__(
        self,
        filepath: str | os.PathLike,
        cell: str | None = "none",
        save_files: bool = False,
        save_on_edit: bool = True,
        save_fig_inside_h5: bool = False,
        open_on_init: bool | None = None,
    ) -> None:
        if filepath is None:
            raise ValueError("You must specify filepath")
        h5 = os.fspath(filepath)
        h5 = h5 if h5.endswith(".h5") else h5 + ".h5"
        if not storage.exists(h5):
            raise ValueError(f"File '{h5}' does not exist.")
        self._opening = True  # what is read now is locked just below: arrays may be mapped
        if open_on_init is False:
            self._defer_listing()  # listed and locked at first use (first_use.py)
        try:
            super().__init__(h5, mode="a", save_on_edit=save_on_edit, open_on_init=open_on_init)
        finally:
            self._opening = False
        if not self.__dict__.get("_listing_pending"):
            self.lock_data()
        self._save_files = save_files
        self._save_fig_inside_h5 = save_fig_inside_h5
        self._loops: dict[str, AnalysisLoop] = {}
        self._default_config_files: tuple[str, ...] | None = None  # read when first needed
        self._reset_attrs()
        self._figure_last_name: str | None = None
        self._analysis_cell = cell
        self.save_analysis_cell()

    #: Big contiguous locked arrays are read-only views of the file's pages (``dh5/mapped.py``).
    #: Set False to read them into memory, e.g. when other processes delete or rewrite old keys
    #: of files you analyse (see docs/architecture.md, "Mapped arrays").
    map_arrays: bool = True

    def _maps_arrays(self, node: Any, name: str) -> bool:
        """Locked arrays (and all of them while opening: they get locked) map the file."""
        if not self.map_arrays:
            return False
        return self.__dict__.get("_opening", False) or node._is_locked(name)

    def save(self, *args: Any, **kwargs: Any) -> Any:
        """``DH5.save``; then, if the file changed, the callback set by the manager
        (``_on_saved``: the acquisition goes to the backends, so a fit saved with
        ``aqm.d['fit'] = …`` in any cell reaches the mirror)."""
        root: Any = self._root
        before = _written(root)
        result = super().save(*args, **kwargs)
        callback = root.__dict__.get("_on_saved")
        if callback is not None and _written(root) != before:
            callback()
        return result

    def _reset_attrs(self) -> None:
        self._fig_index = 0
        self._figure_saved = False
        self._parsed_configs: dict[Any, ConfigFile] = {}

    # -- loops --------------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        self._first_use(key)
        value = super().__getitem__(key)
        if isinstance(value, DH5) and LOOP_SHAPE_KEY in value.keys():
            name = join_key(*split_key(key))
            loops = self.__dict__.setdefault("_loops", {})
            if name not in loops or loops[name]._data is not value:
                loops[name] = AnalysisLoop(value)
            return loops[name]
        return value

    # -- analysis cells -----------------------------------------------------------------------
    def save_analysis_cell(self: _T, code: str | None = None, code_name: str | None = None) -> _T:
        """Store the analysis code under ``analysis_cells/<code_name or 'default'>``
        (and ``<prefix>_ANALYSIS_CELL_<name>.py`` with save_files)."""
        code = code or self._analysis_cell
        if code == "none":
            return self
        code_name = str(code_name or "default")
        if not code:
            logger.warning("Analysis cell is not set. Nothing to save")
            return self
        from .naming import validate_suffix_name

        validate_suffix_name(code_name, "analysis cell name")
        key = f"analysis_cells/{code_name}"
        # the group itself is locked when the file was loaded with analysis_cells in it
        self.unlock_data([k for k in ("analysis_cells", key) if k in self])
        try:
            self[key] = code
        finally:
            self.lock_data(["analysis_cells", key])
        if not self.save_on_edit:
            self.save()
        if self._save_files:
            write_text_atomically(f"{self.filepath}_ANALYSIS_CELL_{code_name}.py", code)
        return self

    def get_analysis_code(
        self,
        name: str = "default",
        /,
        update_code: bool = True,
        replace: dict[str, str] | None = None,
    ) -> str:
        """The stored analysis code; ``aqm.analysis_cell()`` becomes ``aqm.analysis_cell('<path>')``."""
        cells = self.get("analysis_cells")
        if cells is None:
            old = self.get("analysis_cell")
            if isinstance(old, str) and name == "default":
                code = old
            else:
                raise ValueError(
                    "There is no field 'analysis_cells' inside the data file. "
                    f"Possible keys are {tuple(sorted(self.keys()))}."
                )
        else:
            if name not in cells:
                raise KeyError(
                    f"Cannot get cell '{name}'. Possible cells are: {tuple(sorted(cells.keys()))}"
                )
            code = cells[name]
        if update_code:
            code = code.replace("aqm.analysis_cell()", f"aqm.analysis_cell('{self.filepath}')")
        for old_text, new_text in (replace or {}).items():
            code = code.replace(old_text, new_text)
        return code

    # -- figures --------------------------------------------------------------------------------
    def save_fig(
        self: _T,
        fig: FigureProtocol | None = None,
        name: str | int | None = None,
        extensions: str | None = None,
        tight_layout: bool = True,
        metadata: PdfMetadataDict | dict | None = None,
        **kwargs: Any,
    ) -> _T:
        """Save ``fig`` (default: the current matplotlib figure) as ``<prefix>_FIG…`` (pdf)."""
        inside_h5 = kwargs.pop("inside_h5", None)
        if inside_h5 or (self._save_fig_inside_h5 and inside_h5 is not False):
            logger.warning("Saving a figure inside the h5 file is not supported; saved as a file")
        suffix = figure_suffix(name, self._fig_index + 1, extensions)
        if name is None:
            self._fig_index += 1
        self._figure_last_name = str(name).lstrip("_") if name is not None else None
        if fig is None:
            from matplotlib import pyplot as plt

            fig = plt.gcf()
        save_figure(
            fig, f"{self.filepath}_{suffix}", tight_layout=tight_layout, metadata=metadata, **kwargs
        )
        self._figure_saved = True
        return self

    @property
    def figure_saved(self) -> bool:
        return self._figure_saved

    @property
    def figure_last_name(self) -> str | None:
        return self._figure_last_name

    def open_figs(self) -> list:
        """Figures stored inside old files (needs the optional ``pltsave`` package)."""
        figures = []
        stored = self.get("figures")
        for key in sorted(stored.keys()) if stored is not None else []:
            import pltsave  # type: ignore[import-not-found]

            figures.append(pltsave.loads(stored[key]))
        return figures

    def pull(self: _T, force_pull: bool = False) -> _T:
        self._reset_attrs()
        return super().pull(force_pull)

    # -- configs ------------------------------------------------------------------------------
    def set_default_config_files(self, config_files: str | tuple[str, ...] | list[str], /) -> None:
        self._default_config_files = (
            (config_files,) if isinstance(config_files, str) else tuple(config_files)
        )

    @property
    def default_config_files(self) -> tuple[str, ...]:
        """The config names ``cfg`` merges: as set, else ``info/default_config_files``."""
        if self._default_config_files is None:
            info = self.get("info") if "info" in self else None
            stored = ()
            if info is not None and hasattr(info, "keys") and "default_config_files" in info:
                stored = tuple(info["default_config_files"])
            self._default_config_files = stored
        return self._default_config_files

    def parse_config_file(self, config_file_name: str, /) -> ConfigFile:
        """The saved config ``config_file_name`` (a unique prefix of the name is enough)."""
        if config_file_name in self._parsed_configs:
            return self._parsed_configs[config_file_name]
        if "configs" not in self:
            raise KeyError("There are no config files saved in this acquisition")
        configs = self["configs"]
        name = config_file_name
        if name not in configs:
            matches = sorted(n for n in configs.keys() if n.startswith(config_file_name))
            if not matches:
                raise ValueError(
                    f"Cannot find config with name '{config_file_name}'. "
                    f"Possible configs file are {tuple(sorted(configs.keys()))}"
                )
            name = matches[0]
        if name not in self._parsed_configs:
            text = configs[name]
            self._parsed_configs[name] = ConfigFile(parse_str(text), text)
        self._parsed_configs[config_file_name] = self._parsed_configs[name]
        return self._parsed_configs[name]

    def parse_config(self, config_files: tuple[str, ...] | list[str] | None = None) -> ConfigFile:
        """All ``config_files`` (default: the default config files) merged."""
        files = tuple(config_files or self.default_config_files)
        cache_key = ("__merged__", files)
        if cache_key not in self._parsed_configs:
            merged = ConfigFile()
            for file in files:
                merged = merged + self.parse_config_file(file)
            self._parsed_configs[cache_key] = merged
        return self._parsed_configs[cache_key]

    @property
    def cfg(self) -> ConfigFile:
        return self.parse_config()

    def parse_config_values(
        self, keys: list[str], config_files: tuple[str, ...] | None = None
    ) -> list[ValueForPrint]:
        """Values for a title: file name (``f``), saved keys, then config values."""
        if not isinstance(keys, (list, tuple)):
            raise ValueError("Keys must be a list of strings.")
        config = self.parse_config(config_files)
        values = []
        for raw_key in keys:
            key, units, fmt = parse_key_format(raw_key)
            if key in ("filename", "file", "f"):
                values.append(ValueForPrint(key, self.filename, units, fmt))
            elif key in self:
                values.append(ValueForPrint(key, self[key], units, fmt))
            elif key in config:
                values.append(ValueForPrint(key, config[key], units, fmt))
            else:
                logger.warning("key %s not found and cannot be parsed", key)
        return values

    def parse_config_str(
        self,
        values: list[str],
        max_length: int | None = None,
        config_files: tuple[str, ...] | None = None,
    ) -> str:
        """``"key1 = v1; key2 = v2 (unit)"`` for a figure title."""
        max_length = max_length or self._default_parse_config_str_max_length
        return format_values(self.parse_config_values(values, config_files), max_length=max_length)


def _written(root: Any) -> tuple[Any, int]:
    """The file's stat signature and its write generation: the generation moves with every
    write even where two writes in one second keep the size and mtime (1-second timestamps)."""
    from ..dh5 import storage

    path = getattr(root, "_h5", None)
    return getattr(root, "_signature", None), storage.generation(path) if path else 0
