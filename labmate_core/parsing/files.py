"""Reading config files and writing new parameter values back to them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..textfiles import write_text_atomically
from .config_text import update_values_in_text


def read_file(path: str | os.PathLike, /) -> str:
    """Text of the file at `path` (UTF-8). Raises ValueError when it is not a file."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(
            f"Cannot read a file if it doesn't exist or it's not a file. Path: {file.absolute()}"
        )
    return file.read_text(encoding="utf-8")


def read_files(paths: Iterable[str | os.PathLike], /) -> dict[str, str]:
    """``{basename: text}`` of the files. Raises ValueError when two files share a basename."""
    configs: dict[str, str] = {}
    for path in paths:
        name = Path(path).name
        if name in configs:
            raise ValueError(
                f"Two config files are named {name!r}: basenames must be unique "
                "because configs are stored by basename"
            )
        configs[name] = read_file(path)
    return configs


def update_file_variables(path: str | os.PathLike, params: Mapping[str, Any]) -> set[str]:
    """Write new values of top-level variables into the Python file at `path`.

    Comments are kept; the file is replaced atomically and only when something changed.
    Returns the names found (and updated) in this file.
    """
    file = Path(path)
    read_file(file)  # clear error when missing
    with open(file, encoding="utf-8", newline="") as handle:  # keep \r\n endings
        text = handle.read()
    new_text, updated = update_values_in_text(text, params)
    if new_text != text:
        write_text_atomically(file, new_text, newline="", keep_mode=True)
    return updated
