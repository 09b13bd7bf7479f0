"""Readable one-line summaries of values, for ``repr(DH5)``."""

from __future__ import annotations

from typing import Any

import numpy as np

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
        text = f"{value:.3f}" if 0.1 <= abs(value) <= 100.0 else f"{value:.3e}"
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
