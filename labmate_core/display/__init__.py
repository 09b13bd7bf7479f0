"""Notebook display helpers (HTML, links, ipywidgets) that degrade to logging without a frontend.

Plain-text fallbacks go to the ``labmate_core.display`` logger.
"""

from .frontend import (
    display_html,
    display_warning,
    display_widgets,
    display_widgets_vertically,
    has_frontend,
    html_to_text,
    logger,
    show,
)
from .links import ParamLink, create_link, display_param_links, param_links_html, param_links_text
from .widgets import (
    CfgRow,
    cfg_rows_text,
    create_button,
    create_link_row,
    display_cfg_links,
    parse_edited_value,
)

__all__ = [
    "CfgRow",
    "ParamLink",
    "cfg_rows_text",
    "create_button",
    "create_link",
    "create_link_row",
    "display_cfg_links",
    "display_html",
    "display_param_links",
    "display_warning",
    "display_widgets",
    "display_widgets_vertically",
    "has_frontend",
    "html_to_text",
    "logger",
    "param_links_html",
    "param_links_text",
    "parse_edited_value",
    "show",
]
