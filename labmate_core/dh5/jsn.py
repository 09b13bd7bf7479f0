"""``jsn``: dh5 0.8.1's JSON helpers — ``write`` (keys sorted, any object as text or list) and
``read`` (strings that spell a number come back as numbers).

>>> from labmate_core.dh5 import jsn
>>> jsn.write("settings", {"a": 1})       # doctest: +SKIP  (writes settings.json)
>>> jsn.read("settings")                  # doctest: +SKIP
{'a': 1}
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..textfiles import write_text_atomically
from .path import Path, get_file_path

__all__ = ["NumbersDecoder", "StringEncoder", "read", "write"]


class StringEncoder(json.JSONEncoder):
    """Encodes what ``json`` refuses: iterables as lists, anything else as ``str(obj)``."""

    def default(self, o: Any) -> Any:
        if hasattr(o, "__iter__"):
            return [self.default(item) for item in o]
        return str(o)


def _number(text: str) -> Any:
    digits = text[1:] if text.startswith("-") else text
    if digits.isdecimal():
        return int(text)
    if digits.count(".") == 1 and digits.replace(".", "").isdecimal():
        return float(text)
    return text


class NumbersDecoder(json.JSONDecoder):
    """Decodes JSON, then turns strings that spell an int or a float (``"-1.5"``) into numbers."""

    def decode(self, s: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._numbers(super().decode(s, *args, **kwargs))

    def _numbers(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return _number(obj)
        if isinstance(obj, dict):
            return {key: self._numbers(value) for key, value in obj.items()}
        if isinstance(obj, list):
            return [self._numbers(value) for value in obj]
        return obj


def write(
    file: str | os.PathLike,
    data: Any,
    path: str | os.PathLike | None = None,
    encoder: type[json.JSONEncoder] = StringEncoder,
) -> Path:
    """Write ``data`` to ``<path>/<file>.json`` (keys sorted, indented), atomically: a reader
    sees the old file or the new one, never half of it. Returns the path written."""
    target = get_file_path(file, path=path, extension=".json")
    text = json.dumps(data, sort_keys=True, indent=4, cls=encoder)
    if os.fspath(target.dirname):
        os.makedirs(target.dirname, exist_ok=True)
    write_text_atomically(target, text)
    return target


def read(
    file: str | os.PathLike,
    path: str | os.PathLike | None = None,
    decoder: type[json.JSONDecoder] = NumbersDecoder,
) -> Any:
    """Read ``<path>/<file>.json``; pass ``decoder=json.JSONDecoder`` to keep number-like
    strings as strings."""
    target = get_file_path(file, path=path, extension=".json")
    with open(target, encoding="utf-8") as handle:
        return json.load(handle, cls=decoder)
