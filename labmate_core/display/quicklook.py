"""Quick look at an acquisition file: a PNG plot of its data, its loops' progress, figure previews.

``scan(path)`` walks the file once (names, shapes, dtypes; no data read). ``plan(contents)``
chooses what to draw: 1D arrays against the 1D key of the same length (a name like ``x``,
``freq``, ``time``..., else the first other key of that length), 2D arrays as an image with
axes when 1D coordinates of matching lengths are saved, a loop's finished points only.
``render_png(path)`` reads a decimated view of the chosen arrays (``LazyArray`` slices with a
step: a GB-sized array costs a few thousand values) and draws them with matplotlib's Agg
canvas (no pyplot: safe in a background thread). Figures saved with ``save_fig`` get a small
hidden PNG beside them (:func:`preview_path`); :func:`figure_previews` lists them.
"""

from __future__ import annotations

import dataclasses
import glob
import io
import logging
import math
import os
from typing import Any

import h5py
import numpy as np

from labmate_core.dh5 import storage
from labmate_core.dh5.lazy import LazyArray

logger = logging.getLogger(__name__)

#: labmate's own keys: never plotted
SKIP_KEYS = frozenset(
    ("acquisition_cell", "analysis_cell", "analysis_cells", "configs", "experiment_name")
    + ("info", "useful", "figures")
)
#: names that are coordinates rather than measured values (compared lower-cased)
COORD_NAMES = (
    "x", "t", "time", "times", "f", "freq", "freqs", "frequency", "frequencies", "v",
    "volt", "voltage", "amp", "amps", "amplitude", "power", "field", "b", "i", "current",
    "index", "detuning", "delay", "delays", "tau", "phase", "angle", "temperature", "y",
)  # fmt: skip
LOOP_SHAPE_KEY = "__loop_shape__"
MAX_POINTS = 2000  # per 1D curve
MAX_PIXELS = 400  # per image side
MAX_PANELS = 4
PREVIEW_DPI = 40


@dataclasses.dataclass(frozen=True)
class ArrayInfo:
    """A numeric dataset: its key (``group/name``), shape and dtype."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def group(self) -> str:
        return self.key.rsplit("/", 1)[0] if "/" in self.key else ""


@dataclasses.dataclass(frozen=True)
class LoopInfo:
    """An ``AcquisitionLoop`` saved in the file (``key`` ``""`` = the file's root)."""

    key: str
    shape: tuple[int, ...]
    done: int  # finished innermost points
    total: int  # points the loop expects (product of the known shape)


@dataclasses.dataclass
class Contents:
    """What :func:`scan` found."""

    arrays: list[ArrayInfo]
    loops: list[LoopInfo]
    masks: dict[str, np.ndarray]  # loop group -> finished points (bool, loop shape)


@dataclasses.dataclass(frozen=True)
class Plot:
    """One panel: ``kind`` ``line`` (``y`` against ``x`` or the index) or ``image``
    (``y`` 2D, ``x`` the coordinate of its columns, ``x2`` of its rows)."""

    kind: str
    y: ArrayInfo
    x: ArrayInfo | None = None
    x2: ArrayInfo | None = None
    loop: str | None = None  # the loop group whose finished points are kept


def _loop_shape(raw: Any) -> tuple[int, ...] | None:
    from labmate_core.acquisition.acquisition_loop import parse_loop_shape

    try:
        shape = parse_loop_shape(raw)
    except Exception:
        return None
    return tuple(int(n) for n in shape) if shape else None


def scan(path: str | os.PathLike, timeout: float = 5.0) -> Contents:
    """The numeric arrays and the loops of ``path``, read in one short shared-lock open."""
    arrays: list[ArrayInfo] = []
    loops: list[LoopInfo] = []
    masks: dict[str, np.ndarray] = {}
    with storage.open_read(path, timeout=timeout) as file:
        groups: list[tuple[str, h5py.Group]] = [("", file)]
        while groups:
            prefix, group = groups.pop(0)
            if LOOP_SHAPE_KEY in group:
                info, mask = _loop_info(prefix, group)
                if info is not None:
                    loops.append(info)
                    if mask is not None:
                        masks[prefix] = mask
            for name in group:
                if not prefix and name in SKIP_KEYS or name.startswith("__"):
                    continue
                item = group.get(name)
                key = f"{prefix}/{name}" if prefix else name
                if isinstance(item, h5py.Group):
                    groups.append((key, item))
                elif isinstance(item, h5py.Dataset) and item.dtype.kind in "biufc":
                    if item.ndim >= 1 and item.size > 1:
                        arrays.append(ArrayInfo(key, tuple(item.shape), item.dtype))
    return Contents(arrays, loops, masks)


def _loop_info(prefix: str, group: h5py.Group) -> tuple[LoopInfo | None, np.ndarray | None]:
    shape = _loop_shape(group[LOOP_SHAPE_KEY][()])
    if shape is None:
        return None, None
    level = len(shape)
    index = group.get(f"__index_{level}__")
    mask = None
    if isinstance(index, h5py.Dataset) and index.size <= 10_000_000:
        mask = np.asarray(index[()]) != 0
        done = int(mask.sum())
    else:
        done = 0
    return LoopInfo(prefix, shape, done, int(np.prod(shape))), mask


def loop_progress(path: str | os.PathLike, timeout: float = 1.0) -> list[LoopInfo]:
    """The loops saved in ``path`` with their finished points (for a running acquisition)."""
    return scan(path, timeout=timeout).loops


def _coordinate(candidates: list[ArrayInfo], exclude: ArrayInfo | None = None) -> ArrayInfo | None:
    options = [a for a in candidates if a is not exclude]
    for wanted in COORD_NAMES:
        for info in options:
            if info.name.lower() == wanted:
                return info
    return options[0] if options else None


def plan(contents: Contents, max_panels: int = MAX_PANELS) -> list[Plot]:
    """What to draw (at most ``max_panels``): images first, then 1D curves."""
    by_length: dict[tuple[str, int], list[ArrayInfo]] = {}
    for info in contents.arrays:
        if len(info.shape) == 1:
            by_length.setdefault((info.group, info.shape[0]), []).append(info)
    plots: list[Plot] = []
    axes: set[str] = set()  # coordinates of the images: not plotted on their own
    for info in contents.arrays:
        shape = info.shape
        if len(shape) == 2 and min(shape) > 1:
            same = by_length.get((info.group, shape[1]), [])
            rows = by_length.get((info.group, shape[0]), [])
            x = _coordinate(same)
            y = _coordinate(rows, exclude=x)
            plots.append(Plot("image", info, x, y, _loop_of(contents, info)))
            axes.update(a.key for a in (x, y) if a is not None)
    for group in by_length.values():
        x = _coordinate(group) if len(group) > 1 else None
        for info in group:
            if info is x and len(group) > 1 or info.key in axes:
                continue
            plots.append(Plot("line", info, x, None, _loop_of(contents, info)))
    return plots[:max_panels]


def _loop_of(contents: Contents, info: ArrayInfo) -> str | None:
    mask = contents.masks.get(info.group)
    if mask is not None and info.shape[: mask.ndim] == mask.shape:
        return info.group
    return None


def _step(length: int, limit: int) -> int:
    return max(1, math.ceil(length / limit))


def _read(path: str, info: ArrayInfo, selection: tuple[slice, ...]) -> np.ndarray:
    """A decimated selection of ``info``, read lazily (only that selection leaves the file)."""
    values = np.asarray(LazyArray(path, info.key)[selection])
    if values.dtype.kind == "c":
        values = np.abs(values)
    return values.astype(float, copy=False)


def render_png(
    path: str | os.PathLike,
    *,
    contents: Contents | None = None,
    max_points: int = MAX_POINTS,
    max_pixels: int = MAX_PIXELS,
    max_panels: int = MAX_PANELS,
    width: float = 7.0,
) -> bytes | None:
    """A PNG of the data of ``path`` (see the module docstring); ``None`` when nothing is
    plottable. Never reads more than ``max_points`` values per curve, ``max_pixels``² per image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = os.fspath(path)
    contents = contents if contents is not None else scan(path)
    plots = plan(contents, max_panels)
    if not plots:
        return None
    columns = 1 if len(plots) == 1 else 2
    lines = math.ceil(len(plots) / columns)
    figure = Figure(figsize=(width, 2.6 * lines), dpi=90)
    FigureCanvasAgg(figure)
    for number, item in enumerate(plots, start=1):
        axes = figure.add_subplot(lines, columns, number)
        try:
            if item.kind == "image":
                _draw_image(axes, figure, path, item, contents, max_pixels)
            else:
                _draw_line(axes, path, item, contents, max_points)
        except Exception as error:  # one unreadable key does not hide the others
            logger.debug("quick look of %s in %s failed", item.y.key, path, exc_info=True)
            axes.text(0.5, 0.5, f"{item.y.key}: {error}", ha="center", wrap=True, fontsize=8)
    shown = {p.y.key for p in plots} | {a.key for p in plots for a in (p.x, p.x2) if a}
    more = len([a for a in contents.arrays if a.key not in shown and a.shape[0] > 1])
    title = ", ".join(
        f"{loop.key or 'loop'}: {loop.done}/{loop.total} points" for loop in contents.loops
    )
    if more > 0:
        title = f"{title}  (+{more} more arrays)" if title else f"+{more} more arrays"
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw_line(axes: Any, path: str, item: Plot, contents: Contents, max_points: int) -> None:
    length = item.y.shape[0]
    step = _step(length, max_points)
    selection = (slice(None, None, step),)
    y = _read(path, item.y, selection)
    x = _read(path, item.x, selection) if item.x is not None else np.arange(0, length, step)
    if item.loop is not None:
        keep = contents.masks[item.loop][::step]
        x, y = x[keep], y[keep]
    axes.plot(x, y, ".-" if len(y) < 100 else "-", linewidth=1, markersize=3)
    axes.set_xlabel(item.x.key if item.x is not None else "index", fontsize=8)
    axes.set_ylabel(item.y.key, fontsize=8)
    axes.tick_params(labelsize=7)


def _draw_image(
    axes: Any, figure: Any, path: str, item: Plot, contents: Contents, max_pixels: int
) -> None:
    rows, columns = item.y.shape
    steps = (_step(rows, max_pixels), _step(columns, max_pixels))
    image = _read(path, item.y, (slice(None, None, steps[0]), slice(None, None, steps[1])))
    if item.loop is not None:
        keep = contents.masks[item.loop][:: steps[0], :: steps[1]]
        image = np.where(keep, image, np.nan)
    extent = None
    if item.x is not None and item.x2 is not None:
        x = _read(path, item.x, (slice(None),)) if columns <= 100_000 else None
        y = _read(path, item.x2, (slice(None),)) if rows <= 100_000 else None
        if x is not None and y is not None and len(x) and len(y):
            extent = (float(x[0]), float(x[-1]), float(y[0]), float(y[-1]))
    mesh = axes.imshow(image, aspect="auto", origin="lower", extent=extent, interpolation="nearest")
    figure.colorbar(mesh, ax=axes)
    axes.set_title(item.y.key, fontsize=8)
    axes.set_xlabel(item.x.key if extent and item.x else "column", fontsize=8)
    axes.set_ylabel(item.x2.key if extent and item.x2 else "row", fontsize=8)
    axes.tick_params(labelsize=7)


# --- figure previews --------------------------------------------------------------------------


def preview_path(figure_path: str | os.PathLike) -> str:
    """The hidden PNG preview of a saved figure: ``.<file name>.png`` in the same folder."""
    folder, name = os.path.split(os.fspath(figure_path))
    return os.path.join(folder, f".{name}.png")


def save_preview(figure: Any, figure_path: str | os.PathLike, dpi: int = PREVIEW_DPI) -> None:
    """Save a small PNG of ``figure`` beside ``figure_path`` (the figure file stays the record);
    a figure that cannot be drawn as PNG is logged and skipped."""
    target = preview_path(figure_path)
    temporary = f"{target}.tmp"
    try:
        figure.savefig(temporary, format="png", dpi=dpi)
        os.replace(temporary, target)
    except Exception as error:
        logger.info("no preview for %s: %s: %s", figure_path, type(error).__name__, error)
        if os.path.exists(temporary):
            os.remove(temporary)


def figure_previews(prefix: str | os.PathLike) -> list[tuple[str, bytes | None]]:
    """``(figure file name, preview PNG or None)`` of each figure saved for ``prefix``."""
    prefix = os.fspath(prefix)
    found = []
    for figure in sorted(glob.glob(glob.escape(prefix) + "_FIG*")):
        if figure.endswith(".tmp"):
            continue
        preview = preview_path(figure)
        data = None
        if os.path.exists(preview):
            with open(preview, "rb") as file:
                data = file.read()
        found.append((os.path.basename(figure), data))
    return found
