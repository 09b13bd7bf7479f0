"""Saving figures beside an acquisition: ``<prefix>_FIG1.pdf``, ``_FIG123.pdf``, ``_FIG_name.pdf``."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from typing import Any, Protocol, TypedDict

from ..dh5.errors import SaveFailedError
from .naming import validate_suffix_name

__all__ = ["FigureProtocol", "PdfMetadataDict", "figure_suffix", "save_figure"]


class FigureProtocol(Protocol):
    """What ``save_fig`` needs from a figure (a matplotlib ``Figure`` fits)."""

    def savefig(self, fname: Any, **kwds: Any) -> Any:
        """Save the figure to a file."""


class PdfMetadataDict(TypedDict, total=False):
    """Metadata written into a pdf figure (dict values are stored as JSON)."""

    Subject: str | dict
    Keywords: str | dict


def figure_suffix(name: str | int | None, index: int, extension: str | None = None) -> str:
    """The part after ``<prefix>_``: ``FIG<index>.pdf``, ``FIG<n>.pdf`` or ``FIG_<name>.pdf``."""
    extension = (extension or "pdf").lstrip(".")
    if name is None:
        return f"FIG{index}.{extension}"
    text = str(name)
    validate_suffix_name(text, "figure name")
    if not text.isnumeric() and not text.startswith("_"):
        text = "_" + text
    if os.path.splitext(text)[1] == "":
        text = f"{text}.{extension}"
    return "FIG" + text


def save_figure(
    fig: FigureProtocol,
    path: str,
    *,
    tight_layout: bool = True,
    metadata: PdfMetadataDict | dict | None = None,
    **kwargs: Any,
) -> None:
    """``fig.savefig(path)`` after ``tight_layout``; ``metadata`` goes into the pdf's info.

    Written aside and renamed in: on a full disk (or any I/O error) no truncated file is left
    and a figure of that name saved before stays whole (``SaveFailedError`` names the file).
    A small PNG preview is saved beside it (hidden ``.<file name>.png``, for the panel).
    """
    if tight_layout and hasattr(fig, "tight_layout"):
        fig.tight_layout()  # type: ignore[attr-defined]
    if metadata is not None and not path.endswith(".pdf"):
        raise ValueError("Metadata can be added only to pdf files.")
    folder, name = os.path.split(path)
    aside = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp{os.path.splitext(name)[1]}")
    try:
        _write_figure(fig, aside, metadata, **kwargs)
        os.replace(aside, path)
    except OSError as error:
        _remove(aside)
        raise SaveFailedError(error, path) from error
    except BaseException:
        _remove(aside)
        raise
    from labmate_core.display.quicklook import save_preview

    save_preview(fig, path)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _write_figure(
    fig: FigureProtocol, path: str, metadata: PdfMetadataDict | dict | None, **kwargs: Any
) -> None:
    if metadata is None:
        fig.savefig(path, **kwargs)
        return
    info = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in dict(metadata).items()
    }
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path) as pdf:
        fig.savefig(pdf, format="pdf", **kwargs)
        pdf.infodict().update(info)
