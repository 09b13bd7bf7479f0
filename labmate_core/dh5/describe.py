"""Readable one-line summaries of values, for ``repr(DH5)``."""

from __future__ import annotations

import logging
from typing import Any

import h5py
import numpy as np

from . import storage
from .codec import read_dataset

logger = logging.getLogger(__name__)

MAX_ENTRIES = 40
MAX_DEPTH = 3


def summarize(value: Any) -> str:
    """Short description of a stored value."""
    if isinstance(value, np.ndarray):
        return f"array {value.dtype} {value.shape}"
    if isinstance(value, (bool, np.bool_)):
        return f"{bool(value)}"
    if isinstance(value, (int, np.integer)):
        return f"{int(value)} ({type(value).__name__})"
    if isinstance(value, (float, np.floating, complex, np.complexfloating)):
        magnitude = float(np.abs(value))
        text = f"{value:.3f}" if 0.1 <= magnitude <= 100.0 else f"{value:.3e}"
        return f"{text} ({type(value).__name__})"
    if isinstance(value, str):
        first = value.splitlines()[0] if value else ""
        shown = first[:40] + ("…" if len(value) > len(first[:40]) else "")
        return repr(shown)
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of {len(value)}"
    return type(value).__name__


def tree_lines(entries: list[tuple[str, Any, bool]], indent: str = "  ") -> list[str]:
    """Lines for ``(name, value_or_children, locked)``; children given as nested lists."""
    lines: list[str] = []
    for index, (name, value, locked) in enumerate(entries):
        if index == MAX_ENTRIES:
            lines.append(f"{indent}… {len(entries) - MAX_ENTRIES} more")
            break
        mark = " (r)" if locked else ""
        if isinstance(value, list):
            lines.append(f"{indent}{name}/{mark}")
            lines.extend(tree_lines(value, indent + "  "))
        else:
            lines.append(f"{indent}{name}{mark}: {value}")
    return lines


def stored_summary(obj: h5py.Dataset | h5py.Group, depth: int) -> Any:
    """The summary of a value still on disk, as :func:`summarize` gives once it is loaded.

    Arrays are described from the file's metadata (shape, dtype: nothing is read); scalars are
    read (they are small); a group gives its entries (``"…"`` below ``depth``).
    """
    if isinstance(obj, h5py.Group):
        if not depth:
            return "…"
        return [(name, stored_summary(obj[name], depth - 1), False) for name in sorted(obj)]
    if obj.shape == ():
        return summarize(read_dataset(obj))
    dtype = "str" if h5py.check_string_dtype(obj.dtype) is not None else obj.dtype
    return f"array {dtype} {obj.shape}"


def unloaded_summaries(node: Any, depth: int) -> dict[str, Any]:
    """Summaries of the keys of ``node`` (a DH5) not loaded yet, read in one short open.

    Empty when the file cannot be read now (busy writer, removed): the repr then says
    ``<not loaded>`` rather than wait or fail.
    """
    names = sorted(node._unloaded_names())
    path = node.h5_path
    if not names or path is None:
        return {}
    try:
        with storage.open_read(path, timeout=0.5) as file:
            group = node._group_of(file)
            return {name: stored_summary(group[name], depth) for name in names if name in group}
    except Exception:  # a repr must not fail
        logger.debug("cannot describe the unloaded keys of %s", path, exc_info=True)
        return {}
