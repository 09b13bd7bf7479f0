"""Show things in the notebook when there is a frontend, else log them as plain text.

Nothing here raises because of a missing or broken frontend: the worst case is a log line.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger("labmate_core.display")

_TAG_RE = re.compile(r"<[^>]+>")
_BREAK_RE = re.compile(r"<br\s*/?>|</div>|</p>", re.IGNORECASE)
_STYLE_RE = re.compile(r"<style.*?</style>", re.IGNORECASE | re.DOTALL)


def has_frontend() -> bool:
    """True inside a Jupyter kernel (where rich output and widgets can be shown)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def html_to_text(markup: str) -> str:
    """Plain text of a small HTML snippet (tags dropped, ``<br/>`` -> new line)."""
    text = _BREAK_RE.sub("\n", _STYLE_RE.sub("", markup))
    lines = (html.unescape(_TAG_RE.sub("", line)).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _ipython_display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def show(obj: Any, text: str, level: int = logging.INFO) -> bool:
    """Display `obj` in the frontend, or log `text` at `level` when there is none.

    Returns True when `obj` was handed to the frontend.
    """
    if has_frontend():
        try:
            _ipython_display(obj)
            return True
        except Exception as error:  # never let a display problem break the user's cell
            logger.debug("Cannot display %r: %s", obj, error)
    if text:
        logger.log(level, "%s", text)
    return False


def display_html(markup: str, text: str | None = None, level: int = logging.INFO) -> bool:
    """Show HTML `markup`; without a frontend log `text` (default: the markup as plain text)."""
    if not isinstance(markup, str):
        raise TypeError(f"markup must be a str of HTML, got {type(markup)!r}")
    plain = html_to_text(markup) if text is None else text
    if not has_frontend():
        return show(None, plain, level)
    try:
        from IPython.display import HTML
    except ImportError:  # pragma: no cover - IPython is a dependency
        return show(None, plain, level)
    return show(HTML(markup), plain, level)


def display_warning(text: str) -> bool:
    """An orange warning banner (e.g. "Old data analysis"); a logged warning without frontend."""
    markup = (
        '<div style="background-color:#ec7413; padding: .5em; text-align:center">'
        f"{html.escape(text)}</div>"
    )
    return display_html(markup, text=text, level=logging.WARNING)


def display_widgets(objs: Sequence[Any], text: str = "") -> bool:
    """Show widgets side by side (an ``HBox``); without a frontend log `text`."""
    return _display_box(objs, text, vertical=False)


def display_widgets_vertically(objs: Sequence[Any], class_: str = "", text: str = "") -> bool:
    """Show widgets one under another (a ``VBox`` with CSS class `class_`)."""
    return _display_box(objs, text, vertical=True, class_=class_)


def _display_box(objs: Sequence[Any], text: str, vertical: bool, class_: str = "") -> bool:
    if not has_frontend():
        return show(None, text)
    try:
        import ipywidgets as widgets

        box = (widgets.VBox if vertical else widgets.HBox)(list(objs))
        if class_:
            box.add_class(class_)
    except Exception as error:
        logger.debug("Cannot build a widget box: %s", error)
        return show(None, text)
    return show(box, text)
