"""Names: key paths (``'a/b'``, ``('a', 'b')`` and ``'a', 'b'`` all name the same entry) and
the ``.h5`` path of a ``filepath`` argument."""

from __future__ import annotations

import os
from typing import Any

from .codec import check_key


def split_key(key: Any) -> tuple[str, ...]:
    """Return the path components of ``key`` (a str, possibly with '/', or a tuple of them)."""
    if isinstance(key, tuple):
        if not key:
            raise ValueError("An empty tuple is not a key")
        parts: list[str] = []
        for item in key:
            parts.extend(split_key(item))
        return tuple(parts)
    if not isinstance(key, str):
        raise TypeError(f"Keys must be str, not {type(key).__name__} ({key!r})")
    if key == "":
        raise ValueError("The empty string is not a key")
    return tuple(check_key(part) for part in key.split("/"))


def join_key(*parts: str) -> str:
    """Join path components, skipping empty prefixes."""
    return "/".join(part for part in parts if part)


def h5_path(filepath: str | os.PathLike) -> str:
    """The ``.h5`` file named by a ``filepath`` argument (``.h5`` added if missing)."""
    path = os.fspath(filepath)
    if not isinstance(path, str):
        raise TypeError(f"filepath must be str or Path, not {type(filepath).__name__}")
    if not path:
        raise ValueError("filepath must not be empty")
    name = os.path.basename(path)
    if name in ("", ".", ".."):
        raise ValueError(
            f"filepath {path!r} names a directory, not a file: add a file name, "
            f"e.g. {os.path.join(path, 'data.h5')!r}"
        )
    if name == ".h5":
        raise ValueError(f"filepath {path!r} has an empty file name")
    return path if path.endswith(".h5") else path + ".h5"
