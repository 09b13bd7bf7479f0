"""ipywidgets rows showing config parameters, with buttons that write values back to disk."""

from __future__ import annotations

import ast
import html
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from . import frontend

logger = logging.getLogger("labmate_core.display")

PARAMS_CSS = """
<style>
.cell-output-ipywidget-background:has(.labmate-params) { background: transparent !important; }
.labmate-params, .labmate-params * { color: inherit !important; }
.labmate-params a { text-decoration: underline; color: blue; }
</style>
"""


class CfgRow(NamedTuple):
    """A parameter, its value, and where it is defined (`file`, 1-based `line_no`)."""

    param: str
    value: Any
    file: str | os.PathLike
    line_no: int


def create_button(func: Callable[..., Any], *args: Any, name: str | None = None, **kwargs: Any):
    """An ipywidgets Button calling ``func(*args, **kwargs)`` on click (errors are logged).

    The label defaults to the function name with spaces. Raises ImportError without ipywidgets.
    """
    import ipywidgets as widgets

    if not callable(func):
        raise TypeError(f"func must be callable, got {func!r}")
    button = widgets.Button(description=name or func.__name__.replace("_", " "))
    button.style.button_color = "transparent"

    def on_click(_: Any) -> None:
        try:
            func(*args, **kwargs)
        except Exception:
            logger.exception("Button %r failed", button.description)

    button.on_click(on_click)
    return button


def create_link_row(link_text: str, link_url: str, text: str, buttons: Sequence[Any] = ()):
    """An HBox: a link to `link_url`, `text`, then `buttons`."""
    import ipywidgets as widgets

    link = widgets.HTML(
        value=f'<a href="{html.escape(link_url, quote=True)}" target="_blank" '
        f'onclick="return false;">{html.escape(link_text)}</a>'
    )
    label = widgets.HTML(value=f'<span style="padding: 0 10px;">{html.escape(text)}</span>')
    row = widgets.HBox([widgets.HTML(PARAMS_CSS), link, label, *buttons])
    row.add_class("labmate-params")
    return row


def parse_edited_value(text: str) -> Any:
    """Value typed in an edit box: a Python literal when it is one (``1e9``, ``[1, 2]``), else text."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _editable_row(row: CfgRow, on_update: Callable[[str, Any], Any] | None):
    import ipywidgets as widgets

    link = widgets.HTML(
        value=f'<a href="{html.escape(f"{os.fspath(row.file)}:{row.line_no}", quote=True)}" '
        f'target="_blank">{html.escape(row.param)} = </a>'
    )
    box = widgets.Text(value=repr(row.value) if isinstance(row.value, str) else str(row.value))
    children = [widgets.HTML(PARAMS_CSS), link, box]
    if on_update is not None:
        children.append(
            create_button(
                lambda: on_update(row.param, parse_edited_value(box.value)), name="Update"
            )
        )
    hbox = widgets.HBox(children)
    hbox.add_class("labmate-params")
    return hbox


def cfg_rows_text(rows: Iterable[CfgRow]) -> str:
    """Plain text of the rows: ``param = value  (file:line)``."""
    return "\n".join(
        f"{r.param} = {r.value}  ({os.fspath(r.file)}:{r.line_no})" for r in map(CfgRow._make, rows)
    )


def display_cfg_links(
    rows: Iterable[CfgRow],
    on_update: Callable[[str, Any], Any] | None = None,
    editable: bool = False,
) -> bool:
    """Show one row per parameter: link to its line, its value, and an "Update" button
    calling ``on_update(param, value)`` (e.g. to write the value to the config file).

    `editable=True` shows the value in an edit box and the button sends the edited value.
    Without a frontend the rows are logged as text. Returns True when widgets were shown.
    """
    rows = [CfgRow._make(row) for row in rows]
    text = cfg_rows_text(rows)
    if not frontend.has_frontend():
        return frontend.show(None, text)
    try:
        if editable:
            widgets_list = [_editable_row(row, on_update) for row in rows]
        else:
            widgets_list = [
                create_link_row(
                    f"{row.param} = ",
                    f"{os.fspath(row.file)}:{row.line_no}",
                    str(row.value),
                    [create_button(on_update, row.param, row.value, name="Update")]
                    if on_update is not None
                    else (),
                )
                for row in rows
            ]
    except Exception as error:
        logger.debug("Cannot build the config widgets: %s", error)
        return frontend.show(None, text)
    return frontend.display_widgets_vertically(widgets_list, class_="labmate-params", text=text)
