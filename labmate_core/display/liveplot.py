"""Live plot of a running ``AcquisitionLoop`` (``%%acquisition NAME --live``), throttled.

The loop's thread only copies the finished points of a few arrays (no lock, no file read); one
background thread draws them with matplotlib's Agg canvas into an ipywidgets ``Image``. A new
drawing starts only when the previous one is done and at least ``DUTY`` times its duration has
passed since (and ``MIN_INTERVAL``; the first one waits as long after the loop's start, from
the last drawing's duration): drawing competes with the loop for the GIL at most
``1 / (DUTY + 1)`` of the time (5 %); a sweep shorter than that gets its plot at its end.
``benchmarks/bench_panel.py`` measures it.
"""

from __future__ import annotations

import concurrent.futures
import io
import logging
import threading
import time
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

DUTY = 19.0  # idle time between drawings, in drawing durations
MIN_INTERVAL = 0.5  # s between two drawings at least
#: how long the last drawing took (s): the first drawing of the next loop waits DUTY times it
_last_duration = 0.1
MIN_DRAWING = 0.1  # s: the least a drawing is assumed to take (before the first one)
MAX_LINES = 3
#: names that are the loop's coordinate rather than a measured value (lower-cased)
COORDINATES = ("x", "f", "freq", "frequency", "t", "time", "v", "voltage", "amp", "power")


def snapshot(source: Any, done: int) -> dict[str, np.ndarray]:
    """Copies of the loop's arrays (``source[key]``) cut to the ``done`` finished points of a
    one-level loop, or whole for a nested one; only arrays that follow the loop's shape."""
    shape = tuple(getattr(source, "shape", ()))
    if not shape:
        return {}
    arrays = {}
    for key in sorted(k for k in source.keys() if not k.startswith("__")):
        value = source[key]
        if not isinstance(value, np.ndarray) or value.shape[: len(shape)] != shape:
            continue
        if value.dtype.kind == "c":
            value = np.abs(value)
        elif value.dtype.kind not in "biuf":
            continue
        arrays[key] = np.array(value[:done] if len(shape) == 1 else value, dtype=float)
    return arrays


def render(arrays: dict[str, np.ndarray], title: str = "") -> bytes | None:
    """A PNG of a loop snapshot: curves against its coordinate (1D), else an image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not arrays:
        return None
    figure = Figure(figsize=(6, 2.8), dpi=80)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    first = next(iter(arrays.values()))
    if first.ndim == 1:
        x_key = next((k for k in arrays if k.lower() in COORDINATES), None)
        x = arrays[x_key] if x_key else np.arange(len(first))
        for key in [k for k in arrays if k != x_key][:MAX_LINES]:
            axes.plot(x, arrays[key], ".-" if len(x) < 100 else "-", label=key, markersize=3)
        axes.set_xlabel(x_key or "point", fontsize=8)
        axes.legend(fontsize=7, loc="best")
    else:
        key = next(iter(arrays))
        image = arrays[key].reshape(arrays[key].shape[0], -1)
        axes.imshow(image, aspect="auto", origin="lower", interpolation="nearest")
        axes.set_title(key, fontsize=8)
    axes.tick_params(labelsize=7)
    if title:
        figure.suptitle(title, fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


class LivePlot:
    """Redraws a loop's latest points into ``image`` (an ipywidgets ``Image``), throttled."""

    def __init__(self, source: Any, image: Any, clock: Any = time.monotonic) -> None:
        self.source = source
        self.image = image
        self._clock = clock
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="labmate-liveplot"
        )
        self._busy = threading.Event()
        # clock time before which no drawing starts: the first one too waits DUTY drawings
        self._next = clock() + DUTY * max(_last_duration, MIN_DRAWING)
        self.drawings = 0

    def update(self, done: int, title: str = "", force: bool = False) -> None:
        """Copy the finished points and draw them in the background, if it is time."""
        if self._busy.is_set() or (not force and self._clock() < self._next):
            return
        try:
            arrays = snapshot(self.source, done)
        except Exception:  # never break the loop for a plot
            logger.debug("live plot snapshot failed", exc_info=True)
            return
        self._busy.set()
        self._executor.submit(self._draw, arrays, title)

    def _draw(self, arrays: dict[str, np.ndarray], title: str) -> None:
        start = self._clock()
        try:
            png = render(arrays, title)
            if png is not None:
                self.image.value = png
                self.drawings += 1
        except Exception:
            png = None
            logger.debug("live plot failed", exc_info=True)
        finally:
            global _last_duration
            end = self._clock()
            if png is not None:  # an empty snapshot's quick return says nothing of drawings
                _last_duration = end - start
            self._next = end + max(MIN_INTERVAL, DUTY * (end - start))
            self._busy.clear()

    def close(self, done: int, title: str = "", wait: bool = False) -> None:
        """Draw the final state after any drawing in progress, in the background (the loop's
        end does not wait for it unless ``wait``), then let the thread end."""
        try:
            arrays = snapshot(self.source, done)
        except Exception:
            logger.debug("live plot snapshot failed", exc_info=True)
        else:
            self._executor.submit(self._draw, arrays, title)
        self._executor.shutdown(wait=wait)
