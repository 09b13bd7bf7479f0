"""The recent-acquisitions panel: an ipywidgets view of a data directory's index.

``show_panel(data_directory, dispatcher=None, shell=None)`` displays a :class:`LabmatePanel`:
newest first with paging, filters (text, date, status), one row per acquisition (time, name,
status, duration, size, sync state per backend, an editable note; a failed row shows the last
line of its error) and row actions: the *name* selects the run (details below the table: a
quick-look plot of its data, thumbnails of its figures, its cell and note, read in the
background, see ``panel_details``), *analyse* (puts ``%%analysis <file>`` in the next input), *path*
(copies the file path to the clipboard in the browser and shows it selected beside the button),
*retry* (resubmits a failed sync). It refreshes itself on every index change made in this kernel;
*Refresh* re-reads the files (other kernels' work). Given a ``manager``, the panel follows its
dispatcher, which appears with the first backend.
"""

from __future__ import annotations

import datetime
import html
import logging
import os
import shlex
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets import widget_string

from labmate_core import runtime
from labmate_core.dh5 import storage
from labmate_core.display import progress, quicklook
from labmate_core.index import (
    Acquisition,
    IndexEvent,
    SyncState,
    on_backend_status,
    open_index,
    set_note,
    subscribe,
)
from labmate_core.index.ls import format_duration, format_size
from labmate_core.index.notes import migrate_notes, write_note

from .panel_details import Details, last_error_line
from .panel_style import CSS

logger = logging.getLogger(__name__)

STATUS_COLORS = {
    "running": "#1565c0",
    "completed": "#2e7d32",
    "failed": "#c62828",
    "unreadable": "#6d4c41",
}
SYNC_COLORS = {
    "done": "#2e7d32",
    "pending": "#9e9e9e",
    "copying": "#1565c0",
    "failed": "#c62828",
    "retrying": "#ef6c00",
    "stale": "#ef6c00",
    "never": "#9e9e9e",
}
#: (column, width); the flexible ones (name, notes) share what is left, never below their width
COLUMNS = (
    ("time", "108px"),
    ("name", "80px"),
    ("status", "92px"),
    ("duration", "64px"),
    ("size", "62px"),
    ("sync", "130px"),
    ("notes", "80px"),
)
FLEXIBLE = ("name", "notes")


#: layouts and styles shared by the cells of a column in every row (a row is some 15 widgets,
#: not 45: the first render of a page of 20 rows costs a third)
_SHARED: dict[Any, widgets.Widget] = {}
_STYLES = {
    widgets.HTML: widget_string.HTMLStyle,
    widgets.Button: widgets.ButtonStyle,
    widgets.Text: widget_string.TextStyle,
}


def _shared(key: Any, make: Callable[[], widgets.Widget]) -> Any:
    if key not in _SHARED:
        _SHARED[key] = make()
    return _SHARED[key]


def _cell(width: str, name: str = "", kind: Any = widgets.HTML, **kwargs: Any) -> widgets.Widget:
    flex = "1 1 0" if name in FLEXIBLE else "0 0 auto"
    layout = _shared(
        ("cell", width, name in FLEXIBLE),
        lambda: widgets.Layout(
            width=None if name in FLEXIBLE else width,
            min_width=width,
            margin="0 4px 0 0",
            flex=flex,
        ),
    )
    if kind in _STYLES:
        kwargs["style"] = _shared(("style", kind), _STYLES[kind])
    widget = kind(layout=layout, **kwargs)
    if kind is not widgets.Text:
        widget.add_class("labmate-cell")
    if name in FLEXIBLE:
        widget.add_class("labmate-flex")
    return widget


def _button(description: str, tooltip: str, css: str, shared: bool = True) -> widgets.Button:
    def layout() -> widgets.Layout:
        return widgets.Layout(width="auto", min_width="fit-content", flex="0 0 auto")

    button = widgets.Button(
        description=description,
        tooltip=tooltip,
        layout=_shared("button", layout) if shared else layout(),
        style=_shared(("style", widgets.Button), widgets.ButtonStyle),
    )
    button.add_class(css)
    return button


def _badge(text: str, color: str, title: str | None = None) -> str:
    attr = f' title="{html.escape(title, quote=True)}"' if title else ""
    return f'<span style="color:{color};font-weight:600"{attr}>{html.escape(text)}</span>'


def _short(name: str, length: int = 16) -> str:
    return name if len(name) <= length else f"{name[: length - 7]}…{name[-6:]}"


def _clock(epoch: float | None) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%H:%M:%S") if epoch else "?"


def _sync_line(
    backend: str,
    state: SyncState | None,
    found: Any = None,
    next_try: float | None = None,
) -> str:
    """One backend's state on one line (delivered at, pending, retrying, failed, stale, never);
    the full name, the state, the last error and the next try as its tooltip. ``found`` is the
    data directory's view (``survey``: stale, never delivered), ``state`` this kernel's."""
    name = state.state if state is not None else getattr(found, "state", "never")
    error = state.last_error if state is not None else getattr(found, "error", None)
    details = []
    label = name
    if name == "done" and getattr(found, "state", None) == "stale":
        name = label = "stale"
        details.append(
            f"the files changed since delivered at {_clock(state.time if state else None)}"
        )
    elif name == "done":
        label = f"delivered {_clock(state.time if state else None)}"
    elif name == "delivered":
        label = f"delivered {_clock(getattr(found, 'delivered', None))}"
    elif name == "pending" and state is not None and state.attempts and state.last_error:
        name = label = "retrying"
        details.append(f"attempt {state.attempts}, next try at {_clock(next_try)}")
    elif name == "never":
        label = "never delivered"
    title = "\n".join([f"{backend}: {name}", *details, *([error] if error else [])])
    color = SYNC_COLORS.get("done" if name == "delivered" else name, "inherit")
    return (
        '<div style="white-space:nowrap;overflow:hidden;text-overflow:ellipsis"'
        f' title="{html.escape(title, quote=True)}">'
        f'<span style="color:{color};font-weight:600">{html.escape(label)}</span> '
        f"{html.escape(_short(backend))}</div>"
    )


def _sync_cell(row: Acquisition, found: dict[str, Any], next_tries: dict[Any, Any]) -> str:
    """Every backend of ``row``: this kernel's states, then the data directory's others."""
    lines = [
        _sync_line(n, st, found.get(n), next_tries.get((row.prefix, n)))
        for n, st in row.sync.items()
    ]
    lines += [_sync_line(n, None, item) for n, item in found.items() if n not in row.sync]
    return "".join(lines) or "—"


#: run in the browser by the *path* button: copy ``data-path``, show it selected under the button
_COPY_JS = (
    "(function(b){var p=b.dataset.path,box=b.parentNode,"
    "pop=box.querySelector('.labmate-copy-pop'),"
    "f=box.querySelector('input.labmate-path-field'),"
    "s=box.querySelector('.labmate-copy-status');"
    "f.value=p;s.textContent='';pop.style.display='';f.focus({preventScroll:true});f.select();"
    "function done(ok){s.textContent=ok?'copied':'press Ctrl+C to copy';"
    "b.setAttribute('data-copied',ok?'yes':'no');f.focus({preventScroll:true});f.select();}"
    "function legacy(){try{done(document.execCommand('copy'));}catch(e){done(false);}}"
    "if(navigator.clipboard&&window.isSecureContext){"
    "navigator.clipboard.writeText(p).then(function(){done(true);},legacy);}"
    "else{legacy();}})(this)"
)
_CLOSE_JS = "this.parentNode.style.display='none'"
#: the popup floats under the button so that the row keeps its width
_POP_STYLE = (
    "display:none;position:absolute;right:0;top:100%;z-index:20;white-space:nowrap;"
    "padding:3px 4px;background:var(--jp-layout-color1,#fff);"
    "border:1px solid var(--jp-border-color1,#bbb);box-shadow:0 1px 4px rgba(0,0,0,.2)"
)


def copy_button_html(path: str) -> str:
    """The *path* control of a row: a button that copies ``path`` in the browser (Clipboard
    API, else the field is left selected for Ctrl+C) and shows it, selected, in a popup."""
    return (
        '<span class="labmate-copy-box" style="position:relative;display:inline-block">'
        '<button type="button" class="jupyter-button labmate-copy"'
        f' title="copy the file path" data-path="{html.escape(path, quote=True)}"'
        f' onclick="{html.escape(_COPY_JS, quote=True)}">path</button>'
        f'<span class="labmate-copy-pop" style="{_POP_STYLE}">'
        '<input class="labmate-path-field" readonly style="width:36em"> '
        '<span class="labmate-copy-status"></span> '
        f'<span class="labmate-copy-close" title="close" style="cursor:pointer"'
        f' onclick="{_CLOSE_JS}">✕</span></span></span>'
    )


def read_acquisition_code(h5_path: str | os.PathLike) -> str:
    """The acquisition cell(s) stored in a file (steps in order), or ``""``."""
    with storage.open_read(h5_path, timeout=5.0) as file:
        item = file.get("acquisition_cell")
        if item is None:
            return ""
        if hasattr(item, "shape"):
            value = item[()]
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        steps = sorted(item.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else k))
        parts = []
        for step in steps:
            value = item[step][()]
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            parts.append(text if len(steps) == 1 else f"# --- step {step} ---\n{text}")
        return "\n".join(parts)


def is_live(row: Acquisition) -> bool:
    """Running: so says the index, or a loop of this kernel still writes the file (a loop
    saved with ``save_acquisition(loop=...)`` runs on after the save that completed it)."""
    return row.status == "running" or progress.running(row.path) is not None


_points_cache: dict[str, tuple[int, str]] = {}  # path -> (mtime_ns, text), running files


def running_points(row: Acquisition) -> tuple[str, str | None]:
    """``("running 12/50", "12/50 points (24%), ... left")`` for a running acquisition: from
    the loop running in this kernel, else from the loop marks in its file; ``("running",
    None)`` without a loop."""
    live = progress.running(row.path)
    if live is not None:
        return f"running {int(live.done)}/{live.total}", live.text()
    try:
        mtime = os.stat(row.path).st_mtime_ns
    except OSError:
        return "running", None
    cached = _points_cache.get(row.path)
    if cached is None or cached[0] != mtime:
        text = ""
        try:
            loops = quicklook.loop_progress(row.path, timeout=0.2)
        except Exception:  # busy or half-written: the next refresh tries again
            loops = []
        if loops:
            text = f"{sum(loop.done for loop in loops)}/{sum(loop.total for loop in loops)}"
        cached = _points_cache[row.path] = (mtime, text)
    return (f"running {cached[1]}", f"{cached[1]} points") if cached[1] else ("running", None)


class _Row:
    """The widgets of one table row, reused from one refresh to the next."""

    def __init__(self, panel: LabmatePanel) -> None:
        self.panel = panel
        self.acquisition: Acquisition | None = None
        self.cells = {
            name: _cell(width, name, widgets.Button if name == "name" else widgets.HTML)
            for name, width in COLUMNS
            if name != "notes"
        }
        self.select = self.cells["name"]
        self.select.add_class("labmate-name")
        self.notes = _cell(
            COLUMNS[-1][1], "notes", widgets.Text, placeholder="note…", continuous_update=False
        )
        self.notes.add_class("labmate-notes")
        self.notes.observe(self._on_note, names="value")
        self.analyse = _button(
            "analyse", "put %%analysis of this file in the next cell", "labmate-analyse"
        )
        # a browser-side button (the copy needs the user's click); its popup may overflow
        self.path = widgets.HTML(
            layout=_shared("visible", lambda: widgets.Layout(overflow="visible")),
            style=_shared(("style", widgets.HTML), _STYLES[widgets.HTML]),
        )
        self.path.add_class("labmate-path")
        self.retry = _button(  # its own layout: shown only for a failed copy
            "retry", "send this acquisition to the backends again", "labmate-retry", shared=False
        )
        for button, action in (
            (self.analyse, panel.analyse),
            (self.select, panel.select),
            (self.retry, panel.retry_sync),
        ):
            button.on_click(lambda _, action=action: self._act(action))
        for name, cell in self.cells.items():
            cell.add_class(f"labmate-{name}")
        line = widgets.HBox(
            [*self.cells.values(), self.notes, self.analyse, self.path, self.retry],
            layout=_shared(
                "line",
                lambda: widgets.Layout(align_items="center", overflow="visible", width="100%"),
            ),
        )
        line.add_class("labmate-line")
        # a failed run: the last line of its error, under the row (the whole one on hover)
        self.error = widgets.HTML(
            layout=widgets.Layout(display="none"),
            style=_shared(("style", widgets.HTML), _STYLES[widgets.HTML]),
        )
        self.error.add_class("labmate-row-error")
        self.box = widgets.VBox(
            [line, self.error],
            layout=_shared("visible", lambda: widgets.Layout(overflow="visible")),
        )
        self.box.add_class("labmate-row")
        self._binding = False

    def bind(self, row: Acquisition, found: dict[str, Any] | None = None) -> None:
        self.acquisition = row
        self._binding = True
        try:
            cells = self.cells
            started = row.started
            cells["time"].value = (  # the seconds on hover
                f'<span title="{started:%Y-%m-%d %H:%M:%S}">{started:%y-%m-%d %H:%M}</span>'
            )
            self.select.description = row.name
            self.select.tooltip = f"{row.stem}: show its data, figures and code"
            live = is_live(row)
            color = STATUS_COLORS.get("running" if live else row.status, "inherit")
            status, title = running_points(row) if live else (row.status, None)
            cells["status"].value = _badge(status, color, title or row.error)
            error = last_error_line(row.error)
            whole = html.escape(row.error or "", quote=True)
            self.error.value = f'<div title="{whole}">{html.escape(error)}</div>'
            self.error.layout.display = None if error and row.status == "failed" else "none"
            self.set_selected(row.prefix == self.panel.details.prefix)
            cells["duration"].value = format_duration(row.duration)
            cells["size"].value = format_size(row.size)
            cells["sync"].value = _sync_cell(row, found or {}, self.panel.next_tries)
            self.notes.value = row.notes
            self.path.value = copy_button_html(row.path)
            failed = any(s.state == "failed" for s in row.sync.values())
            self.retry.disabled = self.panel.dispatcher is None
            self.retry.layout.visibility = "visible" if failed else "hidden"
        finally:
            self._binding = False

    def set_selected(self, selected: bool) -> None:
        """Highlight the row whose details are shown."""
        if selected:
            self.box.add_class("labmate-selected")
        else:
            self.box.remove_class("labmate-selected")

    def _on_note(self, change: dict) -> None:
        if self._binding or self.acquisition is None:
            return
        try:
            self.panel.save_note(self.acquisition, change["new"])
        except Exception as error:
            self.panel.say(f"could not save the note: {error}", error=True)

    def _act(self, action: Any) -> None:
        if self.acquisition is None:
            return
        try:
            action(self.acquisition)
        except Exception as error:
            logger.debug("panel action failed", exc_info=True)  # shown in the panel
            self.panel.say(f"{type(error).__name__}: {error}", error=True)


class LabmatePanel(widgets.VBox):
    """The recent acquisitions of ``data_directory`` (see the module docstring)."""

    def __init__(
        self,
        data_directory: str | os.PathLike,
        dispatcher: Any = None,
        shell: Any = None,
        *,
        page_size: int = 20,
        manager: Any = None,
        refresh_interval: float = 2.0,
    ) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be an integer >= 1, got {page_size!r}")
        if dispatcher is not None and manager is not None:
            raise ValueError("give a dispatcher or a manager, not both")
        self.index = open_index(data_directory)
        self.data_directory = self.index.data_directory
        self._dispatcher_of: Callable[[], Any] = (
            (lambda: getattr(manager, "dispatcher", None))
            if manager is not None
            else (lambda: dispatcher)
        )
        self._listening: Any = None  # the dispatcher whose status changes this panel receives
        self.shell = shell
        self.page_size = page_size
        self.refresh_interval = refresh_interval
        self.page = 0
        self.total = 0
        self._lock = threading.RLock()
        self._rows: list[_Row] = []
        #: (prefix, backend) -> epoch of the next try of a snapshot waiting to be retried
        self.next_tries: dict[tuple[str, str], float | None] = {}

        self.text_filter = widgets.Text(
            placeholder="name, file or note", description="filter", continuous_update=False
        )
        self.since_filter = widgets.DatePicker(description="since")
        self.status_filter = widgets.Dropdown(
            options=[
                ("all", ""),
                ("running", "running"),
                ("completed", "completed"),
                ("failed", "failed"),
                ("unreadable", "unreadable"),
            ],
            description="status",
            layout=widgets.Layout(width="200px"),
        )
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="re-read the data directory"
        )
        self.refresh_button.add_class("labmate-refresh")
        self.prev_button = widgets.Button(
            description="◀ newer", layout=widgets.Layout(width="80px")
        )
        self.next_button = widgets.Button(
            description="older ▶", layout=widgets.Layout(width="80px")
        )
        self.prev_button.add_class("labmate-prev")
        self.next_button.add_class("labmate-next")
        self.page_label = widgets.HTML()
        self.page_label.add_class("labmate-page")
        self.rows_box = widgets.VBox(layout=widgets.Layout(overflow="visible"))
        self.rows_box.add_class("labmate-rows")
        self.message = widgets.HTML()
        self.message.add_class("labmate-message")
        self.path_text = widgets.Text(
            description="path", layout=widgets.Layout(width="95%", display="none")
        )
        self.path_text.add_class("labmate-path-text")

        for control in (self.text_filter, self.since_filter, self.status_filter):
            control.observe(self._on_filter, names="value")
        self.refresh_button.on_click(lambda _: self.reload())
        self.prev_button.on_click(lambda _: self.go_to(self.page - 1))
        self.next_button.on_click(lambda _: self.go_to(self.page + 1))

        header = widgets.HBox(
            [_cell(width, name, value=f"<b>{name}</b>") for name, width in COLUMNS]
            + [widgets.HTML(layout=widgets.Layout(width="170px", flex="0 0 auto"))],
            layout=widgets.Layout(width="100%"),
        )
        header.add_class("labmate-line")
        header.add_class("labmate-header")
        self.table = widgets.VBox([header, self.rows_box])
        self.table.add_class("labmate-table")
        self.details = Details(read_acquisition_code, self.say)
        super().__init__(
            [
                widgets.HBox(
                    [self.text_filter, self.since_filter, self.status_filter, self.refresh_button]
                ),
                widgets.HBox([self.prev_button, self.page_label, self.next_button]),
                self.table,
                self.message,
                self.path_text,
                self.details,
                widgets.HTML(CSS),
            ]
        )
        self.add_class("labmate-panel")
        self._unsubscribe = subscribe(self._on_event)
        self._follow_dispatcher()
        try:  # the notes of the first versions, kept only in .labmate/notes.jsonl
            self._send_to_backends(migrate_notes(self.data_directory))
        except OSError as error:
            logger.warning("could not move the notes into their acquisitions: %s", error)
        self.refresh()  # what the index knows, at once; then the files (other kernels' work)
        self.reindexed = threading.Event()
        runtime.start_thread(self._reindex, "labmate-panel-reindex")
        self._had_live = False
        self._stop = threading.Event()
        self._ticker = runtime.start_thread(self._tick, "labmate-panel-tick")

    def _reindex(self) -> None:
        """Bring the index in line with the files (other kernels' and hand-made changes: about
        10 ms per 1,000 unchanged files), then show the changes."""
        try:
            report = self.index.reindex()
            if report.added or report.updated or report.removed:
                self.refresh()
        except Exception as error:
            logger.warning("could not re-read %s: %s", self.data_directory, error)
        finally:
            self.reindexed.set()

    def wait_reindexed(self, timeout: float | None = 60.0) -> bool:
        """Wait for the re-reading of the files started with the panel (True when done)."""
        return self.reindexed.wait(timeout)

    def _tick(self) -> None:
        """While running acquisitions are shown: refresh their rows (points so far) and the
        details of the selected one every ``refresh_interval`` seconds."""
        while not self._stop.wait(self.refresh_interval):
            try:
                live = any(is_live(row) for row in self.rows)
                if not (live or self._had_live):
                    continue
                self._had_live = live  # one more refresh once the last one ended
                self.refresh()
                for row in self.rows:
                    if is_live(row) and row.prefix == self.details.prefix:
                        self.details.refresh(row)
            except Exception:  # a closed panel or a busy file: try at the next tick
                logger.debug("panel refresh failed", exc_info=True)

    # --- data -------------------------------------------------------------------------------

    def _filters(self) -> dict[str, Any]:
        return {
            "text": self.text_filter.value.strip() or None,
            "since": self.since_filter.value,
            "status": self.status_filter.value or None,
        }

    @property
    def dispatcher(self) -> Any:
        """The backend dispatcher (a manager's is looked up each time: it appears with the
        first backend); None when there is none."""
        return self._dispatcher_of()

    def _follow_dispatcher(self) -> Any:
        """Listen to the current dispatcher (a new one is caught up with); return it."""
        with self._lock:
            dispatcher = self.dispatcher
            if dispatcher is self._listening:
                return dispatcher
            old, self._listening = self._listening, dispatcher
            if old is not None:
                self._stop_listening(old)
            if dispatcher is not None:
                dispatcher.add_listener(self._on_backend_status)
                self._catch_up(dispatcher)
            return dispatcher

    def _stop_listening(self, dispatcher: Any) -> None:
        try:
            dispatcher.remove_listener(self._on_backend_status)
        except Exception:
            logger.debug("could not remove the dispatcher listener", exc_info=True)

    def refresh(self) -> None:
        """Show the current page again from the index (cheap; called by the hooks)."""
        with self._lock:
            self._follow_dispatcher()
            filters = self._filters()
            self.total = self.index.count(**filters)
            last_page = max((self.total - 1) // self.page_size, 0)
            self.page = min(max(self.page, 0), last_page)
            rows = self.index.list(
                limit=self.page_size, offset=self.page * self.page_size, **filters
            )
            while len(self._rows) < len(rows):
                self._rows.append(_Row(self))
            found = self._delivery_states(rows)
            for widget_row, row in zip(self._rows, rows, strict=False):
                widget_row.bind(row, found.get(row.prefix))
            for widget_row in self._rows[len(rows) :]:
                widget_row.acquisition = None
            self.rows_box.children = tuple(r.box for r in self._rows[: len(rows)])
            shown = {row.prefix: row for row in rows}
            selected = self.details.prefix
            if selected is not None and selected not in shown:
                self.details.clear()  # filtered out or gone: no details of a hidden row
            first = self.page * self.page_size
            self.page_label.value = (
                f"{first + 1}–{first + len(rows)} of {self.total}" if rows else "no acquisitions"
            )
            self.prev_button.disabled = self.page == 0
            self.next_button.disabled = self.page >= last_page

    def _delivery_states(self, rows: list[Acquisition]) -> dict[str, dict[str, Any]]:
        """prefix -> backend -> the data directory's state (stale, never delivered, ...) of
        the rows shown (``labmate status`` for these acquisitions only)."""
        if not rows:
            return {}
        from labmate_core.backends.survey import survey

        try:
            result = survey(self.data_directory, prefixes=[row.prefix for row in rows])
        except Exception:  # the panel shows what the index says
            logger.debug("could not survey the deliveries", exc_info=True)
            return {}
        root = os.fspath(self.data_directory)
        return {os.path.join(root, a.prefix): a.backends for a in result.acquisitions}

    def reload(self) -> None:
        """Re-read the data directory (other kernels' and hand-made changes), then refresh."""
        report = self.index.reindex()
        self.refresh()
        self.say(
            f"{report.added} new, {report.updated} changed, {report.removed} removed"
            if (report.added or report.updated or report.removed)
            else "up to date"
        )

    def go_to(self, page: int) -> None:
        """Show page ``page`` (0 = newest), clamped to the existing pages."""
        self.page = page
        self.refresh()

    @property
    def rows(self) -> list[Acquisition]:
        """The acquisitions shown, in order."""
        return [r.acquisition for r in self._rows[: len(self.rows_box.children)] if r.acquisition]

    def row_widgets(self, index: int) -> _Row:
        """The widgets of the ``index``-th row shown (for tests and scripting)."""
        if not 0 <= index < len(self.rows_box.children):
            raise IndexError(f"row {index} is not shown (there are {len(self.rows_box.children)})")
        return self._rows[index]

    def _on_filter(self, _: dict) -> None:
        self.page = 0
        self.refresh()

    def _on_event(self, event: IndexEvent) -> None:
        if event.data_directory == str(self.data_directory):
            self.refresh()

    def _on_backend_status(self, status: Any) -> None:
        self.next_tries[(str(status.prefix), str(status.backend))] = getattr(
            status, "next_try", None
        )
        # records the state even when the dispatcher is not wired to the index (idempotent),
        # which notifies the listeners, this panel included
        on_backend_status(status, data_directory=self.data_directory)

    def _catch_up(self, dispatcher: Any) -> None:
        try:
            for per_backend in dispatcher.status().values():
                for status in per_backend.values():
                    self.index.set_sync(
                        status.prefix,
                        str(status.backend),
                        str(status.state),
                        attempts=status.attempts,
                        last_error=status.last_error,
                        when=status.time or None,
                    )
        except Exception as error:
            logger.warning(
                "could not read the dispatcher's status: %s: %s", type(error).__name__, error
            )
            logger.debug("dispatcher status", exc_info=True)

    # --- actions ----------------------------------------------------------------------------

    def say(self, text: str, error: bool = False) -> None:
        """Show a one-line message under the table."""
        color = "#c62828" if error else "inherit"
        self.message.value = f'<span style="color:{color}">{html.escape(text)}</span>'

    def _shell(self) -> Any:
        if self.shell is not None:
            return self.shell
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython is a dependency
            return None
        return get_ipython()

    def analyse(self, row: Acquisition) -> None:
        """Put ``%%analysis <file>`` in the next input cell."""
        shell = self._shell()
        if shell is None:
            raise RuntimeError("no IPython shell to put the analysis cell in")
        shell.set_next_input(f"%%analysis {shlex.quote(row.prefix)}\n", replace=False)
        self.say(
            f"%%analysis of {row.stem} goes into the next input "
            "(in JupyterLab: below the next cell you run)"
        )

    @property
    def code_text(self) -> widgets.Textarea:
        """The code box of the details."""
        return self.details.code

    def select(self, row: Acquisition) -> None:
        """Show the details of ``row`` (read and plotted in the background)."""
        self.details.show(row)
        for widget_row in self._rows[: len(self.rows_box.children)]:
            acquisition = widget_row.acquisition
            widget_row.set_selected(acquisition is not None and acquisition.prefix == row.prefix)

    def show_code(self, row: Acquisition) -> None:
        """Select ``row`` and wait for its details (the acquisition cell among them)."""
        self.select(row)
        self.details.wait()
        self.say(f"acquisition cell of {row.stem}")

    def show_path(self, row: Acquisition) -> None:
        """Show the path of ``row`` in the panel's text field (for scripts and frontends that
        do not run the *path* button's JavaScript)."""
        self.path_text.value = row.path
        self.path_text.layout.display = None

    def _send_to_backends(self, prefixes: list[Any]) -> None:
        """Hand acquisitions whose note changed to the backends (none: ``labmate status``
        shows them stale until a kernel with backends or ``labmate sync`` delivers them)."""
        dispatcher = self.dispatcher
        if dispatcher is None or not getattr(dispatcher, "backends", None):
            return
        for prefix in prefixes:
            try:
                dispatcher.submit(prefix)
            except Exception as error:
                logger.warning("could not send %s to the backends: %s", prefix, error)

    def retry_sync(self, row: Acquisition) -> None:
        """Send ``row`` to the backends again (``dispatcher.submit``)."""
        dispatcher = self._follow_dispatcher()
        if dispatcher is None:
            raise RuntimeError("no backend dispatcher is connected to this panel")
        dispatcher.submit(row.prefix, row.name)
        self.say(f"{row.stem} sent to the backends again")

    def save_note(self, row: Acquisition, text: str) -> None:
        """Save the note of ``row`` in its acquisition (``<prefix>_NOTES.txt``, sent to the
        backends) and in the index (in the background; a failure is shown here)."""
        if write_note(row.prefix, text):
            self._send_to_backends([row.prefix])
        set_note(
            self.data_directory,
            row.prefix,
            text,
            on_error=lambda error: self.say(
                f"could not save the note of {row.stem}: {type(error).__name__}: {error}",
                error=True,
            ),
        )

    def close(self) -> None:
        """Stop listening, then close the widgets."""
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
        unsubscribe = getattr(self, "_unsubscribe", None)
        if unsubscribe is not None:  # None: the constructor refused its arguments
            unsubscribe()
        listening, self._listening = getattr(self, "_listening", None), None
        if listening is not None:
            self._stop_listening(listening)
        details = getattr(self, "details", None)
        if details is not None:
            details.close()
        super().close()


def show_panel(
    data_directory: str | os.PathLike,
    dispatcher: Any = None,
    shell: Any = None,
    **kwargs: Any,
) -> LabmatePanel:
    """Display the recent-acquisitions panel of ``data_directory`` and return it."""
    from IPython.display import display

    panel = LabmatePanel(data_directory, dispatcher=dispatcher, shell=shell, **kwargs)
    display(panel)
    return panel
