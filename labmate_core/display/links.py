"""HTML links to lines of config files."""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from typing import NamedTuple

from .frontend import display_html


class ParamLink(NamedTuple):
    """A parameter found at `line_no` (1-based) of `file`, with optional text after the link."""

    text: str
    file: str | os.PathLike
    line_no: int
    after_text: str | None = None


def create_link(
    link_text: str, file: str | os.PathLike, line_no: int, after_text: str | None = None
) -> str:
    """HTML ``<a>`` to `file` at `line_no`, followed by `after_text` (HTML, not escaped)."""
    if not isinstance(line_no, int) or line_no < 1:
        raise ValueError(f"line_no must be a positive int, got {line_no!r}")
    href = html.escape(f"{os.fspath(file)}:{line_no}", quote=True)
    return (
        f"<a href='{href}' target='_blank' style='margin: 0!; padding:0!;'>"
        f"{html.escape(link_text)}</a> {after_text or ''}"
    )


def param_links_html(links: Iterable[ParamLink], title: str | None = None) -> str:
    """HTML of a title and one link per line."""
    parts = [title + "<br/>"] if title else []
    parts += [create_link(*ParamLink(*link)) + "<br/>" for link in links]
    return "".join(parts)


def param_links_text(links: Iterable[ParamLink], title: str | None = None) -> str:
    """Plain-text version of `param_links_html`."""
    lines = [title] if title else []
    for link in links:
        link = ParamLink(*link)
        after = f" {link.after_text}" if link.after_text else ""
        lines.append(f"{link.text}: {os.fspath(link.file)}:{link.line_no}{after}")
    return "\n".join(lines)


def display_param_links(links: Iterable[ParamLink], title: str | None = None) -> bool:
    """Show links to parameters in their config files (logged as text without frontend)."""
    links = [ParamLink(*link) for link in links]
    return display_html(param_links_html(links, title), text=param_links_text(links, title))
