"""Progress of a running ``AcquisitionLoop``: a bar with rate and ETA, throttled.

The loop calls :func:`start` when its outermost level begins (with that level's length),
:func:`advance` after every finished iteration of any level (with its positions and shape: the
fraction done counts the inner levels too) and :func:`finish` when the outermost level ends. In a
Jupyter kernel the bar is an ipywidgets ``FloatProgress`` in the cell's output; elsewhere a
plain-text line is logged (``labmate_core.display.progress``), at most every ``LOG_INTERVAL``
seconds. The display is updated at most every ``WIDGET_INTERVAL`` seconds: an iteration costs
a clock read and a few multiplications.

:func:`running` gives the progress of the loops running in this process by ``.h5`` file
(the panel shows it in the row of a running acquisition).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .frontend import has_frontend

logger = logging.getLogger(__name__)

WIDGET_INTERVAL = 0.25  # s between two updates of the bar
LOG_INTERVAL = 10.0  # s between two log lines outside notebooks
_running: dict[str, Progress] = {}
_running_lock = threading.Lock()


def format_seconds(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 10 min``."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """One running loop: points done of ``total``, rate, ETA; shown as a bar or logged."""

    def __init__(
        self,
        total: int,
        path_of: Callable[[], str | None] = lambda: None,
        *,
        widget: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        live: Any = None,
    ) -> None:
        self.total = max(int(total), 0)
        self.done = 0.0
        self._path_of = path_of
        self._clock = clock
        self.started = clock()
        self._last_shown = -math.inf
        self._shown_done = -1.0
        self._path: str | None = None
        self.bar: Any = None
        self.label: Any = None
        self.updates = 0  # how many times the display was updated (throttling)
        self.live: Any = None  # a LivePlot of the loop ``live`` (widget mode only)
        if widget if widget is not None else has_frontend():
            self._make_widget(live)
        self._register()

    def _make_widget(self, live: Any) -> None:
        try:
            import ipywidgets as widgets
            from IPython.display import display

            self.bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="loop")
            self.bar.add_class("labmate-progress")
            self.label = widgets.HTML()
            self.label.add_class("labmate-progress-text")
            shown: list[Any] = [widgets.HBox([self.bar, self.label])]
            if live is not None:
                from .liveplot import LivePlot

                image = widgets.Image(format="png", layout=widgets.Layout(align_self="flex-start"))
                image.add_class("labmate-liveplot")
                self.live = LivePlot(live, image)
                shown.append(image)
            display(widgets.VBox(shown) if len(shown) > 1 else shown[0])
        except Exception as error:  # never break the user's loop for a display
            logger.debug("no progress bar: %s", error)
            self.bar = self.label = self.live = None

    # --- numbers ---------------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        return self._clock() - self.started

    @property
    def rate(self) -> float:
        """Points per second so far."""
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float:
        """Seconds left at the current rate (``inf`` before the first point)."""
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else math.inf

    def text(self) -> str:
        """``12/50 points (24 %), 3.1 points/s, 12 s left`` (or ``..., done in 16 s``)."""
        fraction = self.done / self.total if self.total else 1.0
        head = f"{int(self.done)}/{self.total} points ({fraction:.0%})"
        rate = self.rate
        speed = (
            f"{rate:.3g} points/s"
            if rate >= 1
            else f"{format_seconds(1 / rate)}/point"
            if rate > 0
            else "…"
        )
        if self.done >= self.total:
            return f"{head}, {speed}, done in {format_seconds(self.elapsed)}"
        return f"{head}, {speed}, {format_seconds(self.eta)} left"

    # --- updates ---------------------------------------------------------------------------

    def set_done(self, done: float, force: bool = False) -> None:
        """Record ``done`` points; show them if the last display is old enough."""
        self.done = min(max(done, 0.0), float(self.total))
        self._register()
        if self.done == self._shown_done:
            return  # an outer level's step after its inner level's last one: same point
        now = self._clock()
        interval = WIDGET_INTERVAL if self.bar is not None else LOG_INTERVAL
        if force or now - self._last_shown >= interval:
            self._last_shown = now
            self._shown_done = self.done
            self._show()

    def _register(self) -> None:
        if self._path is None:
            path = self._path_of()
            if path:
                self._path = os.path.abspath(path)
                with _running_lock:
                    _running[self._path] = self

    def _show(self) -> None:
        self.updates += 1
        text = self.text()
        if self.bar is not None:
            try:
                self.bar.value = self.done / self.total if self.total else 1.0
                self.label.value = text
                if self.live is not None:
                    self.live.update(int(self.done), text)
                return
            except Exception as error:
                logger.debug("progress bar update failed: %s", error)
        logger.info("%s", text)

    def finish(self) -> None:
        """The loop ended (or was interrupted): show the last state, unregister."""
        self.set_done(self.done, force=True)
        if self.bar is not None:
            self.bar.bar_style = "success" if self.done >= self.total else "warning"
        if self.live is not None:
            self.live.close(int(self.done), self.text())
        if self._path is not None:
            with _running_lock:
                if _running.get(self._path) is self:
                    del _running[self._path]


def fraction_done(iteration: Sequence[int], shape: Sequence[int]) -> float:
    """The part of a nested loop finished, from each level's finished iterations and length."""
    fraction, scale = 0.0, 1.0
    for done, length in zip(iteration, shape, strict=False):
        if length <= 0:
            break
        scale /= length
        fraction += done * scale
    return min(fraction, 1.0)


_live = 0  # > 0 inside live_plots()


@contextlib.contextmanager
def live_plots() -> Iterator[None]:
    """Loops started inside also draw their latest points (``%%acquisition NAME --live``)."""
    global _live
    _live += 1
    try:
        yield
    finally:
        _live -= 1


def start(length: int, path_of: Callable[[], str | None], loop: Any = None) -> Progress | None:
    """A progress display for a loop whose outermost level has ``length`` items (None if 0);
    inside :func:`live_plots`, with a live plot of ``loop``'s points."""
    if length <= 0:
        return None
    return Progress(length, path_of, live=loop if _live else None)


def advance(progress: Progress | None, iteration: Sequence[int], shape: Sequence[int]) -> None:
    """Record the loop's position (cheap; the display is throttled)."""
    if progress is None:
        return
    total = 1
    for length in shape:
        total *= max(length, 1)
    progress.total = total
    progress.set_done(fraction_done(iteration, shape) * total)


def finish(progress: Progress | None) -> None:
    """The outermost level ended."""
    if progress is not None:
        try:
            progress.finish()
        except Exception:  # the loop's own end matters more than its display
            logger.debug("progress display could not finish", exc_info=True)


def running(path: str | os.PathLike) -> Progress | None:
    """The progress of the loop writing ``path`` in this process, if one runs."""
    with _running_lock:
        return _running.get(os.path.abspath(os.fspath(path)))
