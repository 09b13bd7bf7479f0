"""Key paths: ``'a/b'``, ``('a', 'b')`` and ``'a', 'b'`` all name the same entry."""

from __future__ import annotations

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
