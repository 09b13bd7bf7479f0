"""Widgets shown after ``save_fig`` (``connect_default_widget``)."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ..display import display_widgets as _display_widgets

logger = logging.getLogger(__name__)

__all__ = ["WidgetProtocol", "display_widgets"]


class WidgetProtocol(Protocol):
    """An object whose ``create(aqm=..., fig=...)`` returns an ipywidgets widget."""

    def create(self, **kwargs: Any) -> Any:
        """Build the widget."""


def display_widgets(objs: list[WidgetProtocol], **kwargs: Any) -> bool:
    """Create each widget with ``kwargs`` and show them in a row; never raises."""
    widgets = []
    for obj in objs:
        try:
            widgets.append(obj.create(**kwargs))
        except Exception:
            logger.exception("Cannot create the widget %r", obj)
    return _display_widgets(widgets) if widgets else False
