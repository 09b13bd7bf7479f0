"""The details of the run selected in the panel: quick-look plot, figure thumbnails, code, notes.

Everything that reads the file (the cell's code, the data plot, the previews) runs in one
background thread per panel: selecting a row returns at once, a newer selection makes an older
one's result be dropped, and :meth:`Details.wait` lets scripts and tests wait for the result.
"""

from __future__ import annotations

import concurrent.futures
import html
import logging
import os
import threading
from collections.abc import Callable

import ipywidgets as widgets

from labmate_core.display import quicklook
from labmate_core.index import Acquisition

logger = logging.getLogger(__name__)


def last_error_line(error: str | None) -> str:
    """The last non-empty line of a stored traceback (``""`` for none)."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


class Details(widgets.VBox):
    """The details pane; ``show(row)`` fills it in the background, ``clear()`` empties it."""

    def __init__(self, read_code: Callable[[str], str], say: Callable[..., None]) -> None:
        self._read_code = read_code
        self._say = say
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="labmate-quicklook"
        )
        self._lock = threading.Lock()
        self._generation = 0
        self._future: concurrent.futures.Future | None = None
        self.prefix: str | None = None
        self.title = widgets.HTML()
        self.title.add_class("labmate-details-title")
        self.plot = widgets.Image(
            format="png", layout=widgets.Layout(max_width="100%", align_self="flex-start")
        )
        self.plot.add_class("labmate-quicklook")
        self.plot_note = widgets.HTML()
        self.plot_note.add_class("labmate-quicklook-note")
        self.figures = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.figures.add_class("labmate-figures")
        self.code = widgets.Textarea(layout=widgets.Layout(width="98%", height="160px"))
        self.code.add_class("labmate-code-text")
        self.notes = widgets.HTML()
        self.notes.add_class("labmate-details-notes")
        super().__init__(
            [self.title, self.plot_note, self.plot, self.figures, self.notes, self.code],
            layout=widgets.Layout(display="none", width="100%"),
        )
        self.add_class("labmate-details")

    def show(self, row: Acquisition) -> concurrent.futures.Future:
        """Show ``row``: its title at once, the code, plot and figures when they are read."""
        with self._lock:
            self._generation += 1
            generation = self._generation
        self.prefix = row.prefix
        # cleared before the new title is sent: whoever sees the title sees no stale plot
        self.plot.value = b""
        self.plot.layout.display = "none"
        self.figures.children = ()
        self.plot_note.value = "<i>plotting…</i>"
        error = last_error_line(row.error)
        self.title.value = f"<b>{html.escape(row.stem)}</b> · {html.escape(row.status)}" + (
            f' · <span style="color:#c62828">{html.escape(error)}</span>' if error else ""
        )
        self.notes.value = (
            f"<i>note:</i> {html.escape(row.notes)}" if row.notes else "<i>no note</i>"
        )
        self.layout.display = None
        self._future = self._executor.submit(self._load, row, generation)
        return self._future

    def refresh(self, row: Acquisition) -> None:
        """Show ``row`` again if it is the one selected (a running acquisition grew)."""
        if self.prefix == row.prefix and (self._future is None or self._future.done()):
            self.show(row)

    def clear(self) -> None:
        """Nothing selected: hide the pane (a pending result is dropped)."""
        with self._lock:
            self._generation += 1
        self.prefix = None
        self.layout.display = "none"
        self.title.value = ""
        self.code.value = ""
        self.plot.value = b""
        self.plot_note.value = ""
        self.figures.children = ()

    def wait(self, timeout: float | None = 30.0) -> None:
        """Wait until the current selection's background reading is done."""
        if self._future is not None:
            self._future.result(timeout)

    def _current(self, generation: int) -> bool:
        with self._lock:
            return generation == self._generation

    def _load(self, row: Acquisition, generation: int) -> None:
        try:
            code = self._read_code(row.path) or "(no acquisition cell saved)"
        except Exception as error:
            code = ""
            if self._current(generation):
                self._say(f"could not read {row.stem}: {type(error).__name__}: {error}", True)
        if not self._current(generation):
            return
        self.code.value = code
        self._load_plot(row, generation)
        if self._current(generation):
            self.figures.children = tuple(self._thumbnails(row))

    def _load_plot(self, row: Acquisition, generation: int) -> None:
        note = ""
        try:
            png = quicklook.render_png(row.path) if os.path.exists(row.path) else None
            if png is None:
                note = "<i>no array to plot</i>"
        except Exception as error:
            logger.debug("quick look of %s failed", row.path, exc_info=True)
            png, note = None, f"<i>no plot: {html.escape(type(error).__name__)}: "
            note += f"{html.escape(str(error))}</i>"
        if self._current(generation):
            self.plot.value = png or b""
            self.plot.layout.display = None if png else "none"
            self.plot_note.value = note

    @staticmethod
    def _thumbnails(row: Acquisition) -> list[widgets.Widget]:
        items: list[widgets.Widget] = []
        for name, png in quicklook.figure_previews(row.prefix):
            label = name[len(row.stem) + 1 :] if name.startswith(row.stem) else name
            caption = widgets.HTML(
                f'<div class="labmate-thumb-name" title="{html.escape(name, quote=True)}">'
                f"{html.escape(label)}</div>"
            )
            if png:
                picture: widgets.Widget = widgets.Image(value=png, format="png")
                picture.add_class("labmate-thumb")
            else:
                picture = widgets.HTML("<i>no preview</i>")
            items.append(
                widgets.VBox(
                    [picture, caption],
                    layout=widgets.Layout(margin="2px", align_items="flex-start"),
                )
            )
        return items

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        super().close()
