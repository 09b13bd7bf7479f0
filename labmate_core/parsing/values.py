"""Conversion of config values: text -> number, and `ParsedValue` (text + number)."""

from __future__ import annotations

import math
import operator
import re
from typing import Any

import numpy as np

_DEC = r"(?:\d(?:_?\d)*)"
_FLOAT = rf"(?:{_DEC}\.(?:{_DEC})?|\.{_DEC}|{_DEC})(?:[eE][+-]?{_DEC})?"
_INT_RE = re.compile(rf"[+-]?{_DEC}")
_PREFIXED_INT_RE = re.compile(r"[+-]?0(?:[xX](?:_?[0-9a-fA-F])+|[oO](?:_?[0-7])+|[bB](?:_?[01])+)")
_FLOAT_RE = re.compile(rf"[+-]?{_FLOAT}")
_COMPLEX_RE = re.compile(rf"\(?\s*(?:[+-]?{_FLOAT}\s*[+-]\s*)?{_FLOAT}[jJ]\s*\)?|[+-]?{_FLOAT}[jJ]")

Number = int | float | complex


def parse_value(value: Any) -> Any:
    """Convert a number literal (``101``, ``-20``, ``1.5e9``, ``1_000``, ``0x1F``, ``1+2j``) to a number.

    Anything else, including quoted strings (``"'qubit'"``) and expressions, is returned unchanged.
    Non-str input is returned unchanged.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if _INT_RE.fullmatch(text):
            return int(text)
        if _PREFIXED_INT_RE.fullmatch(text):
            return int(text, 0)
        if _FLOAT_RE.fullmatch(text):
            return float(text)
        if _COMPLEX_RE.fullmatch(text):
            return complex(text.replace(" ", ""))
    except ValueError:  # pragma: no cover - the regexes only accept valid literals
        return value
    return value


def _unwrap(other: Any) -> Any:
    return other.value if isinstance(other, ParsedValue) else other


def _binary(op: Any) -> tuple[Any, Any]:
    def forward(self: ParsedValue, other: Any) -> Any:
        return op(self.value, _unwrap(other))

    def reflected(self: ParsedValue, other: Any) -> Any:
        return op(_unwrap(other), self.value)

    return forward, reflected


class ParsedValue:
    """A config value: the text written in the file (`original`) and its number (`value`).

    It behaves like `value` in arithmetic, comparisons, formatting, ``int()``/``float()``,
    ``round()``, ``bool()`` and numpy / matplotlib (``np.asarray``). When the text is not a
    number literal, `value` is the text itself (or the ``# value:`` annotation of the file).

    >>> v = ParsedValue("freq * 2", "3e9")
    >>> v.original, v.value, v / 1e9
    ('freq * 2', 3000000000.0, 3.0)
    """

    __slots__ = ("original", "value", "text")

    def __init__(self, original: Any, value: Any = None) -> None:
        """Store `original` and `value` (both converted by `parse_value`; `value` defaults to
        `original`). `text` keeps `original` exactly as given (``"1.5e9"``, not ``1500000000.0``).
        """
        self.text = original if isinstance(original, str) else repr(original)
        self.original = parse_value(original)
        self.value = parse_value(original if value is None else value)

    def unpack(self) -> tuple[Any, Any]:
        """Return ``(original, value)``."""
        return self.original, self.value

    @property
    def is_complex(self) -> bool:
        """True when the value is complex."""
        return isinstance(self.value, complex)

    @property
    def real(self) -> Any:
        """Real part of the value (the value itself when not complex)."""
        return self.value.real if isinstance(self.value, complex) else self.value

    @property
    def imag(self) -> Any:
        """Imaginary part of the value (0 when not complex)."""
        return self.value.imag if isinstance(self.value, complex) else 0

    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:
        return f"ParsedValue: {self.original}={self.value}"

    def __format__(self, format_spec: str) -> str:
        return format(self.value, format_spec)

    def __hash__(self) -> int:
        return hash(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __float__(self) -> float:
        return float(self.value)

    def __complex__(self) -> complex:
        return complex(self.value)

    def __index__(self) -> int:
        return operator.index(self.value)

    def __round__(self, ndigits: int | None = None) -> Any:
        return round(self.value, ndigits)

    def __trunc__(self) -> int:
        return math.trunc(self.value)

    def __floor__(self) -> int:
        return math.floor(self.value)

    def __ceil__(self) -> int:
        return math.ceil(self.value)

    def __abs__(self) -> Any:
        return abs(self.value)

    def __neg__(self) -> Any:
        return -self.value

    def __pos__(self) -> Any:
        return +self.value

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self.value, dtype=dtype)

    def __eq__(self, other: object) -> bool:
        return bool(self.value == _unwrap(other))

    def __ne__(self, other: object) -> bool:
        return bool(self.value != _unwrap(other))

    def __lt__(self, other: Any) -> Any:
        return self.value < _unwrap(other)

    def __le__(self, other: Any) -> Any:
        return self.value <= _unwrap(other)

    def __gt__(self, other: Any) -> Any:
        return self.value > _unwrap(other)

    def __ge__(self, other: Any) -> Any:
        return self.value >= _unwrap(other)

    __add__, __radd__ = _binary(operator.add)
    __sub__, __rsub__ = _binary(operator.sub)
    __mul__, __rmul__ = _binary(operator.mul)
    __truediv__, __rtruediv__ = _binary(operator.truediv)
    __floordiv__, __rfloordiv__ = _binary(operator.floordiv)
    __mod__, __rmod__ = _binary(operator.mod)
    __pow__, __rpow__ = _binary(operator.pow)
    __divmod__, __rdivmod__ = _binary(divmod)
