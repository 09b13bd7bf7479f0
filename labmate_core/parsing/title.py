r"""Titles made of config / data values: ``"freq = 1.5e9 (Hz); n = 101"``.

A key may carry units and a format: ``"key,unit,fmt"``; ``;`` separates too and ``\,`` / ``\;``
escape a separator. With two fields the second is a format when it starts with a digit, ``.``
or ``_`` (``"x,2f"``), units otherwise (``"x,km/s"``). A format ending in ``p`` is an
exponent format written compactly: ``format 1.5e9 with ".2p"`` gives ``1.5e9``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

logger = logging.getLogger(__name__)

_SEPARATORS = ",;"


class KeyFormat(NamedTuple):
    """A title key split into its name, units and format spec."""

    key: str
    units: str | None = None
    format: str | None = None


def _split_fields(text: str) -> list[str]:
    fields, current, i = [], [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _SEPARATORS + "\\":
            current.append(text[i + 1])
            i += 2
            continue
        if char in _SEPARATORS:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    fields.append("".join(current))
    return fields


def parse_key_format(key: str) -> KeyFormat:
    r"""Split ``"key,unit,fmt"`` into ``KeyFormat(key, units, format)`` (empty fields are None).

    >>> parse_key_format("speed;km/s;.2f")
    KeyFormat(key='speed', units='km/s', format='.2f')
    >>> parse_key_format("speed,2f")
    KeyFormat(key='speed', units=None, format='2f')
    """
    if not isinstance(key, str):
        raise TypeError(f"A title key must be a str like 'key,unit,fmt', got {key!r}")
    fields = _split_fields(key)
    if len(fields) > 3:
        raise ValueError(
            f"Too many fields in {key!r}: expected 'key', 'key,unit', 'key,fmt' or "
            "'key,unit,fmt' (escape a literal ',' or ';' with a backslash)"
        )
    name = fields[0].strip()
    if not name:
        raise ValueError(f"Empty key name in {key!r}")
    if len(fields) == 1:
        return KeyFormat(name)
    if len(fields) == 2:
        second = fields[1]
        if second[:1].isdigit() or second[:1] in (".", "_"):
            return KeyFormat(name, None, second)
        return KeyFormat(name, second or None)
    return KeyFormat(name, fields[1] or None, fields[2] or None)


def parse_get_format(key: str) -> tuple[str, str | None, str | None]:
    """labmate's name for `parse_key_format`."""
    return tuple(parse_key_format(key))  # type: ignore[return-value]


def _compact_exponent(value: Any, format_spec: str) -> str:
    text = format(value, format_spec[:-1] + "e")
    if "e" not in text:  # inf, nan
        return text
    number, power = text.split("e")
    if "." in number:
        number = number.rstrip("0_").rstrip(".")
    sign = "-" if power.startswith("-") else ""
    digits = power.lstrip("+-").lstrip("0")
    return f"{number}e{sign}{digits}" if digits else number


class ValueForPrint(NamedTuple):
    """A value to print in a title with its key, units and format."""

    key: str
    value: Any
    units: str | None = None
    format: str | None = None

    def format_value(self, format_spec: str | None = None) -> str:
        """The value as text, with `format_spec` (default: own format; ``p`` = compact exponent)."""
        format_spec = format_spec or self.format
        if not format_spec:
            return str(self.value)
        try:
            if format_spec.endswith("p"):
                return _compact_exponent(self.value, format_spec)
            return format(self.value, format_spec)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"Cannot format {self.key} = {self.value!r} with format {format_spec!r}: {error}"
            ) from error


def format_values(values: Iterable[ValueForPrint], max_length: int | None = None) -> str:
    """Join ``key = value (units)`` items with ``"; "``, starting a new line before an item
    that would make the line reach `max_length` (labmate's ``format_title``)."""
    text = ""
    line_length = 0
    for item in values:
        units = f" ({item.units})" if item.units is not None else ""
        piece = f"{item.key} = {item.format_value()}{units}"
        if not max_length or line_length + len(piece) < max_length or line_length == 0:
            text += ("; " if text else "") + piece
            line_length += len(piece) + 2
        else:
            text += "\n" + piece
            line_length = len(piece)
    return text


def values_for_print(
    values: Mapping[str, Any], keys: Iterable[str], *, missing: str = "raise"
) -> list[ValueForPrint]:
    """Look up each ``"key,unit,fmt"`` of `keys` in `values`.

    `missing`: ``"raise"`` (KeyError) or ``"warn"`` (log a warning and skip the key).
    """
    if isinstance(keys, str) or not isinstance(keys, Iterable):
        raise ValueError(f"Keys must be a list of strings, got {keys!r}")
    if missing not in ("raise", "warn"):
        raise ValueError(f"missing must be 'raise' or 'warn', got {missing!r}")
    result = []
    for raw_key in keys:
        key, units, fmt = parse_key_format(raw_key)
        if key in values:
            result.append(ValueForPrint(key, values[key], units, fmt))
        elif missing == "raise":
            raise KeyError(f"Cannot find key {key!r} (from {raw_key!r}) for the title")
        else:
            logger.warning("key %s not found and cannot be parsed", key)
    return result


def format_title(
    values: Mapping[str, Any] | Iterable[ValueForPrint],
    keys: Iterable[str] | int | None = None,
    max_length: int | None = None,
    *,
    missing: str = "raise",
) -> str:
    """Title of the ``"key,unit,fmt"`` `keys` looked up in `values` (see `values_for_print`).

    labmate's form, a list of `ValueForPrint` (and `max_length`), works too.

    >>> format_title({"freq": 1.5e9, "n": 101}, ["freq,Hz,.2p", "n"])
    'freq = 1.5e9 (Hz); n = 101'
    >>> format_title([ValueForPrint("n", 101, "pts")], 40)
    'n = 101 (pts)'
    """
    if not isinstance(values, Mapping):
        if isinstance(keys, int) and not isinstance(keys, bool) and max_length is None:
            keys, max_length = None, keys  # labmate: format_title(values, max_length)
        if keys is not None:
            raise TypeError(
                "format_title(values, keys): keys go with a mapping of values; a list of "
                "ValueForPrint is given alone (format_title(items, max_length))"
            )
        return format_values(values, max_length=max_length)
    if keys is None or isinstance(keys, int):
        raise TypeError("format_title(values, keys): give the keys to show, e.g. ['freq,Hz']")
    return format_values(values_for_print(values, keys, missing=missing), max_length=max_length)
